import type { WireError } from './error.js';

/**
 * A bounded little-endian reader over untrusted bytes.
 *
 * No read throws: reading past the end records the first shortfall as a
 * sticky {@link WireError} and returns zeros (or an empty view); a parser
 * checks {@link Reader.error} once before it trusts what it read.
 */
export class Reader {
  private offset = 0;
  private failure: WireError | undefined;

  /** Starts reading `bytes` at offset 0. */
  constructor(private readonly bytes: Uint8Array) {}

  /** Bytes not yet read. */
  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  /** Bytes read so far. */
  get position(): number {
    return this.offset;
  }

  /** The first shortfall, if any read ran past the end. */
  get error(): WireError | undefined {
    return this.failure;
  }

  private take(n: number): number | undefined {
    if (this.failure !== undefined) return undefined;
    if (n > this.remaining) {
      this.failure = { kind: 'truncated', needed: n, remaining: this.remaining };
      return undefined;
    }
    const at = this.offset;
    this.offset += n;
    return at;
  }

  /** One byte. */
  u8(): number {
    const at = this.take(1);
    return at === undefined ? 0 : (this.bytes[at] ?? 0);
  }

  /** A little-endian u16. */
  u16(): number {
    const at = this.take(2);
    if (at === undefined) return 0;
    return (this.bytes[at] ?? 0) | ((this.bytes[at + 1] ?? 0) << 8);
  }

  /** A little-endian u32, as a non-negative number. */
  u32(): number {
    const at = this.take(4);
    if (at === undefined) return 0;
    const b = this.bytes;
    return ((b[at] ?? 0) | ((b[at + 1] ?? 0) << 8) | ((b[at + 2] ?? 0) << 16) | ((b[at + 3] ?? 0) << 24)) >>> 0;
  }

  /** A little-endian u64, as a bigint. */
  u64(): bigint {
    const low = this.u32();
    const high = this.u32();
    return (BigInt(high) << 32n) | BigInt(low);
  }

  /** The next `n` bytes, as a view (not a copy). */
  bytesView(n: number): Uint8Array {
    const at = this.take(n);
    return at === undefined ? new Uint8Array(0) : this.bytes.subarray(at, at + n);
  }

  /** A copy of the next `n` bytes. */
  bytesCopy(n: number): Uint8Array {
    return this.bytesView(n).slice();
  }

  /** Everything not yet read, as a view. */
  rest(): Uint8Array {
    return this.bytesView(this.remaining);
  }
}
