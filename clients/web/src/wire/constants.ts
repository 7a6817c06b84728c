/** The 13 bytes `NETCODE 1.02` and a NUL that open tokens, requests and every AAD. */
export const VERSION: Uint8Array = new Uint8Array([...'NETCODE 1.02'].map((c) => c.charCodeAt(0)).concat([0]));
/** Bytes of a key. */
export const KEY_LEN = 32;
/** Bytes of a Poly1305 tag. */
export const MAC_LEN = 16;
/** Bytes of the XChaCha20 nonce of a token's private part. */
export const TOKEN_NONCE_LEN = 24;
/** Bytes of a connect token. */
export const TOKEN_LEN = 2048;
/** Bytes of a token's sealed private part. */
export const PRIVATE_LEN = 1024;
/** Bytes of the private part's plaintext, before its tag. */
export const PRIVATE_PLAIN_LEN = PRIVATE_LEN - MAC_LEN;
/** Bytes of a challenge token. */
export const CHALLENGE_TOKEN_LEN = 300;
/** Bytes of user data in private and challenge tokens. */
export const USER_DATA_LEN = 256;
/** Most server addresses in a token. */
export const MAX_SERVERS = 32;
/** Largest payload packet body. */
export const MAX_PAYLOAD_LEN = 1200;
/** Bytes of a connection request. */
export const REQUEST_LEN = 1 + 13 + 8 + 8 + TOKEN_NONCE_LEN + PRIVATE_LEN;
/** Largest encrypted packet: prefix, 8 sequence bytes, 1200 bytes of payload, tag. */
export const MAX_ENCRYPTED_LEN = 1 + 8 + MAX_PAYLOAD_LEN + MAC_LEN;
