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

use crate::record::NodeRecord;
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

/// Decides the step for a request for a room of `seats`, given the
/// `current` claim (`Some(None)` for a value that is no claim) and the
/// `live` nodes; `pick` chooses a node for a new room, which gets id
/// `fresh_room`. `None` when a new room is needed and no node can take it.
pub fn decide(
    current: Option<Option<Claim>>,
    live: &[NodeRecord],
    seats: u8,
    fresh_room: u64,
    pick: impl FnOnce(&[&NodeRecord]) -> Option<usize>,
) -> Option<Step> {
    let open: Vec<&NodeRecord> = live.iter().filter(|n| !n.draining).collect();
    let fresh = |open: &[&NodeRecord]| {
        let node = open.get(pick(open)?)?;
        Some(Claim {
            node: node.node.clone(),
            epoch: node.epoch,
            seated: 1,
            seats,
            room: fresh_room,
        })
    };
    match current {
        None => fresh(&open).map(Step::Create),
        Some(Some(claim)) => {
            let owner_open = open
                .iter()
                .any(|n| n.node == claim.node && n.epoch == claim.epoch);
            if owner_open && claim.seated < claim.seats && claim.seats == seats {
                Some(Step::Join(Claim {
                    seated: claim.seated + 1,
                    ..claim
                }))
            } else {
                fresh(&open).map(Step::Replace)
            }
        }
        Some(None) => fresh(&open).map(Step::Replace),
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

    fn first(_: &[&NodeRecord]) -> Option<usize> {
        Some(0)
    }

    #[test]
    fn a_room_fills_on_one_node_then_the_key_rotates() {
        let live = [node("a", 1, 0, false), node("b", 1, 0, false)];
        let Some(Step::Create(c)) = decide(None, &live, 3, 9, first) else {
            panic!("create")
        };
        assert_eq!((c.node.as_str(), c.seated, c.room), ("a", 1, 9));
        let Some(Step::Join(c)) = decide(Some(Some(c)), &live, 3, 9, first) else {
            panic!("join")
        };
        let Some(Step::Join(c)) = decide(Some(Some(c)), &live, 3, 9, first) else {
            panic!("join")
        };
        assert_eq!(c.seated, 3);
        // Full: the next player opens a new room.
        let step = decide(Some(Some(c)), &live, 3, 9, |_| Some(1));
        assert!(matches!(step, Some(Step::Replace(c)) if c.node == "b" && c.seated == 1));
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
            decide(Some(Some(claim.clone())), &restarted, 4, 9, first),
            Some(Step::Replace(c)) if c.epoch == 2
        ));
        let draining = [node("a", 1, 0, true), node("b", 1, 0, false)];
        assert!(matches!(
            decide(Some(Some(claim.clone())), &draining, 4, 9, first),
            Some(Step::Replace(c)) if c.node == "b"
        ));
        assert_eq!(decide(Some(Some(claim)), &[], 4, 9, first), None);
        // Garbage in the bucket is replaced, never trusted.
        assert!(matches!(
            decide(Some(None), &[node("b", 1, 0, false)], 4, 9, first),
            Some(Step::Replace(_))
        ));
        assert_eq!(Claim::parse(b"nonsense"), None);
        assert_eq!(
            Claim::parse(br#"{"node":"a","epoch":1,"seated":5,"seats":4}"#),
            None
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
