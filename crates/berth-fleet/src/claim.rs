//! Placing a match: players with byte-identical MatchInfo meet on one node,
//! whichever front they ask.
//!
//! The first front asked claims `open.<hash of the MatchInfo>` in the
//! `berth_rooms` bucket with a KV create, naming a node; later fronts join
//! that claim with a revision-checked update that counts the seat. When the
//! room is full, or its node is dead or draining, the next request replaces
//! the claim (again revision-checked) with a fresh room on a node of its
//! choosing: the key rotates. A conflict (another front wrote first) is
//! retried against the new value.
//!
//! A new room goes only to a node the player can reach (a browser's to a
//! node serving WebTransport). A browser whose match has an open room on a
//! node without WebTransport is refused before anything is written: taking
//! the seat would leave it empty for good, and replacing the room would
//! strand the players already in it.

use crate::record::{NodeRecord, PlayerTransport};
use serde::{Deserialize, Serialize};

/// An open room's claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The node holding the room.
    pub node: String,
    /// That node's epoch when the claim was made: a restarted node lost
    /// the room.
    pub epoch: u64,
    /// Seats handed out so far.
    pub seated: u8,
    /// Seats in the room.
    pub seats: u8,
    /// The room's fleet-wide id: its seed, and what its rejoin secrets
    /// name (`room.<id>` in the bucket says which node holds it).
    #[serde(default)]
    pub room: u64,
}

impl Claim {
    /// Reads a claim; `None` for anything else (a garbage value is treated
    /// like a dead owner: replaced).
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let claim: Self = serde_json::from_slice(bytes).ok()?;
        (claim.seats > 0 && claim.seated <= claim.seats).then_some(claim)
    }

    /// The claim as a bucket value.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The `berth_rooms` key of the open room for a MatchInfo, from its wire
/// encoding: FNV-1a 64, which every front computes alike.
pub fn open_key(match_info: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in match_info {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("open.{hash:016x}")
}

/// What a front does with the current claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// No claim yet: create this one (fails if another front got there first).
    Create(Claim),
    /// The claim's room has a seat: count it (revision-checked).
    Join(Claim),
    /// The room is full, or its node dead or draining: a new room here
    /// (revision-checked).
    Replace(Claim),
}

impl Step {
    /// The claim this step writes.
    pub const fn claim(&self) -> &Claim {
        match self {
            Self::Create(c) | Self::Join(c) | Self::Replace(c) => c,
        }
    }
}

/// Why [`decide`] found no step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unplaced {
    /// A new room is needed and no open node the player can reach can take
    /// it.
    NoNode,
    /// The match's open room has a seat, on this node, which the player
    /// cannot reach.
    Unreachable(String),
}

/// Decides the step for a player connecting over `transport` who asks for
/// a room of `seats`, given the `current` claim (`Some(None)` for a value
/// that is no claim) and the `live` nodes; `pick` chooses among the open
/// nodes the player can reach one for a new room, which gets id
/// `fresh_room`.
///
/// # Errors
///
/// [`Unplaced`]: no node for a new room, or an open room the player
/// cannot reach.
pub fn decide(
    current: Option<Option<Claim>>,
    live: &[NodeRecord],
    transport: PlayerTransport,
    seats: u8,
    fresh_room: u64,
    pick: impl FnOnce(&[&NodeRecord]) -> Option<usize>,
) -> Result<Step, Unplaced> {
    let open: Vec<&NodeRecord> = live.iter().filter(|n| !n.draining).collect();
    let fresh = || {
        let reachable: Vec<&NodeRecord> = open
            .iter()
            .copied()
            .filter(|n| n.serves(transport))
            .collect();
        let node = reachable
            .get(pick(&reachable).ok_or(Unplaced::NoNode)?)
            .ok_or(Unplaced::NoNode)?;
        Ok(Claim {
            node: node.node.clone(),
            epoch: node.epoch,
            seated: 1,
            seats,
            room: fresh_room,
        })
    };
    match current {
        None => fresh().map(Step::Create),
        Some(Some(claim)) => {
            let owner = open
                .iter()
                .find(|n| n.node == claim.node && n.epoch == claim.epoch);
            match owner {
                Some(owner) if claim.seated < claim.seats && claim.seats == seats => {
                    if !owner.serves(transport) {
                        return Err(Unplaced::Unreachable(owner.node.clone()));
                    }
                    Ok(Step::Join(Claim {
                        seated: claim.seated + 1,
                        ..claim
                    }))
                }
                _ => fresh().map(Step::Replace),
            }
        }
        Some(None) => fresh().map(Step::Replace),
    }
}

/// Of two nodes drawn with `random` (two indices), the less loaded: the
/// "power of two choices", which spreads rooms nearly as well as the least
/// loaded without every front herding onto the same node.
pub fn less_loaded_of_two(open: &[&NodeRecord], random: [usize; 2]) -> Option<usize> {
    if open.is_empty() {
        return None;
    }
    let [a, b] = random.map(|r| r % open.len());
    let load = |i: usize| open.get(i).map_or(u64::MAX, |n| n.load());
    Some(if load(b) < load(a) { b } else { a })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, epoch: u64, load: u32, draining: bool) -> NodeRecord {
        NodeRecord {
            node: id.into(),
            epoch,
            ports: vec!["127.0.0.2:4000".parse().unwrap()],
            loads: vec![load],
            rooms: 0,
            draining,
            webtransport: Vec::new(),
            certificate_hashes: Vec::new(),
        }
    }

    const UDP: PlayerTransport = PlayerTransport::Udp;
    const BROWSER: PlayerTransport = PlayerTransport::WebTransport;

    fn browser_node(id: &str) -> NodeRecord {
        NodeRecord {
            webtransport: vec!["127.0.0.2:4433".parse().unwrap()],
            ..node(id, 1, 0, false)
        }
    }

    fn first(_: &[&NodeRecord]) -> Option<usize> {
        Some(0)
    }

    #[test]
    fn a_room_fills_on_one_node_then_the_key_rotates() {
        let live = [node("a", 1, 0, false), node("b", 1, 0, false)];
        let Ok(Step::Create(c)) = decide(None, &live, UDP, 3, 9, first) else {
            panic!("create")
        };
        assert_eq!((c.node.as_str(), c.seated, c.room), ("a", 1, 9));
        let Ok(Step::Join(c)) = decide(Some(Some(c)), &live, UDP, 3, 9, first) else {
            panic!("join")
        };
        let Ok(Step::Join(c)) = decide(Some(Some(c)), &live, UDP, 3, 9, first) else {
            panic!("join")
        };
        assert_eq!(c.seated, 3);
        // Full: the next player opens a new room.
        let step = decide(Some(Some(c)), &live, UDP, 3, 9, |_| Some(1));
        assert!(matches!(step, Ok(Step::Replace(c)) if c.node == "b" && c.seated == 1));
    }

    #[test]
    fn a_dead_restarted_or_draining_owner_loses_its_room() {
        let claim = Claim {
            node: "a".into(),
            epoch: 1,
            seated: 1,
            seats: 4,
            room: 5,
        };
        let restarted = [node("a", 2, 0, false)];
        assert!(matches!(
            decide(Some(Some(claim.clone())), &restarted, UDP, 4, 9, first),
            Ok(Step::Replace(c)) if c.epoch == 2
        ));
        let draining = [node("a", 1, 0, true), node("b", 1, 0, false)];
        assert!(matches!(
            decide(Some(Some(claim.clone())), &draining, UDP, 4, 9, first),
            Ok(Step::Replace(c)) if c.node == "b"
        ));
        assert_eq!(
            decide(Some(Some(claim)), &[], UDP, 4, 9, first),
            Err(Unplaced::NoNode)
        );
        // Garbage in the bucket is replaced, never trusted.
        assert!(matches!(
            decide(Some(None), &[node("b", 1, 0, false)], UDP, 4, 9, first),
            Ok(Step::Replace(_))
        ));
        assert_eq!(Claim::parse(b"nonsense"), None);
        assert_eq!(
            Claim::parse(br#"{"node":"a","epoch":1,"seated":5,"seats":4}"#),
            None
        );
    }

    #[test]
    fn a_browser_gets_rooms_only_where_it_can_connect_and_takes_no_seat_it_cannot_reach() {
        let live = [node("udp", 1, 0, false), browser_node("wt")];
        // Picking the first node it is offered, a browser is offered only
        // the node serving WebTransport; a UDP player is offered both.
        let Ok(Step::Create(c)) = decide(None, &live, BROWSER, 2, 9, first) else {
            panic!("create")
        };
        assert_eq!(c.node, "wt");
        let Ok(Step::Create(udp_room)) = decide(None, &live, UDP, 2, 9, first) else {
            panic!("create")
        };
        assert_eq!(udp_room.node, "udp");
        // The open room is on the UDP-only node: the browser is refused
        // and nothing is written, so the room's seat waits for the next
        // UDP player.
        assert_eq!(
            decide(Some(Some(udp_room.clone())), &live, BROWSER, 2, 9, first),
            Err(Unplaced::Unreachable("udp".into()))
        );
        assert!(matches!(
            decide(Some(Some(udp_room.clone())), &live, UDP, 2, 9, first),
            Ok(Step::Join(c)) if c.node == "udp" && c.seated == 2
        ));
        // Once that room is full, a browser's new room goes where it can
        // connect.
        let full = Claim {
            seated: 2,
            ..udp_room
        };
        assert!(matches!(
            decide(Some(Some(full)), &live, BROWSER, 2, 9, first),
            Ok(Step::Replace(c)) if c.node == "wt"
        ));
        assert_eq!(
            decide(None, &[node("udp", 1, 0, false)], BROWSER, 2, 9, first),
            Err(Unplaced::NoNode)
        );
    }

    #[test]
    fn the_less_loaded_of_two_wins_and_keys_are_stable() {
        let nodes = [node("a", 1, 9, false), node("b", 1, 2, false)];
        let open: Vec<&NodeRecord> = nodes.iter().collect();
        assert_eq!(less_loaded_of_two(&open, [0, 1]), Some(1));
        assert_eq!(less_loaded_of_two(&open, [2, 2]), Some(0));
        assert_eq!(less_loaded_of_two(&[], [0, 1]), None);
        assert_eq!(open_key(b"abc"), open_key(b"abc"));
        assert_ne!(open_key(b"abc"), open_key(b"abd"));
        assert!(open_key(b"").starts_with("open."));
    }
}
