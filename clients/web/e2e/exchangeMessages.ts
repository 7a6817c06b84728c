/**
 * The end-to-end exchange's messages (the same on the native side):
 * reliable `[sender, n u32 LE]` for n = 0..999, then one reliable
 * `[sender, FF FF FF FF]` + 100 KiB where byte i is `(i * 7) % 251`, and
 * unreliable `[sender, 0xEE]`.
 *
 * @packageDocumentation
 */

/** Reliable numbered messages each side sends. */
export const RELIABLE_COUNT = 1000;
/** Bytes of the big message's body. */
export const BIG_BODY_LEN = 100 * 1024;
/** The unreliable message's second byte. */
export const UNRELIABLE_TAG = 0xee;
/** What the exchange's players ask the relay for. */
export const E2E_MATCH_DATA = 'berth-e2e/1';

/** Reliable message `n` from `sender`. */
export function numbered(sender: number, n: number): Uint8Array {
  const bytes = new Uint8Array(5);
  bytes[0] = sender;
  new DataView(bytes.buffer).setUint32(1, n, true);
  return bytes;
}

/** The big message from `sender`. */
export function big(sender: number): Uint8Array {
  const bytes = new Uint8Array(5 + BIG_BODY_LEN);
  bytes.set([sender, 0xff, 0xff, 0xff, 0xff]);
  for (let i = 0; i < BIG_BODY_LEN; i++) bytes[5 + i] = (i * 7) % 251;
  return bytes;
}

/** The unreliable message from `sender`. */
export function unreliable(sender: number): Uint8Array {
  return new Uint8Array([sender, UNRELIABLE_TAG]);
}

/** Whether `bytes` is the big message from `sender`, byte for byte. */
export function isBig(bytes: Uint8Array, sender: number): boolean {
  if (bytes.length !== 5 + BIG_BODY_LEN || bytes[0] !== sender) return false;
  for (let i = 1; i < 5; i++) if (bytes[i] !== 0xff) return false;
  for (let i = 0; i < BIG_BODY_LEN; i++) if (bytes[5 + i] !== (i * 7) % 251) return false;
  return true;
}
