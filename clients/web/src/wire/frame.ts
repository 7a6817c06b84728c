/**
 * Channel frames (`docs/wire.md`, "Channel frames"): a payload's plaintext
 * is a run of frames, back to back.
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 3 | channel id, LE, 24 bits |
 * | 3 | 1 or 2 | body length as a varint |
 * | 4 or 5 | n | body |
 *
 * Varint: below 128 one byte; up to 16383 two bytes, `0x80 | (v & 0x7f)`
 * then `v >> 7` (1..=127). Each value has one encoding.
 *
 * @packageDocumentation
 */
import { Reader } from './reader.js';
import type { Writer } from './writer.js';
import type { WireError } from './error.js';
import { err, ok, type Result } from '../util/result.js';

/** Bytes of a channel id. */
export const CHANNEL_ID_LEN = 3;
/** Largest varint: 14 bits. */
export const MAX_VARINT = (1 << 14) - 1;
/** Most bytes of a frame header. */
export const MAX_FRAME_HEADER_LEN = CHANNEL_ID_LEN + 2;
/** The engine's channel (acks). */
export const ENGINE_CHANNEL = 0;
/** First id of the block reserved for protocols layered on channels. */
export const RESERVED_FIRST = 0xff0000;
/** Largest channel id. */
export const MAX_CHANNEL_ID = 0xffffff;

/** Bytes {@link emitVarint} writes for `value`. */
export function varintLen(value: number): number {
  return value < 0x80 ? 1 : 2;
}

/** Writes a varint; `badLength` above {@link MAX_VARINT} or for a non-integer. */
export function emitVarint(value: number, w: Writer): Result<void, WireError> {
  if (!Number.isInteger(value) || value < 0 || value > MAX_VARINT) return err({ kind: 'badLength', len: value });
  if (value < 0x80) w.u8(value);
  else {
    w.u8(0x80 | (value & 0x7f));
    w.u8(value >> 7);
  }
  return w.error ? err(w.error) : ok(undefined);
}

/** Reads a varint; `badVarint` for a second byte of 0 or with its top bit set. */
export function parseVarint(r: Reader): Result<number, WireError> {
  const first = r.u8();
  if (r.error) return err(r.error);
  if (first < 0x80) return ok(first);
  const second = r.u8();
  if (r.error) return err(r.error);
  if (second >= 0x80 || second === 0) return err({ kind: 'badVarint' });
  return ok((first & 0x7f) | (second << 7));
}

/** One frame: its channel and body (a view into the packet). */
export interface Frame {
  /** The channel id, 24 bits. */
  readonly channel: number;
  /** The body, laid out by the channel's kind. */
  readonly body: Uint8Array;
}

/** Bytes of a frame header for a body of `bodyLen` bytes. */
export function frameHeaderLen(bodyLen: number): number {
  return CHANNEL_ID_LEN + varintLen(bodyLen);
}

/** Writes a frame header; the caller writes `bodyLen` bytes of body next. */
export function emitFrameHeader(channel: number, bodyLen: number, w: Writer): Result<void, WireError> {
  if (!Number.isInteger(channel) || channel < 0 || channel > MAX_CHANNEL_ID) {
    return err({ kind: 'badValue', what: 'channel id' });
  }
  if (bodyLen > MAX_VARINT) return err({ kind: 'badLength', len: bodyLen });
  w.u8(channel & 0xff);
  w.u8((channel >>> 8) & 0xff);
  w.u8((channel >>> 16) & 0xff);
  return emitVarint(bodyLen, w);
}

/** Writes a whole frame. */
export function emitFrame(frame: Frame, w: Writer): Result<void, WireError> {
  const header = emitFrameHeader(frame.channel, frame.body.length, w);
  if (!header.ok) return header;
  w.bytes(frame.body);
  return w.error ? err(w.error) : ok(undefined);
}

/** Reads one frame. */
export function parseFrame(r: Reader): Result<Frame, WireError> {
  const channel = r.u8() | (r.u8() << 8) | (r.u8() << 16);
  if (r.error) return err(r.error);
  const len = parseVarint(r);
  if (!len.ok) return len;
  const body = r.bytesView(len.value);
  return r.error ? err(r.error) : ok({ channel, body });
}

/** The frames of `plaintext` in order; stops after the first error, which it yields. */
export function* frames(plaintext: Uint8Array): Generator<Result<Frame, WireError>> {
  const r = new Reader(plaintext);
  while (r.remaining > 0) {
    const frame = parseFrame(r);
    yield frame;
    if (!frame.ok) return;
  }
}
