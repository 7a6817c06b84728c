/**
 * The 300-byte challenge token (`docs/wire.md`, "Challenge token"):
 * client id `u64`, user data (256), zeros to 284; sealed with
 * ChaCha20-Poly1305 under the server's challenge key, no AAD, nonce
 * `00 00 00 00 | challenge sequence`. A client only echoes it; the pair is
 * for TypeScript servers and tests.
 *
 * @packageDocumentation
 */
import { Reader } from './reader.js';
import { Writer } from './writer.js';
import type { WireError } from './error.js';
import { CHALLENGE_TOKEN_LEN, MAC_LEN, USER_DATA_LEN } from './constants.js';
import { openChaCha, sealChaCha } from '../crypto.js';
import { err, ok, type Result } from '../util/result.js';

/** A challenge token's fields. */
export interface ChallengeToken {
  /** The client's id. */
  readonly clientId: bigint;
  /** The user data of its connect token. */
  readonly userData: Uint8Array;
}

/** The 284-byte plaintext of `token`. */
export function emitChallengePlain(token: ChallengeToken): Result<Uint8Array, WireError> {
  if (token.userData.length !== USER_DATA_LEN) return err({ kind: 'badValue', what: 'user data length' });
  const w = new Writer(new Uint8Array(CHALLENGE_TOKEN_LEN - MAC_LEN));
  w.u64(token.clientId);
  w.bytes(token.userData);
  w.zeroPadToEnd();
  return w.error ? err(w.error) : ok(w.buffer);
}

/** Seals `token` into its 300 bytes. */
export function sealChallengeToken(token: ChallengeToken, key: Uint8Array, sequence: bigint): Result<Uint8Array, WireError> {
  const plain = emitChallengePlain(token);
  if (!plain.ok) return plain;
  return ok(sealChaCha(key, sequence, new Uint8Array(0), plain.value));
}

/** Opens a sealed challenge token; `crypto` when it does not authenticate. */
export function openChallengeToken(sealed: Uint8Array, key: Uint8Array, sequence: bigint): Result<ChallengeToken, WireError> {
  if (sealed.length !== CHALLENGE_TOKEN_LEN) return err({ kind: 'badLength', len: sealed.length });
  const plain = openChaCha(key, sequence, new Uint8Array(0), sealed);
  if (plain === undefined) return err({ kind: 'crypto' });
  const r = new Reader(plain);
  const clientId = r.u64();
  const userData = r.bytesCopy(USER_DATA_LEN);
  return r.error ? err(r.error) : ok({ clientId, userData });
}
