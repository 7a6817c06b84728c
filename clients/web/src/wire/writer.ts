import type { WireError } from './error.js';

/**
 * A bounded little-endian writer into a fixed buffer.
 *
 * A write that does not fit records a sticky `bufferTooSmall` error and
 * writes nothing; the emitter checks {@link Writer.error} once at the end.
 */
export class Writer {
  private offset = 0;
  private failure: WireError | undefined;

  /** Writes into `buffer` from offset 0. */
  constructor(readonly buffer: Uint8Array) {}

  /** Bytes written so far. */
  get length(): number {
    return this.offset;
  }

  /** Room left. */
  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  /** The first write that did not fit, if any. */
  get error(): WireError | undefined {
    return this.failure;
  }

  /** The bytes written so far, as a view. */
  written(): Uint8Array {
    return this.buffer.subarray(0, this.offset);
  }

  private take(n: number): number | undefined {
    if (this.failure !== undefined) return undefined;
    if (n > this.remaining) {
      this.failure = { kind: 'bufferTooSmall', needed: this.offset + n, available: this.buffer.length };
      return undefined;
    }
    const at = this.offset;
    this.offset += n;
    return at;
  }

  /** One byte (the low 8 bits of `v`). */
  u8(v: number): void {
    const at = this.take(1);
    if (at !== undefined) this.buffer[at] = v & 0xff;
  }

  /** A little-endian u16 (the low 16 bits of `v`). */
  u16(v: number): void {
    const at = this.take(2);
    if (at === undefined) return;
    this.buffer[at] = v & 0xff;
    this.buffer[at + 1] = (v >>> 8) & 0xff;
  }

  /** A little-endian u32 (the low 32 bits of `v`). */
  u32(v: number): void {
    const at = this.take(4);
    if (at === undefined) return;
    this.buffer[at] = v & 0xff;
    this.buffer[at + 1] = (v >>> 8) & 0xff;
    this.buffer[at + 2] = (v >>> 16) & 0xff;
    this.buffer[at + 3] = (v >>> 24) & 0xff;
  }

  /** A little-endian u64 (the low 64 bits of `v`). */
  u64(v: bigint): void {
    const masked = BigInt.asUintN(64, v);
    this.u32(Number(masked & 0xffffffffn));
    this.u32(Number(masked >> 32n));
  }

  /** `bytes` as they are. */
  bytes(bytes: Uint8Array): void {
    const at = this.take(bytes.length);
    if (at !== undefined) this.buffer.set(bytes, at);
  }

  /** Zeros up to the end of the buffer. */
  zeroPadToEnd(): void {
    const at = this.take(this.remaining);
    if (at !== undefined) this.buffer.fill(0, at);
  }
}
