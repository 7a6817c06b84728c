//! The challenge token: proof that a client received the server's challenge.
//!
//! Plaintext, 300 bytes (netcode-spec §3): client id `u64`, 256 bytes of user
//! data, zeros to byte 284. ChaCha20-Poly1305 IETF seals bytes 0..284 with
//! the server's challenge key, no AAD, and the nonce `[0; 4] | challenge
//! sequence LE`; the tag fills bytes 284..300. Only the server that made it
//! can open it, so a client that echoes it back has shown it can receive at
//! its address.

use super::connect_token::{USER_DATA_LEN, UserData};
use super::{Error, Reader, Writer};
use crate::crypto::{MAC_LEN, PacketCipher};

/// Length of a sealed challenge token, tag included.
pub const TOKEN_LEN: usize = 300;
const PLAIN_LEN: usize = TOKEN_LEN - MAC_LEN;

/// What the server remembers about a requesting client between challenge and response.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ChallengeToken {
    /// The client id from the connect token.
    pub client_id: u64,
    /// The user data from the connect token.
    pub user_data: UserData,
}

impl ChallengeToken {
    /// Writes and seals the token into `out` under `challenge_sequence`.
    pub fn seal(&self, cipher: &PacketCipher, challenge_sequence: u64, out: &mut [u8; TOKEN_LEN]) {
        let (plain, tag_out) = out.split_at_mut(PLAIN_LEN);
        let mut w = Writer::new(plain);
        // 8 + 256 bytes into a 284-byte region cannot fail.
        let _ = w.u64(self.client_id);
        let _ = w.bytes(&self.user_data);
        w.zero_pad_to_end();
        let tag = cipher.seal(challenge_sequence, &[], plain);
        tag_out.copy_from_slice(&tag);
    }

    /// Opens a sealed token made under `challenge_sequence`.
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] when it does not authenticate.
    pub fn open(
        sealed: &[u8; TOKEN_LEN],
        cipher: &PacketCipher,
        challenge_sequence: u64,
    ) -> Result<Self, Error> {
        let mut buf = *sealed;
        let (plain, tag) = buf.split_at_mut(PLAIN_LEN);
        let tag: [u8; MAC_LEN] = tag
            .try_into()
            .map_err(|_| Error::BadLength { len: TOKEN_LEN })?;
        cipher.open(challenge_sequence, &[], plain, &tag)?;
        let mut r = Reader::new(plain);
        Ok(Self {
            client_id: r.u64()?,
            user_data: *r.array::<USER_DATA_LEN>()?,
        })
    }
}
