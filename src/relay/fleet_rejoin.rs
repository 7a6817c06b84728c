//! Rejoin secrets any node of a fleet can check: a fleet room's seat is
//! named by the room's id and the seat's index, and sealed with the key
//! every node and front shares. A node that never saw the room (its first
//! node died) can still tell a genuine secret and rebuild the room.
//!
//! | bytes | field |
//! |---|---|
//! | 8 | room id, `u64` LE |
//! | 1 | seat index |
//! | 7 | tag: the first 7 bytes of XChaCha20-Poly1305 over nothing, nonce = room id and index, under the fleet key |

use super::protocol::REJOIN_SECRET_LEN;
use crate::crypto::{Key, TOKEN_NONCE_LEN, seal_token};

/// Associated data of every secret's tag.
const AAD: &[u8] = b"berth fleet rejoin 1";
/// Bytes of the tag kept in a secret.
const TAG_LEN: usize = REJOIN_SECRET_LEN - 9;

/// Makes and checks fleet rejoin secrets with the fleet's key.
#[derive(Debug, Clone)]
pub struct FleetRejoin {
    key: Key,
}

impl FleetRejoin {
    /// Secrets under `key`, the fleet's private key (the one its tokens
    /// are sealed with).
    pub const fn new(key: Key) -> Self {
        Self { key }
    }

    /// The secret of seat `index` of fleet room `room`.
    pub fn secret(&self, room: u64, index: u8) -> [u8; REJOIN_SECRET_LEN] {
        let mut secret = [0u8; REJOIN_SECRET_LEN];
        secret[..8].copy_from_slice(&room.to_le_bytes());
        secret[8] = index;
        let tag = self.tag(room, index);
        secret[9..].copy_from_slice(&tag[..TAG_LEN]);
        secret
    }

    /// The room and seat a genuine secret names.
    pub fn open(&self, secret: &[u8; REJOIN_SECRET_LEN]) -> Option<(u64, u8)> {
        let room = u64::from_le_bytes(secret[..8].try_into().ok()?);
        let index = secret[8];
        let tag = self.tag(room, index);
        // Not constant time: the secret's holder learns nothing it could
        // not learn by asking, and guesses are rate limited.
        (tag[..TAG_LEN] == secret[9..]).then_some((room, index))
    }

    fn tag(&self, room: u64, index: u8) -> [u8; 16] {
        let mut nonce = [0u8; TOKEN_NONCE_LEN];
        nonce[..8].copy_from_slice(&room.to_le_bytes());
        nonce[8] = index;
        seal_token(&self.key, &nonce, AAD, &mut [])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_opens_to_its_seat_under_its_key_only() {
        let fleet = FleetRejoin::new(Key::from_bytes([3; 32]));
        let secret = fleet.secret(0xdead_beef, 2);
        assert_eq!(fleet.open(&secret), Some((0xdead_beef, 2)));
        for i in 0..REJOIN_SECRET_LEN {
            let mut bad = secret;
            bad[i] ^= 1;
            assert_eq!(fleet.open(&bad), None, "byte {i}");
        }
        assert_eq!(
            FleetRejoin::new(Key::from_bytes([4; 32])).open(&secret),
            None
        );
        assert_eq!(fleet.open(&[0; REJOIN_SECRET_LEN]), None);
    }
}
