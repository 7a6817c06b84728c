//! [`PacketCipher`] on `ring`'s ChaCha20-Poly1305 (the default backend).

use super::{Key, MAC_LEN, OpenError, sequence_nonce};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, Tag, UnboundKey};
use std::fmt;

/// A ChaCha20-Poly1305 key ready to seal or open packets and challenge tokens.
///
/// Build it once per connection direction: construction expands the key, and
/// sealing reuses it.
#[derive(Clone)]
pub struct PacketCipher(LessSafeKey);

impl PacketCipher {
    /// Prepares `key` for use.
    pub fn new(key: &Key) -> Self {
        match UnboundKey::new(&CHACHA20_POLY1305, key.as_bytes()) {
            Ok(unbound) => Self(LessSafeKey::new(unbound)),
            // ring refuses only a key of the wrong length, and `Key` is always 32 bytes.
            Err(_) => unreachable!("a 32-byte key is always a valid ChaCha20-Poly1305 key"),
        }
    }

    /// Encrypts `buf` in place under `sequence` and `aad`, returning the tag.
    pub fn seal(&self, sequence: u64, aad: &[u8], buf: &mut [u8]) -> [u8; MAC_LEN] {
        let nonce = Nonce::assume_unique_for_key(sequence_nonce(sequence));
        let mut tag = [0u8; MAC_LEN];
        // ring fails only past 256 GiB of input; packets are at most a few KiB.
        if let Ok(sealed) = self
            .0
            .seal_in_place_separate_tag(nonce, Aad::from(aad), buf)
        {
            tag.copy_from_slice(sealed.as_ref());
        }
        tag
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
        let nonce = Nonce::assume_unique_for_key(sequence_nonce(sequence));
        self.0
            .open_in_place_separate_tag(nonce, Aad::from(aad), Tag::from(*tag), buf, 0..)
            .map(|_| ())
            .map_err(|_| OpenError)
    }
}

impl fmt::Debug for PacketCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PacketCipher(ring)")
    }
}
