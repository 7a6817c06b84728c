/**
 * The seven netcode packet kinds (`docs/wire.md`, "Packets"): the plain
 * 1078-byte connection request and six encrypted packets.
 *
 * An encrypted packet is `prefix | sequence | ciphertext | tag (16)`,
 * sealed with ChaCha20-Poly1305 IETF under the direction's key, nonce
 * `00 00 00 00 | sequence u64 LE`, AAD `VERSION | protocol id | prefix`.
 * Body sizes are exact: denied 0, challenge and response 308, keep-alive
 * 8, payload 1..=1200, disconnect 0.
 *
 * Reading is two calls so the caller can run its replay check between
 * them: {@link parsePacketHeader} (no key needed), then {@link openPacket}.
 *
 * @packageDocumentation
 */
import { Reader } from './reader.js';
import { Writer } from './writer.js';
import type { WireError } from './error.js';
import { emitHeader, headerLen, makeHeader, PacketType, parseHeaderFrom, type Header } from './prefix.js';
import {
  CHALLENGE_TOKEN_LEN,
  MAC_LEN,
  MAX_PAYLOAD_LEN,
  PRIVATE_LEN,
  REQUEST_LEN,
  TOKEN_NONCE_LEN,
  VERSION,
} from './constants.js';
import { bytesEqual } from './connectToken.js';
import { openChaCha, sealChaCha } from '../crypto.js';
import { err, ok, type Result } from '../util/result.js';

/** Bytes of a challenge or response body: sequence and token. */
export const CHALLENGE_BODY_LEN = 8 + CHALLENGE_TOKEN_LEN;
/** Bytes of a keep-alive body. */
export const KEEP_ALIVE_BODY_LEN = 8;

/** A connection request's fields. */
export interface ConnectionRequest {
  /** The token's protocol id. */
  readonly protocolId: bigint;
  /** The token's expire timestamp. */
  readonly expireUnixSecs: bigint;
  /** The private part's nonce (24 bytes). */
  readonly nonce: Uint8Array;
  /** The sealed private part (1024 bytes). */
  readonly privateToken: Uint8Array;
}

/** Writes a request: exactly {@link REQUEST_LEN} (1078) bytes. */
export function emitRequest(request: ConnectionRequest): Result<Uint8Array, WireError> {
  if (request.nonce.length !== TOKEN_NONCE_LEN || request.privateToken.length !== PRIVATE_LEN) {
    return err({ kind: 'badValue', what: 'request field length' });
  }
  const w = new Writer(new Uint8Array(REQUEST_LEN));
  w.u8(0);
  w.bytes(VERSION);
  w.u64(request.protocolId);
  w.u64(request.expireUnixSecs);
  w.bytes(request.nonce);
  w.bytes(request.privateToken);
  return w.error ? err(w.error) : ok(w.buffer);
}

/** Reads a request: exactly 1078 bytes, prefix 0, `VERSION`. */
export function parseRequest(datagram: Uint8Array): Result<ConnectionRequest, WireError> {
  if (datagram.length !== REQUEST_LEN) return err({ kind: 'badLength', len: datagram.length });
  const r = new Reader(datagram);
  const prefix = r.u8();
  if (prefix !== 0) return err({ kind: 'badPacketType', type: prefix & 0x0f });
  if (!bytesEqual(r.bytesView(VERSION.length), VERSION)) return err({ kind: 'badVersion' });
  const protocolId = r.u64();
  const expireUnixSecs = r.u64();
  const nonce = r.bytesCopy(TOKEN_NONCE_LEN);
  const privateToken = r.bytesCopy(PRIVATE_LEN);
  return r.error ? err(r.error) : ok({ protocolId, expireUnixSecs, nonce, privateToken });
}

/** The body of an encrypted packet. */
export type Body =
  | { readonly type: 'denied' }
  | { readonly type: 'challenge'; readonly challengeSequence: bigint; readonly token: Uint8Array }
  | { readonly type: 'response'; readonly challengeSequence: bigint; readonly token: Uint8Array }
  | { readonly type: 'keepAlive'; readonly clientIndex: number; readonly maxClients: number }
  | { readonly type: 'payload'; readonly bytes: Uint8Array }
  | { readonly type: 'disconnect' };

/** The packet type code of `body`. */
export function bodyPacketType(body: Body): PacketType {
  switch (body.type) {
    case 'denied':
      return PacketType.Denied;
    case 'challenge':
      return PacketType.Challenge;
    case 'response':
      return PacketType.Response;
    case 'keepAlive':
      return PacketType.KeepAlive;
    case 'payload':
      return PacketType.Payload;
    case 'disconnect':
      return PacketType.Disconnect;
  }
}

function emitBody(body: Body): Result<Uint8Array, WireError> {
  switch (body.type) {
    case 'denied':
    case 'disconnect':
      return ok(new Uint8Array(0));
    case 'challenge':
    case 'response': {
      if (body.token.length !== CHALLENGE_TOKEN_LEN) return err({ kind: 'badLength', len: body.token.length });
      const w = new Writer(new Uint8Array(CHALLENGE_BODY_LEN));
      w.u64(body.challengeSequence);
      w.bytes(body.token);
      return ok(w.buffer);
    }
    case 'keepAlive': {
      const w = new Writer(new Uint8Array(KEEP_ALIVE_BODY_LEN));
      w.u32(body.clientIndex);
      w.u32(body.maxClients);
      return ok(w.buffer);
    }
    case 'payload':
      if (body.bytes.length === 0 || body.bytes.length > MAX_PAYLOAD_LEN) {
        return err({ kind: 'badLength', len: body.bytes.length });
      }
      return ok(body.bytes);
  }
}

function parseBody(type: PacketType, plain: Uint8Array): Result<Body, WireError> {
  const len = plain.length;
  const r = new Reader(plain);
  switch (type) {
    case PacketType.Denied:
      if (len === 0) return ok({ type: 'denied' });
      break;
    case PacketType.Disconnect:
      if (len === 0) return ok({ type: 'disconnect' });
      break;
    case PacketType.Challenge:
    case PacketType.Response:
      if (len === CHALLENGE_BODY_LEN) {
        const challengeSequence = r.u64();
        const token = r.bytesCopy(CHALLENGE_TOKEN_LEN);
        return ok({ type: type === PacketType.Challenge ? 'challenge' : 'response', challengeSequence, token });
      }
      break;
    case PacketType.KeepAlive:
      if (len === KEEP_ALIVE_BODY_LEN) return ok({ type: 'keepAlive', clientIndex: r.u32(), maxClients: r.u32() });
      break;
    case PacketType.Payload:
      if (len >= 1 && len <= MAX_PAYLOAD_LEN) return ok({ type: 'payload', bytes: plain });
      break;
    case PacketType.Request:
      return err({ kind: 'badPacketType', type: 0 });
  }
  return err({ kind: 'badLength', len });
}

/** The 22-byte AAD of an encrypted packet: `VERSION | protocol id | prefix`. */
export function packetAad(protocolId: bigint, prefix: number): Uint8Array {
  const w = new Writer(new Uint8Array(VERSION.length + 9));
  w.bytes(VERSION);
  w.u64(protocolId);
  w.u8(prefix);
  return w.buffer;
}

/** Seals `body` as packet `sequence` under `key`: the whole datagram. */
export function sealPacket(body: Body, sequence: bigint, protocolId: bigint, key: Uint8Array): Result<Uint8Array, WireError> {
  const plain = emitBody(body);
  if (!plain.ok) return plain;
  const header = makeHeader(bodyPacketType(body), sequence);
  const sealed = sealChaCha(key, header.sequence, packetAad(protocolId, header.prefix), plain.value);
  const out = new Uint8Array(headerLen(header) + sealed.length);
  const w = new Writer(out);
  emitHeader(header, w);
  w.bytes(sealed);
  return w.error ? err(w.error) : ok(out);
}

/**
 * Reads the header of an encrypted packet and checks a tag fits: type 0
 * (requests are not encrypted) and 7..=15 are `badPacketType`.
 */
export function parsePacketHeader(datagram: Uint8Array): Result<Header, WireError> {
  const r = new Reader(datagram);
  const header = parseHeaderFrom(r);
  if (!header.ok) return header;
  if (header.value.packetType === PacketType.Request) return err({ kind: 'badPacketType', type: 0 });
  if (r.remaining < MAC_LEN) return err({ kind: 'truncated', needed: MAC_LEN, remaining: r.remaining });
  return header;
}

/** Authenticates and decrypts a packet whose header {@link parsePacketHeader} read. */
export function openPacket(datagram: Uint8Array, header: Header, protocolId: bigint, key: Uint8Array): Result<Body, WireError> {
  const sealed = datagram.subarray(headerLen(header));
  const plain = openChaCha(key, header.sequence, packetAad(protocolId, header.prefix), sealed);
  if (plain === undefined) return err({ kind: 'crypto' });
  return parseBody(header.packetType, plain);
}
