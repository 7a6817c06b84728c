/**
 * Acks: which packets we received (to tell the peer), which we sent and
 * what they carried (to learn what arrived), and the RTT that follows.
 * Mirrors `src/proto/channel/ack.rs`.
 *
 * @packageDocumentation
 */
import type { Ack } from '../../wire/frameBody.js';
import { Deque } from '../../util/deque.js';
import { ACK_DELAY_MS, ACK_SPAN, INITIAL_RTO_MS, MAX_OLDER_ACKS, MAX_RTO_MS, MAX_SENT_RECORDS, MIN_RTO_MS } from './constants.js';

const TWO_32 = 0x1_0000_0000;

/** The packets received from the peer, for the acks we send. */
export class Received {
  private largest: number | undefined;
  private bits = 0;
  /** When the oldest packet with reliable data not yet acked arrived. */
  private owedSince: number | undefined;
  /** The oldest packet with reliable data received since the last ack went out. */
  private unackedFrom: number | undefined;
  /**
   * Acks of packets with reliable data that the newest ack no longer reaches
   * (more than 33 arrived since the last ack went out), oldest first:
   * written before it, so a burst is acked whole.
   */
  private older: Ack[] = [];

  /** Notes packet `number` as received at `now`; an ack is owed if it carried reliable data. */
  record(number: number, eliciting: boolean, now: number): void {
    if (eliciting && this.owedSince === undefined) this.owedSince = now;
    if (this.largest === undefined) {
      this.largest = number;
      if (eliciting) this.unackedFrom = number;
      return;
    }
    if (number > this.largest) {
      // The newest ack will reach back to `number - 32`: keep one for what
      // it leaves behind unacked.
      const reach = Math.max(0, number - (ACK_SPAN - 1));
      if (this.unackedFrom !== undefined && this.unackedFrom < reach) {
        if (this.older.length === MAX_OLDER_ACKS) this.older.shift();
        this.older.push({ largest: this.largest % TWO_32, bits: this.bits });
        this.unackedFrom = undefined;
      }
    }
    if (eliciting && number + ACK_SPAN > this.largest) {
      this.unackedFrom = this.unackedFrom === undefined ? number : Math.min(this.unackedFrom, number);
    }
    if (number > this.largest) {
      const shift = number - this.largest;
      this.bits = shift >= 32 ? 0 : ((this.bits << shift) | (1 << (shift - 1))) >>> 0;
      this.largest = number;
    } else if (number < this.largest && this.largest - number <= 32) {
      this.bits = (this.bits | (1 << (this.largest - number - 1))) >>> 0;
    }
  }

  /** Whether reliable data arrived since the last ack sent. */
  isAckOwed(): boolean {
    return this.owedSince !== undefined;
  }

  /** When the owed ack must go, alone if nothing else does. */
  ackDue(): number | undefined {
    return this.owedSince === undefined ? undefined : this.owedSince + ACK_DELAY_MS;
  }

  /** Notes that an ack went out. */
  acked(): void {
    this.owedSince = undefined;
    this.unackedFrom = undefined;
    this.older = [];
  }

  /** Acks of packets the newest ack no longer reaches, oldest first: written before it. */
  olderAcks(): readonly Ack[] {
    return this.older;
  }

  /** The ack to send, if anything was ever received. */
  ack(): Ack | undefined {
    if (this.largest === undefined) return undefined;
    return { largest: this.largest % TWO_32, bits: this.bits };
  }
}

/** A unit of reliable data sent in a packet: its channel index and serial in that channel's queue. */
export interface UnitRef {
  /** Index of the channel in the table. */
  readonly channel: number;
  /** Serial number in the channel's send queue. */
  readonly serial: number;
}

interface SentRecord {
  readonly number: number;
  readonly sentAt: number;
  readonly units: readonly UnitRef[];
  acked: boolean;
}

/** What the acks of one incoming packet acknowledged. */
export interface Acked {
  /** Units carried by newly acked packets. */
  units: UnitRef[];
  /** Packets newly acked. */
  packets: number;
}

/** Packets sent and not yet acked or given up on, oldest first. */
export class Sent {
  private readonly records = new Deque<SentRecord>();
  private lostUnits: UnitRef[] = [];
  private largestSent: number | undefined;
  /** Packets given up on unacked. */
  lost = 0;

  /** Records packet `number`, sent at `now` with `units`. */
  record(number: number, now: number, units: readonly UnitRef[]): void {
    this.largestSent = this.largestSent === undefined ? number : Math.max(this.largestSent, number);
    if (this.records.length >= MAX_SENT_RECORDS) this.retireFront();
    this.records.push({ number, sentAt: now, units, acked: false });
  }

  /**
   * Marks what `ack` covers as acked; their units go into `into`. Returns
   * an RTT sample when the ack's largest was newly acked, `null` when not,
   * and `undefined` when the ack names a packet never sent (refused).
   */
  handleAck(ack: Ack, now: number, into: Acked): number | null | undefined {
    if (this.largestSent === undefined) return undefined;
    let largest = Math.floor(this.largestSent / TWO_32) * TWO_32 + ack.largest;
    if (largest > this.largestSent) {
      largest -= TWO_32;
      if (largest < 0) return undefined;
    }
    let sample: number | null = null;
    const oldest = Math.max(0, largest - (ACK_SPAN - 1));
    // Records rise by number: find the last at or below `largest`, walk back.
    let lo = 0;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.records.get(mid)?.number ?? Infinity) <= largest) lo = mid + 1;
      else hi = mid;
    }
    for (let at = lo - 1; at >= 0; at--) {
      const record = this.records.get(at);
      if (record === undefined || record.number < oldest) break;
      const offset = largest - record.number;
      const covered = offset === 0 || ((ack.bits >>> (offset - 1)) & 1) === 1;
      if (!covered || record.acked) continue;
      record.acked = true;
      into.packets += 1;
      if (offset === 0) sample = Math.max(0, now - record.sentAt);
      for (const unit of record.units) into.units.push(unit);
    }
    // Records older than the ack's reach can never be acked now.
    const horizon = Math.max(0, largest - ACK_SPAN);
    for (;;) {
      const front = this.records.front();
      if (front === undefined || !(front.acked || front.number < horizon)) break;
      this.retireFront();
    }
    return sample;
  }

  /** Units of packets given up on since the last call, for `each`. */
  takeLost(each: (unit: UnitRef) => void): void {
    const lost = this.lostUnits;
    this.lostUnits = [];
    for (const unit of lost) each(unit);
  }

  /** Packets in flight (sent, not acked, not given up on). */
  inFlight(): number {
    let n = 0;
    for (const r of this.records) if (!r.acked) n++;
    return n;
  }

  private retireFront(): void {
    const record = this.records.shift();
    if (record !== undefined && !record.acked) {
      this.lost += 1;
      for (const unit of record.units) this.lostUnits.push(unit);
    }
  }
}

/** Smoothed RTT and the resend timeout (RFC 6298's estimator), in ms. */
export class Rtt {
  private smoothedMs: number | undefined;
  private varianceMs = 0;
  private rtoMs = INITIAL_RTO_MS;

  /** Takes one RTT sample. */
  sample(rtt: number): void {
    if (this.smoothedMs === undefined) {
      this.smoothedMs = rtt;
      this.varianceMs = rtt / 2;
    } else {
      const delta = Math.abs(this.smoothedMs - rtt);
      this.varianceMs = (this.varianceMs * 3 + delta) / 4;
      this.smoothedMs = (this.smoothedMs * 7 + rtt) / 8;
    }
    // The peer may hold its ack for ACK_DELAY, or every delayed ack would look like a loss.
    const rto = this.smoothedMs + 4 * this.varianceMs + ACK_DELAY_MS;
    this.rtoMs = Math.min(MAX_RTO_MS, Math.max(MIN_RTO_MS, rto));
  }

  /** The smoothed RTT; 0 before the first sample. */
  smoothed(): number {
    return this.smoothedMs ?? 0;
  }

  /** How long to wait for an ack before resending. */
  resendTimeout(): number {
    return this.rtoMs;
  }
}
