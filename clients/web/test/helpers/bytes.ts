import { createHash } from 'node:crypto';

/** `bytes` as lower-case hex. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** The bytes of lower-case hex `text`. */
export function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** SHA-256 of `bytes`, as hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** 32 bytes where byte i is `f(i)`. */
export function bytesFrom(f: (i: number) => number, len = 32): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => f(i) & 0xff);
}

/** A small seeded PRNG (mulberry32), for reproducible loss and payloads. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
