//! Direct play in the matchmaker: who consented, from where, and the
//! introductions a started room's consenting pairs get.

use super::Outbound;
use crate::crypto::Random;
use crate::engine::PeerId;
use crate::relay::protocol::{Introduction, MAX_CANDIDATES, PAIR_KEY_LEN, RelayMessage};
use ahash::RandomState;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

/// A player's consent to direct play, for its connection.
#[derive(Debug, Clone)]
struct Consent {
    /// Where the relay sees it first, then its LAN addresses.
    candidates: Vec<SocketAddr>,
    /// Its round trip to the relay when it consented.
    rtt: Duration,
    /// What its address check showed: its NAT maps per destination
    /// (`None` before the check arrives).
    per_destination: Option<bool>,
}

/// The consents of connected players: one entry per peer at most, removed
/// when its connection ends.
#[derive(Debug, Default)]
pub(super) struct Consents {
    by_peer: HashMap<PeerId, Consent, RandomState>,
}

impl Consents {
    /// `peer`, seen at `observed` with round trip `rtt`, consents and
    /// reports `lan`.
    pub(super) fn allow(
        &mut self,
        peer: PeerId,
        observed: SocketAddr,
        lan: &[SocketAddr],
        rtt: Duration,
    ) {
        let mut candidates = vec![observed];
        for address in lan {
            if candidates.len() < MAX_CANDIDATES && !candidates.contains(address) {
                candidates.push(*address);
            }
        }
        let per_destination = None;
        self.by_peer.insert(
            peer,
            Consent {
                candidates,
                rtt,
                per_destination,
            },
        );
    }

    /// `peer`'s address check came from `from` at a second port: whether
    /// its NAT maps per destination (it showed another address there than
    /// on its own port). `None` without a consent, or for a repeat.
    pub(super) fn checked(&mut self, peer: PeerId, from: SocketAddr) -> Option<bool> {
        let consent = self.by_peer.get_mut(&peer)?;
        if consent.per_destination.is_some() {
            return None;
        }
        let per_destination = consent.candidates.first() != Some(&from);
        consent.per_destination = Some(per_destination);
        Some(per_destination)
    }

    /// Whether `peer` consented.
    pub(super) fn contains(&self, peer: PeerId) -> bool {
        self.by_peer.contains_key(&peer)
    }

    /// Forgets `peer`'s consent (its connection ended).
    pub(super) fn forget(&mut self, peer: PeerId) {
        self.by_peer.remove(&peer);
    }

    /// Introduces `player` to each of `others` (indices and peers) when
    /// both consented: one fresh key per pair, and the candidates and a
    /// start delay for each side.
    pub(super) fn introduce(
        &self,
        player: (u8, PeerId),
        others: impl IntoIterator<Item = (u8, PeerId)>,
        random: &mut dyn Random,
        out: &mut Vec<Outbound>,
    ) {
        let Some(mine) = self.by_peer.get(&player.1) else {
            return;
        };
        for (idx, peer) in others {
            let Some(theirs) = self.by_peer.get(&peer).filter(|_| peer != player.1) else {
                continue;
            };
            // Two NATs that both map per destination: no punch can work,
            // so the pair stays on the relay without trying.
            if mine.per_destination == Some(true) && theirs.per_destination == Some(true) {
                continue;
            }
            let mut key = [0u8; PAIR_KEY_LEN];
            random.fill(&mut key);
            // The nearer side waits half the difference, so that both
            // sides' first probes leave at about the same moment.
            let delay = |own: Duration, other: Duration| {
                let ms = other.saturating_sub(own).as_millis() / 2;
                u16::try_from(ms).unwrap_or(u16::MAX)
            };
            let to_player = Introduction {
                peer: idx,
                key,
                delay_ms: delay(mine.rtt, theirs.rtt),
                candidates: theirs.candidates.clone(),
            };
            let to_peer = Introduction {
                peer: player.0,
                key,
                delay_ms: delay(theirs.rtt, mine.rtt),
                candidates: mine.candidates.clone(),
            };
            out.push((player.1, RelayMessage::Introduce(to_player).to_vec()));
            out.push((peer, RelayMessage::Introduce(to_peer).to_vec()));
        }
    }
}
