/**
 * One peer's channel state: queues, acks, resends, reassembly. Mirrors
 * `src/proto/channel/connection.rs`, byte for byte on the wire.
 *
 * Call order: {@link Connection.send} queues; {@link Connection.writePacket}
 * fills one payload (ack first, then unreliable messages, then reliable
 * units due) given the packet's number (the netcode sequence);
 * {@link Connection.readPacket} takes a received payload and its number;
 * {@link Connection.recv} yields released messages. `now` is in ms and must
 * not go backwards.
 *
 * @packageDocumentation
 */
import { Writer } from '../../wire/writer.js';
import { MAX_PAYLOAD_LEN } from '../../wire/constants.js';
import { emitFrameHeader, ENGINE_CHANNEL, frameHeaderLen, frames } from '../../wire/frame.js';
import {
  ACK_BODY_LEN,
  emitAck,
  emitFragment,
  emitMessage,
  emitMessagesHead,
  emitSequenced,
  FRAGMENT_HEAD_LEN,
  idAdd,
  messageLen,
  parseAck,
  parseReliable,
  parseSequenced,
  RELIABLE_HEAD_LEN,
  SEQUENCED_HEAD_LEN,
} from '../../wire/frameBody.js';
import type { WireError } from '../../wire/error.js';
import { Deque } from '../../util/deque.js';
import { err, ok, type Result } from '../../util/result.js';
import { Received, Rtt, Sent, type Acked, type UnitRef } from './ack.js';
import { ReliableRecv } from './reliableRecv.js';
import { ReliableSend } from './reliableSend.js';
import { MAX_UNRELIABLE_LEN } from './constants.js';
import type { ChannelTable } from './table.js';
import type { SendError } from './sendError.js';

/** Why a received payload was refused; its reliable part is not acked, so an honest peer resends it. */
export type ReadError =
  | { readonly kind: 'frame'; readonly error: WireError }
  | { readonly kind: 'unknownChannel'; readonly channel: number }
  | { readonly kind: 'ackOfUnsent' }
  | { readonly kind: 'outOfWindow' }
  | { readonly kind: 'badFragment' }
  | { readonly kind: 'overBudget' };

/** A message released to the application. */
export interface Message {
  /** The channel it came on. */
  readonly channel: number;
  /** Its bytes. */
  readonly bytes: Uint8Array;
}

/** Counters of one connection. */
export interface ConnectionStats {
  /** Smoothed RTT, ms. */
  rtt: number;
  /** Current resend timeout, ms. */
  resendTimeout: number;
  /** Payloads written. */
  packetsSent: number;
  /** Packets acked by the peer. */
  packetsAcked: number;
  /** Packets given up on. */
  packetsLost: number;
  /** Payloads refused. */
  packetsRefused: number;
  /** Reliable units sent again. */
  resends: number;
  /** Messages queued. */
  messagesSent: number;
  /** Messages released. */
  messagesReceived: number;
}

type Channel =
  | { readonly kind: 'unreliable' }
  | { readonly kind: 'sequenced'; nextSend: number; lastReceived: number | undefined }
  | { readonly kind: 'reliable'; readonly send: ReliableSend; readonly recv: ReliableRecv };

interface Queued {
  readonly channel: number;
  readonly sequence: number | undefined;
  readonly message: Uint8Array;
}

/** One peer's channels. See the module docs for the call order. */
export class Connection {
  private readonly channels: Channel[];
  private readonly unreliable = new Deque<Queued>();
  private unreliableBytes = 0;
  private readonly received = new Received();
  private readonly sent = new Sent();
  private readonly rtt = new Rtt();
  private readonly inbox = new Deque<Message>();
  private inboxBytes = 0;
  private readonly counters = {
    packetsSent: 0,
    packetsAcked: 0,
    packetsRefused: 0,
    messagesSent: 0,
    messagesReceived: 0,
  };

  /** A fresh connection with `table`'s channels. */
  constructor(readonly table: ChannelTable) {
    this.channels = table.channels.map((spec): Channel => {
      switch (spec.kind) {
        case 'unreliable':
          return { kind: 'unreliable' };
        case 'unreliableSequenced':
          return { kind: 'sequenced', nextSend: 0, lastReceived: undefined };
        case 'reliableOrdered':
        case 'reliableUnordered':
          return {
            kind: 'reliable',
            send: new ReliableSend(),
            recv: new ReliableRecv(spec.kind === 'reliableOrdered', table.maxMessageLen),
          };
      }
    });
  }

  /** Bytes queued or in flight and not yet acked. */
  queuedBytes(): number {
    let total = this.unreliableBytes;
    for (const c of this.channels) if (c.kind === 'reliable') total += c.send.bytes;
    return total;
  }

  /**
   * Queues `message` on `channel`: `unknownChannel`; `badLength` past
   * {@link MAX_UNRELIABLE_LEN} (unreliable) or the table's max message
   * (reliable); `queueFull` past the send budget or the reliable window.
   */
  send(channel: number, message: Uint8Array): Result<void, SendError> {
    const index = this.table.indexOf(channel);
    const state = index === undefined ? undefined : this.channels[index];
    if (index === undefined || state === undefined) return err({ kind: 'unknownChannel', channel });
    const queued = this.queuedBytes();
    const budget = this.table.sendBudget;
    const overBudget = queued + message.length > budget;
    if (state.kind === 'reliable') {
      if (message.length > this.table.maxMessageLen) {
        return err({ kind: 'badLength', len: message.length, max: this.table.maxMessageLen });
      }
      if (overBudget || !state.send.hasRoom()) return err({ kind: 'queueFull', queued, budget });
      state.send.push(message);
    } else {
      if (message.length > MAX_UNRELIABLE_LEN) {
        return err({ kind: 'badLength', len: message.length, max: MAX_UNRELIABLE_LEN });
      }
      if (overBudget) return err({ kind: 'queueFull', queued, budget });
      let sequence: number | undefined;
      if (state.kind === 'sequenced') {
        sequence = state.nextSend;
        state.nextSend = (state.nextSend + 1) & 0xffff;
      }
      this.unreliableBytes += message.length;
      this.unreliable.push({ channel, sequence, message: message.slice() });
    }
    this.counters.messagesSent += 1;
    return ok(undefined);
  }

  /** Whether {@link Connection.writePacket} has something to write now. */
  wantsToSend(now: number): boolean {
    const due = this.received.ackDue();
    if (due !== undefined && due <= now) return true;
    if (this.unreliable.length > 0) return true;
    const rto = this.rtt.resendTimeout();
    return this.channels.some((c) => c.kind === 'reliable' && c.send.hasDue(now, rto));
  }

  /** When something next falls due without new input: a resend or an owed ack. */
  pollTimeout(): number | undefined {
    const rto = this.rtt.resendTimeout();
    let next = this.received.ackDue();
    for (const c of this.channels) {
      if (c.kind !== 'reliable') continue;
      const at = c.send.nextResend(rto);
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  /** Whether nothing is queued, in flight or owed. */
  isIdle(): boolean {
    return (
      !this.received.isAckOwed() &&
      this.unreliable.length === 0 &&
      this.channels.every((c) => c.kind !== 'reliable' || c.send.isIdle())
    );
  }

  /**
   * Writes one payload (at most 1200 bytes) as packet `number`: an ack,
   * queued unreliable messages, then reliable units due, as many as fit.
   * Returns the payload, or undefined when there is nothing to send.
   * Packet numbers must increase from call to call.
   */
  writePacket(now: number, number: number): Uint8Array | undefined {
    const w = new Writer(new Uint8Array(MAX_PAYLOAD_LEN));
    const ackDueAt = this.received.ackDue();
    const ackDue = ackDueAt !== undefined && ackDueAt <= now;
    const ack = this.received.ack();
    for (const older of this.received.olderAcks()) {
      emitFrameHeader(ENGINE_CHANNEL, ACK_BODY_LEN, w);
      emitAck(older, w);
    }
    if (ack !== undefined) {
      emitFrameHeader(ENGINE_CHANNEL, ACK_BODY_LEN, w);
      emitAck(ack, w);
    }
    const afterAck = w.length;
    this.writeUnreliable(w);
    const units: UnitRef[] = [];
    this.writeReliable(now, w, units);
    const written = w.length !== afterAck || ackDue;
    if (!written || w.error) return undefined;
    this.received.acked();
    this.counters.packetsSent += 1;
    this.sent.record(number, now, units);
    this.resendLost();
    return w.written();
  }

  private writeUnreliable(w: Writer): void {
    for (;;) {
      const queued = this.unreliable.front();
      if (queued === undefined) return;
      const bodyLen = queued.message.length + (queued.sequence === undefined ? 0 : SEQUENCED_HEAD_LEN);
      if (frameHeaderLen(bodyLen) + bodyLen > w.remaining) return;
      emitFrameHeader(queued.channel, bodyLen, w);
      if (queued.sequence === undefined) w.bytes(queued.message);
      else emitSequenced({ sequence: queued.sequence, message: queued.message }, w);
      this.unreliableBytes -= queued.message.length;
      this.unreliable.shift();
    }
  }

  private writeReliable(now: number, w: Writer, units: UnitRef[]): void {
    const rto = this.rtt.resendTimeout();
    for (let index = 0; index < this.channels.length; index++) {
      const channel = this.channels[index];
      const spec = this.table.channels[index];
      if (channel?.kind !== 'reliable' || spec === undefined) continue;
      const first = units.length;
      const full = writeUnits(channel.send, index, spec.id, now, rto, w, units);
      for (let i = first; i < units.length; i++) {
        const unit = units[i];
        if (unit !== undefined) channel.send.markSent(unit.serial, now);
      }
      if (full) return;
    }
  }

  /**
   * Takes the payload of packet `number`: acks, and messages released to
   * {@link Connection.recv}. On an error, frames before the bad one were
   * taken and the packet is not acked.
   */
  readPacket(now: number, number: number, payload: Uint8Array): Result<void, ReadError> {
    const result = this.readFrames(now, payload);
    if (result.ok) this.received.record(number, result.value, now);
    else this.counters.packetsRefused += 1;
    return result.ok ? ok(undefined) : result;
  }

  private readFrames(now: number, payload: Uint8Array): Result<boolean, ReadError> {
    const budget = this.table.sendBudget * 2;
    let eliciting = false;
    const deliverTo = (channel: number) => (bytes: Uint8Array) => {
      this.counters.messagesReceived += 1;
      this.inbox.push({ channel, bytes: bytes.slice() });
      this.inboxBytes += bytes.length;
    };
    for (const parsed of frames(payload)) {
      if (!parsed.ok) return err({ kind: 'frame', error: parsed.error });
      const frame = parsed.value;
      if (frame.channel === ENGINE_CHANNEL) {
        const ack = parseAck(frame.body);
        if (!ack.ok) return err({ kind: 'frame', error: ack.error });
        const handled = this.handleAck(ack.value, now);
        if (!handled.ok) return handled;
        continue;
      }
      const index = this.table.indexOf(frame.channel);
      const state = index === undefined ? undefined : this.channels[index];
      if (state === undefined) return err({ kind: 'unknownChannel', channel: frame.channel });
      let heldReliable = 0;
      for (const c of this.channels) if (c.kind === 'reliable') heldReliable += c.recv.heldBytes();
      const room = Math.max(0, budget - (this.inboxBytes + heldReliable));
      if (frame.body.length > room) return err({ kind: 'overBudget' });
      const deliver = deliverTo(frame.channel);
      if (state.kind === 'unreliable') {
        deliver(frame.body);
      } else if (state.kind === 'sequenced') {
        const body = parseSequenced(frame.body);
        if (!body.ok) return err({ kind: 'frame', error: body.error });
        const diff = (body.value.sequence - (state.lastReceived ?? 0)) & 0xffff;
        const newer = state.lastReceived === undefined || (diff !== 0 && diff < 0x8000);
        if (newer) {
          state.lastReceived = body.value.sequence;
          deliver(body.value.message);
        }
      } else {
        eliciting = true;
        const body = parseReliable(frame.body);
        if (!body.ok) {
          const partial = body.error.partial;
          if (partial !== undefined) {
            for (let i = 0; i < partial.messages.length; i++) {
              const m = partial.messages[i];
              if (m === undefined) continue;
              const taken = state.recv.message(idAdd(partial.first, i), m, deliver);
              if (typeof taken === 'string') return err({ kind: taken });
            }
          }
          const { partial: _partial, ...error } = body.error;
          return err({ kind: 'frame', error: error as WireError });
        }
        if (body.value.type === 'messages') {
          const { first, messages } = body.value;
          for (let i = 0; i < messages.length; i++) {
            const m = messages[i];
            if (m === undefined) continue;
            const taken = state.recv.message(idAdd(first, i), m, deliver);
            if (typeof taken === 'string') return err({ kind: taken });
          }
        } else {
          const taken = state.recv.fragment(body.value.fragment, deliver);
          if (typeof taken === 'string') return err({ kind: taken });
        }
      }
    }
    return ok(eliciting);
  }

  private handleAck(ack: { largest: number; bits: number }, now: number): Result<void, ReadError> {
    const acked: Acked = { units: [], packets: 0 };
    const sample = this.sent.handleAck(ack, now, acked);
    if (sample === undefined) return err({ kind: 'ackOfUnsent' });
    if (sample !== null) this.rtt.sample(sample);
    this.counters.packetsAcked += acked.packets;
    for (const unit of acked.units) {
      const channel = this.channels[unit.channel];
      if (channel?.kind === 'reliable') channel.send.ack(unit.serial);
    }
    this.resendLost();
    return ok(undefined);
  }

  /** Queues for resending at once the units of packets given up on. */
  private resendLost(): void {
    this.sent.takeLost((unit) => {
      const channel = this.channels[unit.channel];
      if (channel?.kind === 'reliable') channel.send.lost(unit.serial);
    });
  }

  /** The next released message, oldest first. */
  recv(): Message | undefined {
    const message = this.inbox.shift();
    if (message !== undefined) this.inboxBytes -= message.bytes.length;
    return message;
  }

  /** A snapshot of the counters and estimates. */
  stats(): ConnectionStats {
    let resends = 0;
    for (const c of this.channels) if (c.kind === 'reliable') resends += c.send.resends;
    return {
      ...this.counters,
      rtt: this.rtt.smoothed(),
      resendTimeout: this.rtt.resendTimeout(),
      packetsLost: this.sent.lost,
      resends,
    };
  }
}

/** Writes `send`'s due units into `w` while they fit, noting each in `units`; true when the packet filled up. */
function writeUnits(
  send: ReliableSend,
  index: number,
  channel: number,
  now: number,
  rto: number,
  w: Writer,
  units: UnitRef[],
): boolean {
  const due = send.due(now, rto);
  let peeked = due.next();
  while (!peeked.done) {
    const [serial, unit] = peeked.value;
    peeked = due.next();
    if (unit.fragment !== undefined) {
      const bodyLen = FRAGMENT_HEAD_LEN + unit.bytes.length;
      if (frameHeaderLen(bodyLen) + bodyLen > w.remaining) return true;
      emitFrameHeader(channel, bodyLen, w);
      emitFragment({ id: unit.id, index: unit.fragment[0], count: unit.fragment[1], data: unit.bytes }, w);
      units.push({ channel: index, serial });
      continue;
    }
    // A run of whole messages with consecutive ids shares one frame.
    let bodyLen = RELIABLE_HEAD_LEN + messageLen(unit.bytes.length);
    if (frameHeaderLen(bodyLen) + bodyLen > w.remaining) return true;
    const run = [unit.bytes];
    units.push({ channel: index, serial });
    let lastId = unit.id;
    while (!peeked.done) {
      const [nextSerial, next] = peeked.value;
      const grown = bodyLen + messageLen(next.bytes.length);
      if (next.fragment !== undefined || next.id !== idAdd(lastId, 1) || frameHeaderLen(grown) + grown > w.remaining) {
        break;
      }
      bodyLen = grown;
      lastId = next.id;
      units.push({ channel: index, serial: nextSerial });
      run.push(next.bytes);
      peeked = due.next();
    }
    emitFrameHeader(channel, bodyLen, w);
    emitMessagesHead(unit.id, w);
    for (const bytes of run) emitMessage(bytes, w);
  }
  return false;
}
