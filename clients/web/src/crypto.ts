/**
 * AEAD sealing for netcode: ChaCha20-Poly1305 IETF for packets and
 * challenge tokens, XChaCha20-Poly1305 for a token's private part. The
 * ciphers are `@noble/ciphers`'; this file only lays out nonces and keeps
 * their failures from throwing.
 *
 * @packageDocumentation
 */
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { KEY_LEN, MAC_LEN, TOKEN_NONCE_LEN } from './wire/constants.js';

/** The 12-byte nonce of a packet or challenge token: 4 zero bytes, then `sequence` as a u64 LE. */
export function sequenceNonce(sequence: bigint): Uint8Array {
  const nonce = new Uint8Array(12);
  let v = BigInt.asUintN(64, sequence);
  for (let i = 4; i < 12; i++) {
    nonce[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return nonce;
}

/** ChaCha20-Poly1305 IETF: `plain`'s ciphertext followed by its 16-byte tag. */
export function sealChaCha(key: Uint8Array, sequence: bigint, aad: Uint8Array, plain: Uint8Array): Uint8Array {
  return chacha20poly1305(key, sequenceNonce(sequence), aad).encrypt(plain);
}

/** Opens what {@link sealChaCha} sealed; undefined when it does not authenticate. */
export function openChaCha(
  key: Uint8Array,
  sequence: bigint,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | undefined {
  if (key.length !== KEY_LEN || sealed.length < MAC_LEN) return undefined;
  try {
    return chacha20poly1305(key, sequenceNonce(sequence), aad).decrypt(sealed);
  } catch {
    return undefined;
  }
}

/** XChaCha20-Poly1305 with a 24-byte nonce: ciphertext then tag. */
export function sealXChaCha(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plain: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce, aad).encrypt(plain);
}

/** Opens what {@link sealXChaCha} sealed; undefined when it does not authenticate. */
export function openXChaCha(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | undefined {
  if (key.length !== KEY_LEN || nonce.length !== TOKEN_NONCE_LEN || sealed.length < MAC_LEN) return undefined;
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(sealed);
  } catch {
    return undefined;
  }
}
