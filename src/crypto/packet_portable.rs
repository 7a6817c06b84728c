//! The packet AEAD on the pure-Rust `chacha20poly1305` crate, for targets
//! `ring` does not build on (the `ring` feature turned off).

use super::{KEY_LEN, MAC_LEN, OpenError};
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce, Tag};

/// The backend's name, for `PacketCipher`'s `Debug`.
pub(super) const NAME: &str = "portable";

/// A prepared key.
#[derive(Clone)]
pub(super) struct Cipher(ChaCha20Poly1305);

impl Cipher {
    pub(super) fn new(key: &[u8; KEY_LEN]) -> Self {
        Self(ChaCha20Poly1305::new(&(*key).into()))
    }

    pub(super) fn seal(&self, nonce: [u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; MAC_LEN] {
        self.0
            .encrypt_inout_detached(&Nonce::from(nonce), aad, buf.into())
            // Only messages over 256 GiB fail; ours are at most a few KiB.
            .unwrap_or_default()
            .into()
    }

    pub(super) fn open(
        &self,
        nonce: [u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; MAC_LEN],
    ) -> Result<(), OpenError> {
        self.0
            .decrypt_inout_detached(&Nonce::from(nonce), aad, buf.into(), &Tag::from(*tag))
            .map_err(|_| OpenError)
    }
}
