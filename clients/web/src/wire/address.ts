/**
 * Address records, as connect tokens and direct-play messages carry them
 * (`docs/wire.md`, "Address record").
 *
 * | type byte | body | total |
 * |---|---|---|
 * | 1 (IPv4) | 4 octets in dotted order, port `u16` LE | 7 |
 * | 2 (IPv6) | 8 groups, each a `u16` LE of its value, port `u16` LE | 19 |
 *
 * @packageDocumentation
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';
import type { WireError } from './error.js';
import { err, ok, type Result } from '../util/result.js';

/** An IPv4 or IPv6 socket address as a record carries it. */
export type SocketAddress =
  | { readonly family: 4; readonly octets: readonly number[]; readonly port: number }
  | { readonly family: 6; readonly groups: readonly number[]; readonly port: number };

/** Bytes of an IPv4 record. */
export const IPV4_RECORD_LEN = 7;
/** Bytes of an IPv6 record. */
export const IPV6_RECORD_LEN = 19;

/** Bytes {@link emitAddress} writes for `addr`. */
export function addressLen(addr: SocketAddress): number {
  return addr.family === 4 ? IPV4_RECORD_LEN : IPV6_RECORD_LEN;
}

/** Reads one record; a type byte other than 1 or 2 is `badAddressType`. */
export function parseAddress(r: Reader): Result<SocketAddress, WireError> {
  const type = r.u8();
  if (r.error) return err(r.error);
  if (type === 1) {
    const octets = [r.u8(), r.u8(), r.u8(), r.u8()];
    const port = r.u16();
    return r.error ? err(r.error) : ok({ family: 4, octets, port });
  }
  if (type === 2) {
    const groups: number[] = [];
    for (let i = 0; i < 8; i++) groups.push(r.u16());
    const port = r.u16();
    return r.error ? err(r.error) : ok({ family: 6, groups, port });
  }
  return err({ kind: 'badAddressType', type });
}

/** Writes one record; values out of range are a `badValue` error. */
export function emitAddress(addr: SocketAddress, w: Writer): Result<void, WireError> {
  const inRange = (v: number, max: number): boolean => Number.isInteger(v) && v >= 0 && v <= max;
  if (!inRange(addr.port, 0xffff)) return err({ kind: 'badValue', what: 'port' });
  if (addr.family === 4) {
    if (addr.octets.length !== 4 || !addr.octets.every((o) => inRange(o, 0xff))) {
      return err({ kind: 'badValue', what: 'ipv4 octets' });
    }
    w.u8(1);
    for (const o of addr.octets) w.u8(o);
  } else {
    if (addr.groups.length !== 8 || !addr.groups.every((g) => inRange(g, 0xffff))) {
      return err({ kind: 'badValue', what: 'ipv6 groups' });
    }
    w.u8(2);
    for (const g of addr.groups) w.u16(g);
  }
  w.u16(addr.port);
  return w.error ? err(w.error) : ok(undefined);
}

/** `addr` as text: `127.0.0.1:40000` or `[::1]:50000`. */
export function formatAddress(addr: SocketAddress): string {
  if (addr.family === 4) return `${addr.octets.join('.')}:${addr.port}`;
  return `[${formatIpv6(addr.groups)}]:${addr.port}`;
}

/** The IPv4 address `a.b.c.d:port` as a record, or undefined if malformed. */
export function parseIpv4Text(text: string): SocketAddress | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const numbers = match.slice(1).map(Number);
  const octets = numbers.slice(0, 4);
  const port = numbers[4] ?? -1;
  if (!octets.every((o) => o <= 255) || port > 0xffff) return undefined;
  return { family: 4, octets, port };
}

function formatIpv6(groups: readonly number[]): string {
  // The longest run of two or more zero groups collapses to `::` (RFC 5952).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
