/**
 * The send half of a reliable channel: messages cut into units (a whole
 * message, or one fragment), each resent until a packet carrying it is
 * acked. Mirrors `src/proto/channel/reliable_send.rs`.
 *
 * @packageDocumentation
 */
import { Deque } from '../../util/deque.js';
import { idAdd, idSince } from '../../wire/frameBody.js';
import { FRAGMENT_LEN, RELIABLE_WINDOW } from './constants.js';

/** A whole message, or one fragment of a large one. */
export interface Unit {
  /** The message id, 15 bits. */
  readonly id: number;
  /** `[index, count]` for a fragment. */
  readonly fragment: readonly [number, number] | undefined;
  /** Its bytes. */
  readonly bytes: Uint8Array;
  /** When it last went out; undefined: never, or due again now. */
  lastSent: number | undefined;
  /** Whether a packet carrying it was acked. */
  acked: boolean;
}

/** Units waiting for their acks, in id order. */
export class ReliableSend {
  private nextId = 0;
  private readonly units = new Deque<Unit>();
  /** Serial number of the front unit; serials count units ever queued. */
  private firstSerial = 0;
  /** Units before this index have been sent at least once. */
  private unsent = 0;
  /** `[sentAt, serial]` per send, oldest first: the resend queue (stale entries skipped). */
  private readonly sends = new Deque<readonly [number, number]>();
  /** Serials of units whose packet was given up on: due now. */
  private readonly resendNow = new Deque<number>();
  /** Bytes of the units held. */
  bytes = 0;
  /** Units sent again. */
  resends = 0;

  /** Whether another message may be queued under the id window. */
  hasRoom(): boolean {
    const oldest = this.units.front()?.id ?? this.nextId;
    return idSince(this.nextId, oldest) < RELIABLE_WINDOW;
  }

  /** Queues `message` as one unit, or as fragments of {@link FRAGMENT_LEN}. */
  push(message: Uint8Array): void {
    const id = this.nextId;
    this.nextId = idAdd(id, 1);
    this.bytes += message.length;
    const copy = message.slice();
    if (copy.length <= FRAGMENT_LEN) {
      this.units.push({ id, fragment: undefined, bytes: copy, lastSent: undefined, acked: false });
      return;
    }
    const count = Math.ceil(copy.length / FRAGMENT_LEN);
    for (let index = 0; index < count; index++) {
      const chunk = copy.subarray(index * FRAGMENT_LEN, Math.min(copy.length, (index + 1) * FRAGMENT_LEN));
      this.units.push({ id, fragment: [index, count], bytes: chunk, lastSent: undefined, acked: false });
    }
  }

  /** The unit with serial `serial`, if still held. */
  unit(serial: number): Unit | undefined {
    return this.units.get(serial - this.firstSerial);
  }

  /** Marks unit `serial` acked and drops acked units from the front. */
  ack(serial: number): void {
    const unit = this.unit(serial);
    if (unit === undefined || unit.acked) return;
    unit.acked = true;
    this.bytes = Math.max(0, this.bytes - unit.bytes.length);
    while (this.units.front()?.acked === true) {
      this.units.shift();
      this.firstSerial += 1;
      this.unsent = Math.max(0, this.unsent - 1);
    }
    this.tidy();
  }

  /** The packet that last carried unit `serial` was given up on: unless acked, it is due now. */
  lost(serial: number): void {
    const unit = this.unit(serial);
    if (unit === undefined || unit.acked || unit.lastSent === undefined) return;
    unit.lastSent = undefined;
    this.resendNow.push(serial);
    this.tidy();
  }

  /**
   * Units due now, with their serials: those given up on, each unacked unit
   * sent `rto` or more ago (oldest send first), then the never-sent ones.
   */
  *due(now: number, rto: number): Generator<readonly [number, Unit]> {
    for (const serial of this.resendNow) {
      const unit = this.unit(serial);
      if (unit !== undefined && !unit.acked && unit.lastSent === undefined) yield [serial, unit];
    }
    const cutoff = now - rto;
    for (const [at, serial] of this.sends) {
      if (at > cutoff) break;
      const unit = this.unit(serial);
      if (unit !== undefined && !unit.acked && unit.lastSent === at) yield [serial, unit];
    }
    let serial = this.firstSerial + this.unsent;
    for (const unit of this.units.from(this.unsent)) {
      yield [serial, unit];
      serial += 1;
    }
  }

  /** Notes that unit `serial` went out at `now`. */
  markSent(serial: number, now: number): void {
    const i = serial - this.firstSerial;
    const unit = this.units.get(i);
    if (unit === undefined) return;
    if (i < this.unsent) this.resends += 1;
    unit.lastSent = now;
    if (i >= this.unsent) this.unsent = i + 1;
    this.sends.push([now, serial]);
    this.tidy();
  }

  /** Whether a unit is due now. */
  hasDue(now: number, rto: number): boolean {
    if (this.resendNow.length > 0 || this.unsent < this.units.length) return true;
    const next = this.nextResend(rto);
    return next !== undefined && next <= now;
  }

  /** When the earliest sent, unacked unit falls due. */
  nextResend(rto: number): number | undefined {
    const front = this.sends.front();
    return front === undefined ? undefined : front[0] + rto;
  }

  /** Whether nothing waits for an ack or to be sent. */
  isIdle(): boolean {
    return this.units.length === 0;
  }

  private isLive(at: number, serial: number): boolean {
    const unit = this.unit(serial);
    return unit !== undefined && !unit.acked && unit.lastSent === at;
  }

  /** Drops stale entries from the fronts of the resend queues. */
  private tidy(): void {
    for (;;) {
      const front = this.sends.front();
      if (front === undefined || this.isLive(front[0], front[1])) break;
      this.sends.shift();
    }
    for (;;) {
      const serial = this.resendNow.front();
      if (serial === undefined) break;
      const unit = this.unit(serial);
      if (unit !== undefined && !unit.acked && unit.lastSent === undefined) break;
      this.resendNow.shift();
    }
  }
}
