/**
 * The 2048-byte public connect token (`docs/wire.md`, "Connect token").
 *
 * | off | len | field |
 * |---|---|---|
 * | 0 | 13 | `VERSION` |
 * | 13 | 8 | protocol id |
 * | 21 | 8 | create timestamp, unix seconds |
 * | 29 | 8 | expire timestamp, unix seconds |
 * | 37 | 24 | nonce of the private part |
 * | 61 | 1024 | sealed private part |
 * | 1085 | 4 | timeout seconds, `i32` (0 or negative: never) |
 * | 1089 | 4 | server address count, 1..=32 |
 * | 1093 | 7/19 each | address records |
 * | … | 32 | client-to-server key |
 * | … | 32 | server-to-client key |
 * | … | to 2048 | zeros |
 *
 * @packageDocumentation
 */
import { Reader } from './reader.js';
import { Writer } from './writer.js';
import type { WireError } from './error.js';
import { emitAddress, parseAddress, type SocketAddress } from './address.js';
import { KEY_LEN, MAX_SERVERS, PRIVATE_LEN, TOKEN_LEN, TOKEN_NONCE_LEN, VERSION } from './constants.js';
import { err, ok, type Result } from '../util/result.js';

/** A connect token's public part, as the client reads it. */
export interface ConnectToken {
  /** The game's protocol id (for the relay: `relay::protocol_id()`). */
  readonly protocolId: bigint;
  /** When the token was made, unix seconds. */
  readonly createUnixSecs: bigint;
  /** When it stops being accepted, unix seconds. */
  readonly expireUnixSecs: bigint;
  /** The private part's 24-byte nonce. */
  readonly nonce: Uint8Array;
  /** The sealed 1024-byte private part, passed on in requests. */
  readonly privateToken: Uint8Array;
  /** Seconds of silence before a side gives up; 0 or negative: never. */
  readonly timeoutSecs: number;
  /** Where to send, in order, 1..=32. */
  readonly serverAddresses: readonly SocketAddress[];
  /** The key of client-to-server packets. */
  readonly clientToServerKey: Uint8Array;
  /** The key of server-to-client packets. */
  readonly serverToClientKey: Uint8Array;
}

/** `true` when `a` and `b` hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Reads a count `u32` and that many address records, 1..=32. */
export function parseServerAddresses(r: Reader): Result<SocketAddress[], WireError> {
  const count = r.u32();
  if (r.error) return err(r.error);
  if (count === 0 || count > MAX_SERVERS) return err({ kind: 'badAddressCount', count });
  const addresses: SocketAddress[] = [];
  for (let i = 0; i < count; i++) {
    const addr = parseAddress(r);
    if (!addr.ok) return addr;
    addresses.push(addr.value);
  }
  return ok(addresses);
}

/** Writes a count `u32` and the address records, refusing 0 or more than 32. */
export function emitServerAddresses(addresses: readonly SocketAddress[], w: Writer): Result<void, WireError> {
  if (addresses.length === 0 || addresses.length > MAX_SERVERS) {
    return err({ kind: 'badAddressCount', count: addresses.length });
  }
  w.u32(addresses.length);
  for (const addr of addresses) {
    const written = emitAddress(addr, w);
    if (!written.ok) return written;
  }
  return w.error ? err(w.error) : ok(undefined);
}

/**
 * Reads a token's 2048 bytes. Refuses another length, another `VERSION`, a
 * create timestamp after the expire timestamp, and a bad address list.
 */
export function parseConnectToken(bytes: Uint8Array): Result<ConnectToken, WireError> {
  if (bytes.length !== TOKEN_LEN) return err({ kind: 'badLength', len: bytes.length });
  const r = new Reader(bytes);
  if (!bytesEqual(r.bytesView(VERSION.length), VERSION)) return err({ kind: 'badVersion' });
  const protocolId = r.u64();
  const createUnixSecs = r.u64();
  const expireUnixSecs = r.u64();
  const nonce = r.bytesCopy(TOKEN_NONCE_LEN);
  const privateToken = r.bytesCopy(PRIVATE_LEN);
  const timeoutSecs = r.u32() | 0;
  const serverAddresses = parseServerAddresses(r);
  if (!serverAddresses.ok) return serverAddresses;
  const clientToServerKey = r.bytesCopy(KEY_LEN);
  const serverToClientKey = r.bytesCopy(KEY_LEN);
  if (r.error) return err(r.error);
  if (createUnixSecs > expireUnixSecs) return err({ kind: 'badTimestamps' });
  return ok({
    protocolId,
    createUnixSecs,
    expireUnixSecs,
    nonce,
    privateToken,
    timeoutSecs,
    serverAddresses: serverAddresses.value,
    clientToServerKey,
    serverToClientKey,
  });
}

/** Writes `token` as its 2048 bytes, zero-padded. */
export function emitConnectToken(token: ConnectToken): Result<Uint8Array, WireError> {
  if (
    token.nonce.length !== TOKEN_NONCE_LEN ||
    token.privateToken.length !== PRIVATE_LEN ||
    token.clientToServerKey.length !== KEY_LEN ||
    token.serverToClientKey.length !== KEY_LEN
  ) {
    return err({ kind: 'badValue', what: 'token field length' });
  }
  const out = new Uint8Array(TOKEN_LEN);
  const w = new Writer(out);
  w.bytes(VERSION);
  w.u64(token.protocolId);
  w.u64(token.createUnixSecs);
  w.u64(token.expireUnixSecs);
  w.bytes(token.nonce);
  w.bytes(token.privateToken);
  w.u32(token.timeoutSecs >>> 0);
  const addresses = emitServerAddresses(token.serverAddresses, w);
  if (!addresses.ok) return addresses;
  w.bytes(token.clientToServerKey);
  w.bytes(token.serverToClientKey);
  w.zeroPadToEnd();
  return w.error ? err(w.error) : ok(out);
}
