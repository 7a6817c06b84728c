/**
 * The prefix byte and variable-length sequence of encrypted packets
 * (`docs/wire.md`, "Encrypted packets").
 *
 * `prefix = type | (n << 4)`, then the sequence LSB first in `n` bytes:
 * the fewest that hold it, never fewer than one. A parsed `n` of 0 reads
 * as sequence 0 (renetcode sends it; the count is in the AAD, so the
 * reading cannot be forged); `n > 8` is `badSequenceLen`.
 *
 * @packageDocumentation
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';
import type { WireError } from './error.js';
import { err, ok, type Result } from '../util/result.js';

/** The netcode packet types, by their low-nibble code. */
export const PacketType = {
  Request: 0,
  Denied: 1,
  Challenge: 2,
  Response: 3,
  KeepAlive: 4,
  Payload: 5,
  Disconnect: 6,
} as const;

/** A packet type code, 0..=6. */
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

/** Most sequence bytes. */
export const MAX_SEQUENCE_LEN = 8;

/** Bytes the sequence takes: the fewest that hold it, at least one. */
export function sequenceLen(sequence: bigint): number {
  let v = BigInt.asUintN(64, sequence);
  let n = 0;
  while (v > 0n) {
    v >>= 8n;
    n++;
  }
  return Math.max(1, n);
}

/** A parsed or to-be-emitted packet header. */
export interface Header {
  /** The prefix byte, which the AAD binds. */
  readonly prefix: number;
  /** Its type. */
  readonly packetType: PacketType;
  /** Its sequence. */
  readonly sequence: bigint;
}

/** The header berth emits for `packetType` and `sequence`. */
export function makeHeader(packetType: PacketType, sequence: bigint): Header {
  const s = BigInt.asUintN(64, sequence);
  return { prefix: packetType | (sequenceLen(s) << 4), packetType, sequence: s };
}

/** Bytes of `header` on the wire: prefix and sequence. */
export function headerLen(header: Header): number {
  return 1 + (header.prefix >> 4);
}

/** Reads a prefix and its sequence bytes. */
export function parseHeaderFrom(r: Reader): Result<Header, WireError> {
  const prefix = r.u8();
  if (r.error) return err(r.error);
  const type = prefix & 0x0f;
  if (type > PacketType.Disconnect) return err({ kind: 'badPacketType', type });
  const len = prefix >> 4;
  if (len > MAX_SEQUENCE_LEN) return err({ kind: 'badSequenceLen', len });
  const bytes = r.bytesView(len);
  if (r.error) return err(r.error);
  let sequence = 0n;
  for (let i = len - 1; i >= 0; i--) sequence = (sequence << 8n) | BigInt(bytes[i] ?? 0);
  return ok({ prefix, packetType: type as PacketType, sequence });
}

/** Writes the prefix and the sequence bytes it announces. */
export function emitHeader(header: Header, w: Writer): void {
  w.u8(header.prefix);
  let v = header.sequence;
  for (let i = 0; i < header.prefix >> 4; i++) {
    w.u8(Number(v & 0xffn));
    v >>= 8n;
  }
}
