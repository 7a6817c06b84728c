//! Keys and AEAD sealing for netcode.io 1.02.
//!
//! Three constructions, each with the exact nonce and associated data the
//! standard fixes (`docs/wire.md`, netcode-spec §1, §3, §4):
//!
//! | what | cipher | nonce | associated data |
//! |---|---|---|---|
//! | private connect token | XChaCha20-Poly1305 | 24 random bytes | `VERSION`, protocol id, expire timestamp |
//! | challenge token | ChaCha20-Poly1305 IETF | `[0; 4]` + challenge sequence LE | none |
//! | packets 1..=6 | ChaCha20-Poly1305 IETF | `[0; 4]` + packet sequence LE | `VERSION`, protocol id, prefix byte |
//!
//! Everything works in place on caller buffers with a detached 16-byte tag:
//! nothing here allocates. This module knows no packet layout; `wire/` passes
//! it the byte ranges to seal or open.
//!
//! # Backends
//!
//! Packets and challenge tokens go through [`PacketCipher`], which runs on
//! `ring` (hand-tuned assembly chosen at run time, 2-6x faster per packet
//! than the portable crate on x86_64 without build flags; PERF.md). For a
//! target `ring` does not build on, turn off the default `ring` feature and
//! the same type runs on the pure-Rust `chacha20poly1305` crate; the bytes
//! on the wire are identical (the known-answer tests run on both).
//! Connect tokens need XChaCha20-Poly1305, which `ring` lacks, so they stay
//! on `chacha20poly1305` in every build: one open per handshake.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use std::fmt;

#[cfg(not(feature = "ring"))]
#[path = "packet_portable.rs"]
mod packet_backend;
#[cfg(feature = "ring")]
#[path = "packet_ring.rs"]
mod packet_backend;

/// Length of every key: packet keys, the private key, the challenge key.
pub const KEY_LEN: usize = 32;
/// Length of a Poly1305 authentication tag.
pub const MAC_LEN: usize = 16;
/// Length of an XChaCha20 nonce, as carried in connect tokens.
pub const TOKEN_NONCE_LEN: usize = 24;
/// The version string every netcode.io 1.02 AAD and token starts with: `"NETCODE 1.02"` and a NUL.
pub const VERSION: [u8; 13] = *b"NETCODE 1.02\0";

/// A 256-bit symmetric key.
///
/// `Debug` never prints the key bytes, so a key can sit in a logged struct.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; KEY_LEN]);

impl Key {
    /// Wraps 32 key bytes.
    pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Draws a new key from `random`.
    pub fn generate(random: &mut dyn Random) -> Self {
        let mut bytes = [0u8; KEY_LEN];
        random.fill(&mut bytes);
        Self(bytes)
    }

    /// The key bytes, for writing into a token or a key file.
    pub const fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

/// A source of random bytes: the OS in production, a seeded generator in tests.
///
/// Protocol code never reaches for randomness itself; it is handed one of these.
pub trait Random {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// Random bytes from the operating system (`getrandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    /// # Panics
    ///
    /// Panics if the operating system has no random source, which leaves no
    /// safe way to make keys.
    #[allow(
        clippy::expect_used,
        reason = "without a random source no key can be made; there is nothing safe to fall back to"
    )]
    fn fill(&mut self, buf: &mut [u8]) {
        getrandom::fill(buf).expect("the operating system's random source failed");
    }
}

/// Authentication failed: wrong key, wrong associated data, or tampered bytes.
///
/// Opaque on purpose: saying which part failed would help an attacker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("authentication failed")]
pub struct OpenError;

/// The 12-byte ChaCha20-Poly1305 IETF nonce for a 64-bit sequence: four zero
/// bytes, then the sequence little-endian.
fn sequence_nonce(sequence: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&sequence.to_le_bytes());
    nonce
}

/// A ChaCha20-Poly1305 key ready to seal or open packets and challenge tokens.
///
/// Construction prepares the key (about 26 ns, and 544 bytes with `ring`),
/// and sealing reuses it: keep one for a key in steady use. Runs on the
/// backend the `ring` feature chooses.
#[derive(Clone)]
pub struct PacketCipher(packet_backend::Cipher);

impl PacketCipher {
    /// Prepares `key` for use.
    pub fn new(key: &Key) -> Self {
        Self(packet_backend::Cipher::new(key.as_bytes()))
    }

    /// Encrypts `buf` in place under `sequence` and `aad`, returning the tag.
    pub fn seal(&self, sequence: u64, aad: &[u8], buf: &mut [u8]) -> [u8; MAC_LEN] {
        self.0.seal(sequence_nonce(sequence), aad, buf)
    }

    /// Decrypts `buf` in place if `tag` authenticates it under `sequence` and `aad`.
    ///
    /// # Errors
    ///
    /// [`OpenError`] when authentication fails; `buf` then holds unspecified bytes.
    pub fn open(
        &self,
        sequence: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; MAC_LEN],
    ) -> Result<(), OpenError> {
        self.0.open(sequence_nonce(sequence), aad, buf, tag)
    }
}

impl fmt::Debug for PacketCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PacketCipher({})", packet_backend::NAME)
    }
}

/// Encrypts `buf` in place with XChaCha20-Poly1305, returning the tag.
pub fn seal_token(
    key: &Key,
    nonce: &[u8; TOKEN_NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> [u8; MAC_LEN] {
    let cipher = XChaCha20Poly1305::new(&key.0.into());
    cipher
        .encrypt_inout_detached(&XNonce::from(*nonce), aad, buf.into())
        // Only messages over 256 GiB fail; tokens are 1008 bytes.
        .unwrap_or_default()
        .into()
}

/// Decrypts `buf` in place with XChaCha20-Poly1305 if `tag` authenticates it.
///
/// # Errors
///
/// [`OpenError`] when authentication fails; `buf` then holds unspecified bytes.
pub fn open_token(
    key: &Key,
    nonce: &[u8; TOKEN_NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; MAC_LEN],
) -> Result<(), OpenError> {
    let cipher = XChaCha20Poly1305::new(&key.0.into());
    cipher
        .decrypt_inout_detached(&XNonce::from(*nonce), aad, buf.into(), &Tag::from(*tag))
        .map_err(|_| OpenError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_seal_then_open_round_trips_and_rejects_tampering() {
        let cipher = PacketCipher::new(&Key::from_bytes([7; KEY_LEN]));
        let mut buf = *b"hello, netcode";
        let tag = cipher.seal(42, b"aad", &mut buf);
        assert_ne!(&buf, b"hello, netcode");
        let sealed = buf;
        cipher.open(42, b"aad", &mut buf, &tag).unwrap();
        assert_eq!(&buf, b"hello, netcode");

        let mut wrong_seq = sealed;
        assert_eq!(
            cipher.open(43, b"aad", &mut wrong_seq, &tag),
            Err(OpenError)
        );
        let mut wrong_aad = sealed;
        assert_eq!(
            cipher.open(42, b"aaD", &mut wrong_aad, &tag),
            Err(OpenError)
        );
        let mut flipped = sealed;
        flipped[0] ^= 1;
        assert_eq!(cipher.open(42, b"aad", &mut flipped, &tag), Err(OpenError));
    }

    #[test]
    fn token_seal_then_open_round_trips_and_rejects_wrong_key() {
        let key = Key::from_bytes([1; KEY_LEN]);
        let nonce = [9; TOKEN_NONCE_LEN];
        let mut buf = [5u8; 64];
        let tag = seal_token(&key, &nonce, b"ad", &mut buf);
        let sealed = buf;
        open_token(&key, &nonce, b"ad", &mut buf, &tag).unwrap();
        assert_eq!(buf, [5u8; 64]);
        let mut again = sealed;
        let other = Key::from_bytes([2; KEY_LEN]);
        assert_eq!(
            open_token(&other, &nonce, b"ad", &mut again, &tag),
            Err(OpenError)
        );
    }

    #[test]
    fn the_packet_backend_is_the_one_the_features_choose() {
        let cipher = PacketCipher::new(&Key::from_bytes([0; KEY_LEN]));
        let expected = if cfg!(feature = "ring") {
            "PacketCipher(ring)"
        } else {
            "PacketCipher(portable)"
        };
        assert_eq!(format!("{cipher:?}"), expected);
    }

    #[test]
    fn key_debug_hides_bytes() {
        assert_eq!(format!("{:?}", Key::from_bytes([0xab; KEY_LEN])), "Key(..)");
    }
}
