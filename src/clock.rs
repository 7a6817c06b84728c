//! Wall-clock time for code that must not read a clock.
//!
//! Token expiry is in unix seconds, but the protocol core takes only
//! `now: Instant`. A [`WallClock`] is the bridge: an instant and the unix
//! time at that instant, read once by the caller (the engine, a tool, a
//! test with a fixed value), from which unix time follows for any later
//! `now`.

use std::time::Instant;

/// Unix time anchored to an [`Instant`], so state machines read wall-clock
/// time without a clock of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    at: Instant,
    unix_secs: u64,
}

impl WallClock {
    /// The wall clock reads `unix_secs` at `at`.
    pub const fn new(at: Instant, unix_secs: u64) -> Self {
        Self { at, unix_secs }
    }

    /// The system's wall clock now, anchored to `Instant::now()`.
    ///
    /// A clock before 1970 reads as 0.
    pub fn system() -> Self {
        let unix_secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self::new(Instant::now(), unix_secs)
    }

    /// Unix seconds at `now`.
    pub fn unix_secs(&self, now: Instant) -> u64 {
        self.unix_secs
            .saturating_add(now.saturating_duration_since(self.at).as_secs())
    }
}
