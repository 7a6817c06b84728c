//! The relay's address check: how it learns whether a consenting player's
//! NAT maps per destination (then punching cannot work through it).
//!
//! The player's own port hands it a ticket; the player sends the ticket
//! from the same socket to a second port; that port sees it from some
//! address and compares it with the one the first port sees. A ticket is
//! the player's id on the relay and a tag (XChaCha20-Poly1305 over nothing,
//! the id as nonce, under a key of this relay process), so a port verifies
//! it alone, and a forged or mangled check costs one tag check and no lock.

use super::protocol::{ADDRESS_CHECK_LEN, ADDRESS_CHECK_MARKER, CHECK_TICKET_LEN};
use crate::crypto::{Key, MAC_LEN, OsRandom, TOKEN_NONCE_LEN, open_token, seal_token};
use crate::engine::PeerId;
use crate::proto::server::ClientIndex;
use crate::wire::{Reader, Writer};

/// Associated data of every ticket.
const AAD: &[u8] = b"berth address check 1";

/// Makes and checks tickets; one per relay, shared by its ports.
#[derive(Debug)]
pub(crate) struct AddressCheck {
    key: Key,
}

impl AddressCheck {
    /// A checker with a fresh key.
    pub(crate) fn new() -> Self {
        Self {
            key: Key::generate(&mut OsRandom),
        }
    }

    /// `peer`'s ticket.
    pub(crate) fn ticket(&self, peer: PeerId) -> [u8; CHECK_TICKET_LEN] {
        let (id, nonce) = id_and_nonce(peer);
        let tag = seal_token(&self.key, &nonce, AAD, &mut []);
        let mut ticket = [0u8; CHECK_TICKET_LEN];
        let mut w = Writer::new(&mut ticket);
        let written = w.bytes(&id).and_then(|()| w.bytes(&tag));
        debug_assert!(written.is_ok(), "a ticket is an id and a tag");
        ticket
    }

    /// The player an address-check datagram names, if it is one and its
    /// ticket is genuine.
    pub(crate) fn verify(&self, datagram: &[u8]) -> Option<PeerId> {
        if datagram.len() != ADDRESS_CHECK_LEN || datagram.first() != Some(&ADDRESS_CHECK_MARKER) {
            return None;
        }
        let mut r = Reader::new(datagram.get(1..)?);
        let port = r.u16().ok()?;
        let slot = r.u32().ok()?;
        let generation = r.u32().ok()?;
        let tag = r.array::<MAC_LEN>().ok()?;
        let peer = PeerId::of(port, ClientIndex::new(slot, generation));
        let (_, nonce) = id_and_nonce(peer);
        open_token(&self.key, &nonce, AAD, &mut [], tag).ok()?;
        Some(peer)
    }
}

/// `peer`'s id as a ticket carries it, and the nonce made of it.
fn id_and_nonce(peer: PeerId) -> ([u8; 10], [u8; TOKEN_NONCE_LEN]) {
    let mut id = [0u8; 10];
    id[..2].copy_from_slice(&peer.port().to_le_bytes());
    id[2..6].copy_from_slice(&peer.slot().to_le_bytes());
    id[6..].copy_from_slice(&peer.client().generation().to_le_bytes());
    let mut nonce = [0u8; TOKEN_NONCE_LEN];
    nonce[..10].copy_from_slice(&id);
    (id, nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(ticket: &[u8; CHECK_TICKET_LEN]) -> Vec<u8> {
        let mut d = vec![ADDRESS_CHECK_MARKER];
        d.extend_from_slice(ticket);
        d
    }

    #[test]
    fn a_ticket_names_its_peer_and_nothing_else_passes() {
        let check = AddressCheck::new();
        let peer = PeerId::new(1, 77, 3);
        let genuine = datagram(&check.ticket(peer));
        assert_eq!(check.verify(&genuine), Some(peer));
        // Any flipped bit, another relay's key, a short or long datagram,
        // another marker: refused.
        for i in 0..genuine.len() {
            let mut bad = genuine.clone();
            bad[i] ^= 0x10;
            assert_eq!(check.verify(&bad), None, "byte {i}");
        }
        assert_eq!(AddressCheck::new().verify(&genuine), None);
        assert_eq!(check.verify(&genuine[..ADDRESS_CHECK_LEN - 1]), None);
        let mut long = genuine.clone();
        long.push(0);
        assert_eq!(check.verify(&long), None);
        assert_eq!(check.verify(&[]), None);
    }
}
