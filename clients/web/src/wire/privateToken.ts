/**
 * A connect token's private part (`docs/wire.md`, "Connect token, private
 * part"): 1008 bytes of plaintext sealed with XChaCha20-Poly1305 under the
 * server's private key, AAD `VERSION | protocol id | expire timestamp`.
 *
 * A client never opens it; the pair is here for servers written in
 * TypeScript and for the known-answer tests.
 *
 * @packageDocumentation
 */
import { Reader } from './reader.js';
import { Writer } from './writer.js';
import type { WireError } from './error.js';
import type { SocketAddress } from './address.js';
import { emitServerAddresses, parseServerAddresses } from './connectToken.js';
import { KEY_LEN, PRIVATE_LEN, PRIVATE_PLAIN_LEN, TOKEN_NONCE_LEN, USER_DATA_LEN, VERSION } from './constants.js';
import { openXChaCha, sealXChaCha } from '../crypto.js';
import { err, ok, type Result } from '../util/result.js';

/** The private part's fields. */
export interface PrivateToken {
  /** The client's id. */
  readonly clientId: bigint;
  /** Seconds of silence before giving up; 0 or negative: never. */
  readonly timeoutSecs: number;
  /** The addresses each server compares with its own. */
  readonly serverAddresses: readonly SocketAddress[];
  /** Client-to-server key. */
  readonly clientToServerKey: Uint8Array;
  /** Server-to-client key. */
  readonly serverToClientKey: Uint8Array;
  /** 256 bytes for the game. */
  readonly userData: Uint8Array;
}

/** The 29-byte AAD of the private part. */
function privateAad(protocolId: bigint, expireUnixSecs: bigint): Uint8Array {
  const w = new Writer(new Uint8Array(VERSION.length + 16));
  w.bytes(VERSION);
  w.u64(protocolId);
  w.u64(expireUnixSecs);
  return w.buffer;
}

/** The 1008-byte plaintext of `token`, zero-padded. */
export function emitPrivatePlain(token: PrivateToken): Result<Uint8Array, WireError> {
  if (
    token.clientToServerKey.length !== KEY_LEN ||
    token.serverToClientKey.length !== KEY_LEN ||
    token.userData.length !== USER_DATA_LEN
  ) {
    return err({ kind: 'badValue', what: 'private token field length' });
  }
  const w = new Writer(new Uint8Array(PRIVATE_PLAIN_LEN));
  w.u64(token.clientId);
  w.u32(token.timeoutSecs >>> 0);
  const addresses = emitServerAddresses(token.serverAddresses, w);
  if (!addresses.ok) return addresses;
  w.bytes(token.clientToServerKey);
  w.bytes(token.serverToClientKey);
  w.bytes(token.userData);
  w.zeroPadToEnd();
  return w.error ? err(w.error) : ok(w.buffer);
}

/** Reads the plaintext {@link emitPrivatePlain} writes. */
export function parsePrivatePlain(plain: Uint8Array): Result<PrivateToken, WireError> {
  if (plain.length < PRIVATE_PLAIN_LEN) {
    return err({ kind: 'truncated', needed: PRIVATE_PLAIN_LEN, remaining: plain.length });
  }
  const r = new Reader(plain.subarray(0, PRIVATE_PLAIN_LEN));
  const clientId = r.u64();
  const timeoutSecs = r.u32() | 0;
  const serverAddresses = parseServerAddresses(r);
  if (!serverAddresses.ok) return serverAddresses;
  const clientToServerKey = r.bytesCopy(KEY_LEN);
  const serverToClientKey = r.bytesCopy(KEY_LEN);
  const userData = r.bytesCopy(USER_DATA_LEN);
  if (r.error) return err(r.error);
  return ok({ clientId, timeoutSecs, serverAddresses: serverAddresses.value, clientToServerKey, serverToClientKey, userData });
}

/** Seals `token` into its 1024 bytes. */
export function sealPrivateToken(
  token: PrivateToken,
  key: Uint8Array,
  protocolId: bigint,
  expireUnixSecs: bigint,
  nonce: Uint8Array,
): Result<Uint8Array, WireError> {
  if (key.length !== KEY_LEN || nonce.length !== TOKEN_NONCE_LEN) return err({ kind: 'badValue', what: 'key or nonce' });
  const plain = emitPrivatePlain(token);
  if (!plain.ok) return plain;
  return ok(sealXChaCha(key, nonce, privateAad(protocolId, expireUnixSecs), plain.value));
}

/** Opens and reads a sealed private part; `crypto` when it does not authenticate. */
export function openPrivateToken(
  sealed: Uint8Array,
  key: Uint8Array,
  protocolId: bigint,
  expireUnixSecs: bigint,
  nonce: Uint8Array,
): Result<PrivateToken, WireError> {
  if (sealed.length !== PRIVATE_LEN) return err({ kind: 'badLength', len: sealed.length });
  const plain = openXChaCha(key, nonce, privateAad(protocolId, expireUnixSecs), sealed);
  if (plain === undefined) return err({ kind: 'crypto' });
  return parsePrivatePlain(plain);
}
