//! What a relay allows.

use std::time::Duration;

/// Limits and windows of a relay. Every table it keeps has a bound here.
#[derive(Debug, Clone)]
#[must_use]
pub struct RelayConfig {
    pub(crate) max_rooms: usize,
    pub(crate) max_lobby_list: usize,
    pub(crate) rejoin_grace: Duration,
    pub(crate) requests_per_sec: u32,
    pub(crate) request_burst: u32,
    pub(crate) direct_play: bool,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            max_rooms: 100_000,
            max_lobby_list: super::protocol::MAX_LOBBY_LIST,
            rejoin_grace: Duration::from_secs(30),
            requests_per_sec: 5,
            request_burst: 20,
            direct_play: false,
        }
    }
}

impl RelayConfig {
    /// Rooms (waiting, lobbies and matches) the relay holds at once; past
    /// it, new ones are refused with `Full`. Default 100,000.
    pub const fn max_rooms(mut self, n: usize) -> Self {
        self.max_rooms = n;
        self
    }

    /// How long a dropped player's seat stays open for a rejoin. Default 30 s.
    pub const fn rejoin_grace(mut self, grace: Duration) -> Self {
        self.rejoin_grace = grace;
        self
    }

    /// Whether players may play directly: the relay then introduces the
    /// consenting players of a room opened by a consenting player (see
    /// [`crate::relay::RelayClient::allow_direct`]), showing each the
    /// other's address. Off by default: the relay shows no one's address.
    pub const fn direct_play(mut self, allowed: bool) -> Self {
        self.direct_play = allowed;
        self
    }

    /// Matchmaking requests (not proxied messages) one peer may make per
    /// second, with `burst` at once. A failed lobby join costs five, which
    /// makes guessing codes slow. Default 5 per second, bursts of 20.
    pub const fn requests_per_sec(mut self, per_sec: u32, burst: u32) -> Self {
        self.requests_per_sec = per_sec;
        self.request_burst = burst;
        self
    }
}
