//! Connect tokens already used, so one token serves one address only.
//!
//! Keyed by the private token's tag (its last 16 bytes), which is unique per
//! sealing and is read only after the token authenticated, so an attacker
//! without the private key cannot choose keys. Bounded: past the capacity
//! the oldest entry goes, as in the reference.
//!
//! A token is remembered only while it could still be used: once its
//! (authenticated) expiry has passed, the server refuses it before asking
//! the log, so the entry goes. The log's memory follows the tokens in
//! their lifetime, not every token since the start (eight entries a slot
//! at most), and shrinks when they are gone ([`super::sparse`]).

use super::sparse::shrunk_capacity;
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
    /// Tags in the order first used, with their tokens' expiry (Unix
    /// seconds).
    order: VecDeque<(TokenTag, u64)>,
}

impl TokenLog {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            first_use: HashMap::with_hasher(RandomState::new()),
            order: VecDeque::new(),
        }
    }

    /// Whether `from` may use the token with `tag`, which expires at
    /// `expires` (Unix seconds); records the first use. Expired tokens are
    /// forgotten by [`TokenLog::sweep`].
    pub(crate) fn admit(&mut self, tag: TokenTag, expires: u64, from: SocketAddr) -> bool {
        if let Some(first) = self.first_use.get(&tag) {
            return *first == from;
        }
        if self.order.len() >= self.capacity {
            if let Some((oldest, _)) = self.order.pop_front() {
                self.first_use.remove(&oldest);
            }
        }
        self.first_use.insert(tag, from);
        self.order.push_back((tag, expires));
        true
    }

    /// Forgets expired tokens, and shrinks the log once it is mostly
    /// empty. Tokens of mixed lifetimes may leave an expired one behind a
    /// live one for a while; the capacity bounds the log all the same.
    pub(crate) fn sweep(&mut self, now: u64) {
        while let Some(&(tag, expires)) = self.order.front() {
            if expires > now {
                break;
            }
            self.order.pop_front();
            self.first_use.remove(&tag);
        }
        if let Some(capacity) = shrunk_capacity(self.order.len(), self.first_use.capacity()) {
            self.first_use.shrink_to(capacity);
            self.order.shrink_to(capacity);
        }
    }

    /// Tokens remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::server::sparse::SHRINK_ABOVE;

    const NOW: u64 = 1_000;

    fn tag(i: u32) -> TokenTag {
        let mut tag = [0; 16];
        tag[..4].copy_from_slice(&i.to_le_bytes());
        tag
    }

    #[test]
    fn binds_a_token_to_its_first_address_and_stays_bounded() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let mut log = TokenLog::new(2);
        assert!(log.admit([1; 16], NOW + 30, a));
        assert!(log.admit([1; 16], NOW + 30, a));
        assert!(!log.admit([1; 16], NOW + 30, b));
        assert!(log.admit([2; 16], NOW + 30, b));
        assert!(log.admit([3; 16], NOW + 30, b));
        assert_eq!(log.first_use.len(), 2);
        // The oldest was forgotten.
        assert!(log.admit([1; 16], NOW + 30, b));
    }

    #[test]
    fn remembers_a_token_until_it_expires_and_no_longer() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let mut log = TokenLog::new(40_000);
        assert!(log.admit(tag(0), NOW + 30, a));
        log.sweep(NOW + 29);
        assert!(!log.admit(tag(0), NOW + 30, b), "still valid");
        log.sweep(NOW + 30);
        assert_eq!(
            log.len(),
            0,
            "expired: the server refuses it before the log"
        );
    }

    #[test]
    fn holds_memory_for_the_tokens_in_their_lifetime_not_for_its_capacity() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let mut log = TokenLog::new(40_000);
        // A steady churn: 100 tokens a second, each valid for 30 s, for 10 minutes.
        for second in 0..600u32 {
            let now = NOW + u64::from(second);
            for i in 0..100 {
                assert!(log.admit(tag(second * 100 + i), now + 30, a));
            }
            log.sweep(now);
        }
        assert!(log.len() <= 3_100, "{} remembered", log.len());
        assert!(log.first_use.capacity() < 8_000);
        log.sweep(NOW + 700);
        assert_eq!(log.len(), 0);
        assert!(log.first_use.capacity() <= SHRINK_ABOVE);
        assert!(log.order.capacity() <= SHRINK_ABOVE);
    }
}
