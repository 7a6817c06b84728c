//! What one run measures, read from environment variables (see the table
//! in `benches/relay.rs`).

use std::time::Duration;

/// The relays, and the raw-UDP floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum System {
    /// berth's `RelayServer` on its port threads.
    Berth,
    /// The quinn forwarder written for this benchmark.
    Quic,
    /// The raw-UDP forwarder with no protocol: what the kernel alone costs.
    Floor,
}

impl System {
    /// The name in the table, the JSON and `RELAY_BENCH_SYSTEMS`.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Berth => "berth",
            Self::Quic => "quic",
            Self::Floor => "floor",
        }
    }
}

/// Settings of one run.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Room counts, in run order (`RELAY_BENCH_ROOMS`, default `4,16,64,128`).
    pub(crate) rooms: Vec<usize>,
    /// Measured time per cell (`RELAY_BENCH_SECS`, default 4).
    pub(crate) duration: Duration,
    /// Load before measuring, per cell (`RELAY_BENCH_WARMUP`, default 1 s).
    pub(crate) warmup: Duration,
    /// Reliable, unreliable or both (`RELAY_BENCH_MODES`, default `reliable,unreliable`).
    pub(crate) modes: Vec<bool>,
    /// Which relays (`RELAY_BENCH_SYSTEMS`, default `berth,quic,floor`).
    pub(crate) systems: Vec<System>,
    /// berth's port threads (`RELAY_BENCH_PORTS`, default 1, like the
    /// baseline's one runtime thread).
    pub(crate) ports: u16,
    /// Messages per player per second (`RELAY_BENCH_RATE`, default 60).
    pub(crate) rate: u32,
    /// Message bytes, at least 16 (`RELAY_BENCH_SIZE`, default 32).
    pub(crate) size: usize,
    /// Rooms whose players are polled tightly and give the latency samples
    /// (`RELAY_BENCH_PROBE_ROOMS`, default 2; at most the room count).
    pub(crate) probe_rooms: usize,
    /// Whether to add a berth cell at half its measured capacity
    /// (`RELAY_BENCH_HALF`, default 1).
    pub(crate) half_step: bool,
    /// How many times the half-capacity cells run, berth then floor each
    /// time (`RELAY_BENCH_HALF_REPEATS`, default 3): the verdict takes the
    /// median p99, as one cell's tail swings with the machine.
    pub(crate) half_repeats: usize,
    /// The most rooms the half-capacity cell may use (`RELAY_BENCH_MAX_ROOMS`,
    /// default 256): the load generator shares the machine's two cores.
    pub(crate) max_rooms: usize,
    /// Where the JSON goes (`RELAY_BENCH_OUT`, default `results/relay.json`).
    pub(crate) out: String,
}

impl Settings {
    /// Reads the environment; unreadable values fall back to the defaults.
    pub(crate) fn from_env() -> Self {
        let rooms = list("RELAY_BENCH_ROOMS", "4,16,64,128")
            .iter()
            .filter_map(|r| r.parse().ok())
            .filter(|&r: &usize| r > 0)
            .collect();
        let modes = list("RELAY_BENCH_MODES", "reliable,unreliable")
            .iter()
            .filter_map(|m| match m.as_str() {
                "reliable" => Some(true),
                "unreliable" => Some(false),
                _ => None,
            })
            .collect();
        let systems = list("RELAY_BENCH_SYSTEMS", "berth,quic,floor")
            .iter()
            .filter_map(|s| match s.as_str() {
                "berth" => Some(System::Berth),
                "quic" => Some(System::Quic),
                "floor" => Some(System::Floor),
                _ => None,
            })
            .collect();
        Self {
            rooms,
            duration: Duration::from_secs_f64(number("RELAY_BENCH_SECS", 4.0)),
            warmup: Duration::from_secs_f64(number("RELAY_BENCH_WARMUP", 1.0)),
            modes,
            systems,
            ports: number("RELAY_BENCH_PORTS", 1u16).max(1),
            rate: number("RELAY_BENCH_RATE", 60u32).max(1),
            size: number("RELAY_BENCH_SIZE", 32usize).clamp(16, 1000),
            probe_rooms: number("RELAY_BENCH_PROBE_ROOMS", 2usize),
            half_step: number("RELAY_BENCH_HALF", 1u8) != 0,
            half_repeats: number("RELAY_BENCH_HALF_REPEATS", 3usize).max(1),
            max_rooms: number("RELAY_BENCH_MAX_ROOMS", 256usize),
            out: std::env::var("RELAY_BENCH_OUT").unwrap_or_else(|_| "results/relay.json".into()),
        }
    }

    /// Time between two messages of one player.
    pub(crate) fn frame(&self) -> Duration {
        Duration::from_secs_f64(1.0 / f64::from(self.rate))
    }
}

/// A comma-separated variable, lower-cased and trimmed.
fn list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A number variable, or `default` when unset or unreadable.
fn number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}
