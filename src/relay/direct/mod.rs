//! Direct play: two consenting players of a room that allows it, introduced
//! by the relay, punch through their NATs and talk straight to each other,
//! falling back to the relay whenever the direct path fails.
//!
//! Each introduced peer gets a [`path::DirectPath`]: a sans-IO state
//! machine fed datagrams and the time. It probes the peer's candidates from
//! the client's own socket (every 25 ms for 2 s, again 5 s and 15 s after
//! the start), latches onto whichever address an authentic probe comes
//! from, and counts the path direct once both sides have had the other's
//! datagrams. A direct path sends a keep-alive when it has sent nothing
//! for an interval, and three silent intervals send it back to the relay.
//!
//! The pair's messages ride channels of their own, sealed with the pair's
//! key (ChaCha20-Poly1305, a replay window as in netcode) whichever way they
//! go: straight to the peer, or through the relay, which forwards them
//! without being able to read them. The channels' acks and resends are end
//! to end, so a switch of path loses and repeats nothing.

pub(crate) mod path;
pub(crate) mod peers;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Duration;

/// The timings of direct play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct DirectConfig {
    pub(crate) probe_interval: Duration,
    pub(crate) burst: Duration,
    /// When rounds of probing start, after the first.
    pub(crate) retries: [Duration; 2],
    pub(crate) keepalive: Duration,
}

impl Default for DirectConfig {
    fn default() -> Self {
        Self {
            probe_interval: Duration::from_millis(25),
            burst: Duration::from_secs(2),
            retries: [Duration::from_secs(5), Duration::from_secs(15)],
            keepalive: Duration::from_secs(2),
        }
    }
}

impl DirectConfig {
    /// How long a direct path may send nothing before it sends a
    /// keep-alive; three intervals without a word from the peer send the
    /// pair back to the relay. Default 2 s (at most 15 s, to keep NAT
    /// mappings open; longer values are cut to 15 s).
    pub fn keepalive(mut self, interval: Duration) -> Self {
        self.keepalive = interval.clamp(Duration::from_millis(10), Duration::from_secs(15));
        self
    }

    /// Rounds of probing: the first, then the retries.
    pub(crate) const fn rounds(&self) -> usize {
        1 + self.retries.len()
    }

    /// When round `round` starts, after the path's start.
    pub(crate) fn round_start(&self, round: usize) -> Duration {
        match round.checked_sub(1) {
            None => Duration::ZERO,
            Some(retry) => self.retries.get(retry).copied().unwrap_or(Duration::MAX),
        }
    }
}

/// Which way a peer's messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Straight between the two players.
    Direct,
    /// Through the relay.
    Relayed,
}

/// What a direct path counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathCounters {
    /// Probes and keep-alives sent.
    pub probes_sent: u64,
    /// Probes answered (one answer per authentic probe, of the same size).
    pub probes_answered: u64,
    /// Datagrams dropped as replays.
    pub replayed: u64,
    /// Datagrams dropped for failing authentication.
    pub bad_tag: u64,
    /// Datagrams dropped as malformed, another pair's, or with a bad payload.
    pub malformed: u64,
    /// Times a direct path went silent and the pair went back to the relay.
    pub fallbacks: u64,
}

/// How this player reaches one other player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerPath {
    /// Direct or relayed.
    pub route: Route,
    /// The pair channels' round-trip estimate, once an ack has come back.
    pub rtt: Option<Duration>,
    /// The peer's address on a direct path.
    pub address: Option<SocketAddr>,
    /// How long the path took to become direct, from the first probe.
    pub time_to_direct: Option<Duration>,
    /// Probes and drops.
    pub counters: PathCounters,
}
