/**
 * Strict standard base64 (RFC 4648 §4, with padding), decoded by hand so
 * that non-canonical input is refused the same way in every runtime.
 *
 * @packageDocumentation
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const VALUES = new Map([...ALPHABET].map((c, i) => [c, i] as const));

/**
 * The bytes `text` encodes, or undefined when it is not canonical padded
 * standard base64 (wrong alphabet, length not a multiple of 4, misplaced
 * padding, or non-zero bits under the padding).
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const body = text.slice(0, text.length - padding);
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const c of body) {
    const v = VALUES.get(c);
    if (v === undefined) return undefined;
    value = (value << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >> bits) & 0xff;
    }
    value &= (1 << bits) - 1;
  }
  if (value !== 0 || at !== out.length) return undefined;
  return out;
}

/** `bytes` as padded standard base64. */
export function encodeBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] ?? 0;
    const b = bytes[i + 1] ?? 0;
    const c = bytes[i + 2] ?? 0;
    const n = (a << 16) | (b << 8) | c;
    out += ALPHABET[(n >> 18) & 63];
    out += ALPHABET[(n >> 12) & 63];
    out += i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? ALPHABET[n & 63] : '=';
  }
  return out;
}
