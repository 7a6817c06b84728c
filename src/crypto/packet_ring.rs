//! The packet AEAD on `ring`'s ChaCha20-Poly1305 (the default backend).

use super::{KEY_LEN, MAC_LEN, OpenError};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, Tag, UnboundKey};

/// The backend's name, for `PacketCipher`'s `Debug`.
pub(super) const NAME: &str = "ring";

/// A prepared key.
#[derive(Clone)]
pub(super) struct Cipher(LessSafeKey);

impl Cipher {
    pub(super) fn new(key: &[u8; KEY_LEN]) -> Self {
        match UnboundKey::new(&CHACHA20_POLY1305, key) {
            Ok(unbound) => Self(LessSafeKey::new(unbound)),
            // ring refuses only a key of the wrong length, and this one is 32 bytes.
            Err(_) => unreachable!("a 32-byte key is always a valid ChaCha20-Poly1305 key"),
        }
    }

    pub(super) fn seal(&self, nonce: [u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; MAC_LEN] {
        let nonce = Nonce::assume_unique_for_key(nonce);
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

    pub(super) fn open(
        &self,
        nonce: [u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; MAC_LEN],
    ) -> Result<(), OpenError> {
        let nonce = Nonce::assume_unique_for_key(nonce);
        self.0
            .open_in_place_separate_tag(nonce, Aad::from(aad), Tag::from(*tag), buf, 0..)
            .map(|_| ())
            .map_err(|_| OpenError)
    }
}
