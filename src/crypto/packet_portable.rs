//! [`PacketCipher`] on the pure-Rust `chacha20poly1305` crate, for targets
//! `ring` does not build on (the `ring` feature turned off).

use super::{Key, MAC_LEN, OpenError, sequence_nonce};
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce, Tag};
use std::fmt;

/// A ChaCha20-Poly1305 key ready to seal or open packets and challenge tokens.
///
/// Build it once per connection direction: construction copies the key, and
/// sealing reuses it.
#[derive(Clone)]
pub struct PacketCipher(ChaCha20Poly1305);

impl PacketCipher {
    /// Prepares `key` for use.
    pub fn new(key: &Key) -> Self {
        Self(ChaCha20Poly1305::new(&(*key.as_bytes()).into()))
    }

    /// Encrypts `buf` in place under `sequence` and `aad`, returning the tag.
    pub fn seal(&self, sequence: u64, aad: &[u8], buf: &mut [u8]) -> [u8; MAC_LEN] {
        let nonce = Nonce::from(sequence_nonce(sequence));
        self.0
            .encrypt_inout_detached(&nonce, aad, buf.into())
            // Only messages over 256 GiB fail; ours are at most a few KiB.
            .unwrap_or_default()
            .into()
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
        let nonce = Nonce::from(sequence_nonce(sequence));
        self.0
            .decrypt_inout_detached(&nonce, aad, buf.into(), &Tag::from(*tag))
            .map_err(|_| OpenError)
    }
}

impl fmt::Debug for PacketCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PacketCipher(portable)")
    }
}
