//! Per-address token buckets for the token service, in a table with a cap.
//!
//! Knows nothing of HTTP: it answers "may this address have one more
//! token now?". IPv6 addresses are grouped by their /64, the block one
//! host usually holds, so one machine cannot dodge the limit by walking
//! its own subnet.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// How often a full table may be scanned for idle buckets: a scan is
/// O(table), and a flood of new addresses must not make every request pay it.
const PRUNE_INTERVAL: Duration = Duration::from_secs(1);

/// One address's bucket: tokens left, as of `updated`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets keyed by client address, `per_sec` refill and `burst`
/// capacity each, at most `max_addrs` of them.
///
/// When the table is full of active addresses, new addresses are refused
/// (fail closed) until idle buckets can be pruned: every token reserves a
/// place on a relay port, so a flood from many addresses must not turn
/// into a flood of tokens.
#[derive(Debug)]
pub struct RateLimiter {
    per_sec: f64,
    burst: f64,
    max_addrs: usize,
    /// Keyed by addresses the client chooses, so hashed with a random key.
    buckets: HashMap<IpAddr, Bucket, ahash::RandomState>,
    last_prune: Option<Instant>,
}

impl RateLimiter {
    /// A limiter allowing `per_sec` requests per second per address, with
    /// bursts of `burst`, tracking at most `max_addrs` addresses.
    pub fn new(per_sec: u32, burst: u32, max_addrs: usize) -> Self {
        Self {
            per_sec: f64::from(per_sec.max(1)),
            burst: f64::from(burst.max(1)),
            max_addrs: max_addrs.max(1),
            buckets: HashMap::with_hasher(ahash::RandomState::new()),
            last_prune: None,
        }
    }

    /// Takes one token from `ip`'s bucket at `now`; false when it is empty
    /// (or the table is full of active addresses and `ip` is new).
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        let key = bucket_key(ip);
        if !self.buckets.contains_key(&key) && self.buckets.len() >= self.max_addrs {
            self.prune(now);
            if self.buckets.len() >= self.max_addrs {
                return false;
            }
        }
        let (per_sec, burst) = (self.per_sec, self.burst);
        let bucket = self.buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Drops buckets that have refilled completely: forgetting them changes
    /// nothing. At most once per [`PRUNE_INTERVAL`].
    fn prune(&mut self, now: Instant) {
        if self
            .last_prune
            .is_some_and(|last| now.saturating_duration_since(last) < PRUNE_INTERVAL)
        {
            return;
        }
        self.last_prune = Some(now);
        let refill = Duration::from_secs_f64(self.burst / self.per_sec);
        self.buckets
            .retain(|_, b| now.saturating_duration_since(b.updated) < refill);
    }
}

/// The key an address is limited under: IPv4 as is (also when mapped
/// into IPv6), IPv6 by its /64.
fn bucket_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}
