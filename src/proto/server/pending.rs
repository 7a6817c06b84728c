//! Handshakes in progress: the keys for addresses between request and response.
//!
//! The reference calls these encryption mappings. An entry is made only for
//! a request whose private token opened with the server's key, so an
//! attacker cannot fill the table without valid tokens; it is bounded all
//! the same, and entries expire.
//!
//! The table grows with a rush of connections and gives the memory back
//! once the rush is over ([`super::sparse`]).

use super::sparse::shrunk_capacity;
use crate::crypto::Key;
use ahash::RandomState;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A handshake's keys, raw: a cipher is made from them when a packet
/// needs one, so an entry is 100 bytes, not a kilobyte (the table may hold
/// thousands during a rush of connections, and its memory stays).
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) send_key: Key,
    pub(crate) recv_key: Key,
    pub(crate) timeout: Option<Duration>,
    pub(crate) expire_at: Instant,
    pub(crate) last_access: Instant,
}

impl Pending {
    fn is_expired(&self, now: Instant) -> bool {
        now >= self.expire_at
            || self
                .timeout
                .is_some_and(|t| now.saturating_duration_since(self.last_access) > t)
    }
}

#[derive(Debug)]
pub(crate) struct PendingTable {
    capacity: usize,
    // Keyed by source address, which the sender picks: randomly seeded ahash.
    entries: HashMap<SocketAddr, Pending, RandomState>,
}

impl PendingTable {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::with_hasher(RandomState::new()),
        }
    }

    /// The live entry for `from`, touched.
    pub(crate) fn get(&mut self, from: &SocketAddr, now: Instant) -> Option<&Pending> {
        let expired = self.entries.get(from)?.is_expired(now);
        if expired {
            self.entries.remove(from);
            return None;
        }
        let entry = self.entries.get_mut(from)?;
        entry.last_access = now;
        Some(entry)
    }

    /// Adds or refreshes the entry for `from`; false when the table is full of live entries.
    pub(crate) fn insert(&mut self, from: SocketAddr, entry: Pending, now: Instant) -> bool {
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&from) {
            self.sweep(now);
            if self.entries.len() >= self.capacity {
                return false;
            }
        }
        self.entries.insert(from, entry);
        true
    }

    pub(crate) fn remove(&mut self, from: &SocketAddr) {
        self.entries.remove(from);
    }

    /// Drops expired entries, and shrinks the table once it is mostly empty.
    pub(crate) fn sweep(&mut self, now: Instant) {
        self.entries.retain(|_, e| !e.is_expired(now));
        if let Some(capacity) = shrunk_capacity(self.entries.len(), self.entries.capacity()) {
            self.entries.shrink_to(capacity);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::server::sparse::SHRINK_ABOVE;
    use crate::proto::tests::epoch;

    fn entry(now: Instant) -> Pending {
        Pending {
            send_key: Key::from_bytes([1; 32]),
            recv_key: Key::from_bytes([2; 32]),
            timeout: None,
            expire_at: now + Duration::from_secs(5),
            last_access: now,
        }
    }

    fn address(i: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], i))
    }

    #[test]
    fn gives_back_the_memory_of_a_rush_once_it_expires() {
        let now = epoch();
        let mut table = PendingTable::new(10_000);
        for i in 0..5_000 {
            assert!(table.insert(address(i), entry(now), now));
        }
        let peak = table.entries.capacity();
        assert!(peak >= 5_000);
        // Ten handshakes arrive later, and outlive the rush.
        let later = now + Duration::from_secs(3);
        for i in 5_000..5_010 {
            assert!(table.insert(address(i), entry(later), later));
        }
        table.sweep(now + Duration::from_secs(6));
        assert_eq!(table.len(), 10);
        assert!(
            table.entries.capacity() <= SHRINK_ABOVE,
            "{} slots kept for 10 entries (peak {peak})",
            table.entries.capacity()
        );
        assert!(
            table
                .get(&address(5_003), now + Duration::from_secs(6))
                .is_some()
        );
    }

    #[test]
    fn refuses_past_its_capacity_of_live_entries() {
        let now = epoch();
        let mut table = PendingTable::new(3);
        for i in 0..3 {
            assert!(table.insert(address(i), entry(now), now));
        }
        assert!(!table.insert(address(9), entry(now), now));
        // A refresh of a held address is not a new entry.
        assert!(table.insert(address(1), entry(now), now));
        assert!(table.insert(address(9), entry(now), now + Duration::from_secs(5)));
    }
}
