//! Per-source limits on connection requests, checked before a request's
//! token is opened.
//!
//! Each request costs the server a token decryption. A source address may
//! make a fixed number per one-second window; the rest are dropped before
//! they are read. The key is the whole address, IP and port: many players
//! share one IP behind a carrier NAT, while one client socket retries at
//! only 10 Hz. The table resets every window and holds at most
//! [`MAX_SOURCES`] addresses: past that, new sources go unlimited for the
//! rest of the window rather than be refused, so a flood of spoofed
//! addresses cannot lock real clients out. It is cheap insurance against
//! one busy source, not a defence against a distributed flood.

use ahash::RandomState;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Most sources tracked in one window.
const MAX_SOURCES: usize = 4096;
const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(crate) struct RequestLimiter {
    per_window: u32,
    window_start: Instant,
    // Keyed by sender-chosen addresses: randomly seeded hashing.
    counts: HashMap<SocketAddr, u32, RandomState>,
}

impl RequestLimiter {
    pub(crate) fn new(per_window: u32, now: Instant) -> Self {
        Self {
            per_window,
            window_start: now,
            counts: HashMap::with_capacity_and_hasher(256, RandomState::new()),
        }
    }

    /// Whether a request from `source` may be read now; counts it.
    pub(crate) fn admit(&mut self, source: SocketAddr, now: Instant) -> bool {
        if now.saturating_duration_since(self.window_start) >= WINDOW {
            self.counts.clear();
            self.window_start = now;
        }
        if let Some(count) = self.counts.get_mut(&source) {
            *count = count.saturating_add(1);
            return *count <= self.per_window;
        }
        if self.counts.len() < MAX_SOURCES {
            self.counts.insert(source, 1);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_each_source_per_window() {
        let t0 = crate::proto::tests::epoch();
        let mut limiter = RequestLimiter::new(3, t0);
        let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:1001".parse().unwrap();
        assert!((0..3).all(|_| limiter.admit(a, t0)));
        assert!(!limiter.admit(a, t0));
        assert!(limiter.admit(b, t0));
        assert!(limiter.admit(a, t0 + WINDOW));
    }

    #[test]
    fn a_full_table_does_not_refuse_new_sources() {
        let t0 = crate::proto::tests::epoch();
        let mut limiter = RequestLimiter::new(1, t0);
        for i in 0..MAX_SOURCES as u32 {
            assert!(limiter.admit(SocketAddr::from((i.to_be_bytes(), 1)), t0));
        }
        let newcomer: SocketAddr = "127.9.9.9:9".parse().unwrap();
        assert!(limiter.admit(newcomer, t0));
        assert!(limiter.admit(newcomer, t0));
        assert_eq!(limiter.counts.len(), MAX_SOURCES);
    }
}
