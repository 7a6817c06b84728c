//! What one run measures, read from environment variables.

use std::time::Duration;

/// The servers one run can measure, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Batched UDP echo with no protocol and no crypto: the floor.
    Raw,
    /// berth in handler mode, with this many ports.
    Berth(u16),
    /// renetcode 2.x's `NetcodeServer` over a std `UdpSocket`.
    Renetcode,
    /// netcode-official's `Server`, which owns its socket.
    NetcodeOfficial,
}

impl Kind {
    /// Every kind, in run order.
    pub(crate) const ALL: [Self; 5] = [
        Self::Raw,
        Self::Berth(1),
        Self::Berth(2),
        Self::Renetcode,
        Self::NetcodeOfficial,
    ];

    /// The name in the table, the JSON and `THROUGHPUT_SERVERS`.
    pub(crate) fn name(self) -> String {
        match self {
            Self::Raw => "raw-udp".into(),
            Self::Berth(ports) => format!("berth-{ports}p"),
            Self::Renetcode => "renetcode".into(),
            Self::NetcodeOfficial => "netcode-official".into(),
        }
    }

    /// Whether clients do the netcode handshake and send sealed packets.
    pub(crate) const fn speaks_netcode(self) -> bool {
        !matches!(self, Self::Raw)
    }
}

/// The run's settings. Every field has a default; see [`Settings::from_env`].
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// How long each cell sends payloads.
    pub(crate) duration: Duration,
    /// Client counts (K).
    pub(crate) clients: Vec<usize>,
    /// Payload sizes in bytes.
    pub(crate) sizes: Vec<usize>,
    /// Servers to measure.
    pub(crate) kinds: Vec<Kind>,
    /// Payloads in flight (sent, not yet echoed) over all clients.
    pub(crate) in_flight: usize,
    /// Most bytes of packets sealed ahead per cell; a cell that uses them up ends early.
    pub(crate) preseal_bytes: usize,
    /// Longest a handshake of all K clients may take before the cell fails.
    pub(crate) handshake_timeout: Duration,
    /// Payloads one client sends per round, when set; else [`Settings::burst`]'s rule.
    pub(crate) burst: Option<usize>,
    /// Whether a client's burst may travel as one GSO/GRO message (see
    /// `loadgen::Lengths`); off by default, as game clients are on other hosts.
    pub(crate) coalesce: bool,
}

impl Settings {
    /// Reads the settings:
    ///
    /// - `THROUGHPUT_SECS` (3): seconds of load per cell;
    /// - `THROUGHPUT_CLIENTS` (`1,64,256`): client counts;
    /// - `THROUGHPUT_SIZES` (`64,1200`): payload sizes, 1..=1200;
    /// - `THROUGHPUT_SERVERS` (all): any of `raw-udp,berth-1p,berth-2p,renetcode,netcode-official`;
    /// - `THROUGHPUT_IN_FLIGHT` (2048): payloads in flight over all clients;
    /// - `THROUGHPUT_PRESEAL_MIB` (768): memory for packets sealed ahead, per cell;
    /// - `THROUGHPUT_BURST` (see [`Settings::burst`]): payloads per client per round;
    /// - `THROUGHPUT_COALESCE` (0): 1 lets a client's burst go out as one GSO message.
    ///
    /// # Panics
    ///
    /// On a value that does not parse, so a typo does not silently run the defaults.
    pub(crate) fn from_env() -> Self {
        let kinds = match std::env::var("THROUGHPUT_SERVERS") {
            Ok(list) => {
                let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
                for name in &wanted {
                    assert!(
                        Kind::ALL.iter().any(|k| k.name() == *name),
                        "THROUGHPUT_SERVERS: unknown server {name:?}"
                    );
                }
                Kind::ALL
                    .into_iter()
                    .filter(|k| wanted.contains(&k.name().as_str()))
                    .collect()
            }
            Err(_) => Kind::ALL.to_vec(),
        };
        let sizes = list("THROUGHPUT_SIZES", &[64, 1200]);
        assert!(
            sizes.iter().all(|s| (1..=1200).contains(s)),
            "THROUGHPUT_SIZES: payloads are 1..=1200 bytes"
        );
        let clients = list("THROUGHPUT_CLIENTS", &[1, 64, 256]);
        assert!(
            clients.iter().all(|&k| (1..=256).contains(&k)),
            "THROUGHPUT_CLIENTS: 1..=256 (netcode-official's limit)"
        );
        Self {
            duration: Duration::from_secs_f64(number("THROUGHPUT_SECS", 3.0)),
            clients,
            sizes,
            kinds,
            in_flight: number("THROUGHPUT_IN_FLIGHT", 2048.0) as usize,
            preseal_bytes: (number("THROUGHPUT_PRESEAL_MIB", 768.0) * 1024.0 * 1024.0) as usize,
            handshake_timeout: Duration::from_secs(20),
            burst: std::env::var("THROUGHPUT_BURST")
                .is_ok()
                .then(|| number("THROUGHPUT_BURST", 1.0).max(1.0) as usize),
            coalesce: number("THROUGHPUT_COALESCE", 0.0) != 0.0,
        }
    }

    /// Payloads in flight per client with `k` clients: the total shared out,
    /// at least 4, and at most 256 (netcode-official queues 256 per client
    /// and drops the rest after decrypting them).
    pub(crate) fn window(&self, k: usize) -> usize {
        (self.in_flight / k.max(1)).clamp(4, 256)
    }

    /// Payloads one client sends back to back in one round: its window, at
    /// most 8. Bursts spare the generator a syscall per packet; unless
    /// [`Settings::coalesce`], they still reach the server as separate
    /// datagrams (see `loadgen::Lengths`).
    pub(crate) fn burst(&self, k: usize) -> usize {
        self.burst.unwrap_or_else(|| self.window(k).min(8))
    }
}

/// A comma-separated list of numbers from `var`, or `default`.
fn list(var: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(var) {
        Ok(v) => v
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{var}: {n:?} is not a number"))
            })
            .collect(),
        Err(_) => default.to_vec(),
    }
}

/// A number from `var`, or `default`.
fn number(var: &str, default: f64) -> f64 {
    match std::env::var(var) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var}: {v:?} is not a number")),
        Err(_) => default,
    }
}
