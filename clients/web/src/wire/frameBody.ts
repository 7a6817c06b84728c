/**
 * Frame bodies, by channel kind (`docs/wire.md`, "Bodies").
 *
 * | kind | body |
 * |---|---|
 * | engine (channel 0) | `kind: u8`; kind 0 = ack: `largest: u32`, `bits: u32` |
 * | unreliable | the message |
 * | unreliable-sequenced | `sequence: u16`, the message |
 * | reliable, whole messages | `head: u16` (bit 15 clear: first id), per message `len: varint`, bytes |
 * | reliable, one fragment | `head: u16` (bit 15 set, message id), `index: u16`, `count: u16`, bytes |
 *
 * @packageDocumentation
 */
import { Reader } from './reader.js';
import type { Writer } from './writer.js';
import type { WireError } from './error.js';
import { emitVarint, parseVarint, varintLen } from './frame.js';
import { err, ok, type Result } from '../util/result.js';

/** Engine frame kind of an ack. */
export const ACK_KIND = 0;
/** Bytes of an ack body. */
export const ACK_BODY_LEN = 9;
/** Bytes of a reliable whole-messages head. */
export const RELIABLE_HEAD_LEN = 2;
/** Bytes of a fragment head: head, index, count. */
export const FRAGMENT_HEAD_LEN = 6;
/** Bytes of a sequenced head. */
export const SEQUENCED_HEAD_LEN = 2;
/** The reliable head's fragment flag. */
export const FRAGMENT_FLAG = 0x8000;
/** Reliable message ids wrap at this many (15 bits). */
export const MESSAGE_ID_SPACE = 0x8000;

/** The id `n` after `id`, wrapping at 15 bits. */
export function idAdd(id: number, n: number): number {
  return (id + n) & 0x7fff;
}

/** How far `id` is ahead of `base`, modulo the 15-bit id space. */
export function idSince(id: number, base: number): number {
  return (id - base) & 0x7fff;
}

/** An ack: the low 32 bits of the largest packet received, and a bitmap of the 32 before it. */
export interface Ack {
  /** Low 32 bits of the largest packet number received. */
  readonly largest: number;
  /** Bit i: packet `largest - 1 - i` arrived. */
  readonly bits: number;
}

/** Reads an engine frame's body: kind 0 and exactly 8 more bytes. */
export function parseAck(body: Uint8Array): Result<Ack, WireError> {
  const r = new Reader(body);
  const kind = r.u8();
  if (r.error) return err(r.error);
  if (kind !== ACK_KIND) return err({ kind: 'badFrameKind', value: kind });
  const largest = r.u32();
  const bits = r.u32();
  if (r.error) return err(r.error);
  if (r.remaining !== 0) return err({ kind: 'badLength', len: body.length });
  return ok({ largest, bits });
}

/** Writes an ack body (9 bytes). */
export function emitAck(ack: Ack, w: Writer): void {
  w.u8(ACK_KIND);
  w.u32(ack.largest >>> 0);
  w.u32(ack.bits >>> 0);
}

/** An unreliable-sequenced body. */
export interface SequencedBody {
  /** Per-channel sequence, wrapping at 2^16. */
  readonly sequence: number;
  /** The message. */
  readonly message: Uint8Array;
}

/** Reads a sequenced body. */
export function parseSequenced(body: Uint8Array): Result<SequencedBody, WireError> {
  const r = new Reader(body);
  const sequence = r.u16();
  if (r.error) return err(r.error);
  return ok({ sequence, message: r.rest() });
}

/** Writes a sequenced body. */
export function emitSequenced(body: SequencedBody, w: Writer): void {
  w.u16(body.sequence);
  w.bytes(body.message);
}

/** One fragment of a reliable message. */
export interface FragmentBody {
  /** The message id, 15 bits. */
  readonly id: number;
  /** Its place, below `count`. */
  readonly index: number;
  /** Fragments of the message, at least 2. */
  readonly count: number;
  /** Its bytes, at least one. */
  readonly data: Uint8Array;
}

/** A reliable channel's body: a run of whole messages, or one fragment. */
export type ReliableBody =
  | { readonly type: 'messages'; readonly first: number; readonly messages: Uint8Array[] }
  | { readonly type: 'fragment'; readonly fragment: FragmentBody };

/**
 * Reads a reliable body. A whole-messages body needs at least one message
 * byte after the head; a fragment needs count ≥ 2, index < count and data.
 * The messages of a run are read eagerly: a bad length anywhere is an error
 * for the whole body, and the messages before it are returned in `partial`
 * with the error so the caller can take them as the Rust side does.
 */
export function parseReliable(
  body: Uint8Array,
): Result<ReliableBody, ReliableParseError> {
  const r = new Reader(body);
  const head = r.u16();
  if (r.error) return err(r.error);
  const id = head & 0x7fff;
  if ((head & FRAGMENT_FLAG) === 0) {
    if (r.remaining === 0) return err({ kind: 'truncated', needed: 1, remaining: 0 });
    const messages: Uint8Array[] = [];
    while (r.remaining > 0) {
      const len = parseVarint(r);
      if (!len.ok) return err(withPartial(len.error, id, messages));
      const bytes = r.bytesView(len.value);
      const short: WireError | undefined = r.error;
      if (short) return err(withPartial(short, id, messages));
      messages.push(bytes);
    }
    return ok({ type: 'messages', first: id, messages });
  }
  const index = r.u16();
  const count = r.u16();
  if (r.error) return err(r.error);
  const data = r.rest();
  if (count < 2 || index >= count || data.length === 0) return err({ kind: 'badFragment', index, count });
  return ok({ type: 'fragment', fragment: { id, index, count, data } });
}

/** A reliable body's parse error with the messages read before it. */
export type ReliableParseError = WireError & { readonly partial?: { first: number; messages: Uint8Array[] } };

function withPartial(error: WireError, first: number, messages: Uint8Array[]): ReliableParseError {
  return Object.assign({}, error, { partial: { first, messages } });
}

/** Writes the head of a whole-messages body; each message follows through {@link emitMessage}. */
export function emitMessagesHead(first: number, w: Writer): void {
  w.u16(first & 0x7fff);
}

/** Writes one message of a run: its varint length, then its bytes. */
export function emitMessage(message: Uint8Array, w: Writer): Result<void, WireError> {
  const len = emitVarint(message.length, w);
  if (!len.ok) return len;
  w.bytes(message);
  return w.error ? err(w.error) : ok(undefined);
}

/** Bytes {@link emitMessage} writes for a message of `len` bytes. */
export function messageLen(len: number): number {
  return varintLen(len) + len;
}

/** Writes a fragment body, refusing the shapes {@link parseReliable} refuses. */
export function emitFragment(fragment: FragmentBody, w: Writer): Result<void, WireError> {
  const { id, index, count, data } = fragment;
  if (count < 2 || index >= count || data.length === 0 || count > 0xffff) {
    return err({ kind: 'badFragment', index, count });
  }
  w.u16((id & 0x7fff) | FRAGMENT_FLAG);
  w.u16(index);
  w.u16(count);
  w.bytes(data);
  return w.error ? err(w.error) : ok(undefined);
}
