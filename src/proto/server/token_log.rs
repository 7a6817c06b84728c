//! Connect tokens already used, so one token serves one address only.
//!
//! Keyed by the private token's tag (its last 16 bytes), which is unique per
//! sealing and is read only after the token authenticated, so an attacker
//! without the private key cannot choose keys. Bounded: past the capacity
//! the oldest entry goes, as in the reference.
//!
//! The log grows with use instead of reserving its capacity up front: a
//! reserved table's entries land on random pages, so after a few thousand
//! connections the whole reservation (eight entries per slot) is resident.

use ahash::RandomState;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

/// The authentication tag of a private token.
pub(crate) type TokenTag = [u8; 16];

#[derive(Debug)]
pub(crate) struct TokenLog {
    capacity: usize,
    // ahash with a random seed: bounded lookups even if tags were chosen.
    first_use: HashMap<TokenTag, SocketAddr, RandomState>,
    order: VecDeque<TokenTag>,
}

impl TokenLog {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            first_use: HashMap::with_hasher(RandomState::new()),
            order: VecDeque::new(),
        }
    }

    /// Whether `from` may use the token with `tag`; records the first use.
    pub(crate) fn admit(&mut self, tag: TokenTag, from: SocketAddr) -> bool {
        if let Some(first) = self.first_use.get(&tag) {
            return *first == from;
        }
        if self.order.len() >= self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.first_use.remove(&oldest);
            }
        }
        self.first_use.insert(tag, from);
        self.order.push_back(tag);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_a_token_to_its_first_address_and_stays_bounded() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let mut log = TokenLog::new(2);
        assert!(log.admit([1; 16], a));
        assert!(log.admit([1; 16], a));
        assert!(!log.admit([1; 16], b));
        assert!(log.admit([2; 16], b));
        assert!(log.admit([3; 16], b));
        assert_eq!(log.first_use.len(), 2);
        // The oldest was forgotten.
        assert!(log.admit([1; 16], b));
    }

    #[test]
    fn holds_memory_for_the_tokens_used_not_for_its_capacity() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let mut log = TokenLog::new(40_000);
        for i in 0..100u32 {
            let mut tag = [0; 16];
            tag[..4].copy_from_slice(&i.to_le_bytes());
            assert!(log.admit(tag, a));
        }
        assert!(log.first_use.capacity() < 1_000);
        assert!(log.order.capacity() < 1_000);
    }
}
