//! Handshakes in progress: the keys for addresses between request and response.
//!
//! The reference calls these encryption mappings. An entry is made only for
//! a request whose private token opened with the server's key, so an
//! attacker cannot fill the table without valid tokens; it is bounded all
//! the same, and entries expire.

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
            entries: HashMap::with_capacity_and_hasher(capacity.min(4096), RandomState::new()),
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

    /// Drops expired entries.
    pub(crate) fn sweep(&mut self, now: Instant) {
        self.entries.retain(|_, e| !e.is_expired(now));
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}
