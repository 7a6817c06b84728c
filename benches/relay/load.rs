//! What both load generators share: the message, the clock, the counters.
//!
//! A message is `size` bytes: the send time in nanoseconds since [`epoch`]
//! (8 bytes, little-endian), the sender's number (4 bytes), then zeros. All
//! players live in this process, so the receiver's clock is the sender's.

use parking_lot::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The process clock's zero for timestamps in messages.
pub(crate) fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since [`epoch`].
pub(crate) fn now_ns() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A message from `sender`, stamped now.
pub(crate) fn message(buf: &mut [u8], sender: u32) {
    buf.fill(0);
    if let Some(stamp) = buf.get_mut(..8) {
        stamp.copy_from_slice(&now_ns().to_le_bytes());
    }
    if let Some(id) = buf.get_mut(8..12) {
        id.copy_from_slice(&sender.to_le_bytes());
    }
}

/// The send time in a received message, if it is long enough to hold one.
pub(crate) fn stamp(data: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(data.get(..8)?.try_into().ok()?))
}

/// Counters and flags one cell's players share with the main thread.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Set when the players must stop.
    pub(crate) stop: AtomicBool,
    /// Set while the cell is measured: counts and samples only then.
    pub(crate) measuring: AtomicBool,
    /// Messages the players handed to their transport while measuring.
    pub(crate) sent: AtomicU64,
    /// Messages the players received while measuring.
    pub(crate) received: AtomicU64,
    /// Sends the transport refused (budget full, not connected) while measuring.
    pub(crate) send_errors: AtomicU64,
    /// Added latency of each message a probe player received while measuring, ns.
    pub(crate) latencies: Mutex<Vec<u64>>,
}

impl Shared {
    /// Whether the cell is being measured now.
    pub(crate) fn measuring(&self) -> bool {
        self.measuring.load(Ordering::Relaxed)
    }

    /// Whether the players must stop.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Counts one message handed to the transport (`ok`) or refused.
    pub(crate) fn count_send(&self, ok: bool) {
        if self.measuring() {
            let counter = if ok { &self.sent } else { &self.send_errors };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts `n` received messages.
    pub(crate) fn count_received(&self, n: u64) {
        if self.measuring() && n > 0 {
            self.received.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Keeps latency samples taken while measuring.
    pub(crate) fn record(&self, samples: &mut Vec<u64>) {
        if self.measuring() && !samples.is_empty() {
            self.latencies.lock().append(samples);
        }
        samples.clear();
    }
}

/// The latency of a message received at `received_ns` (since [`epoch`]).
pub(crate) fn latency(data: &[u8], received_ns: u64) -> Option<u64> {
    stamp(data).map(|sent| received_ns.saturating_sub(sent))
}

/// How often a probe thread polls its players (it sleeps, not spins).
pub(crate) const PROBE_POLL: Duration = Duration::from_micros(50);

/// One simulated player: its endpoint, its number and its next frame.
pub(crate) struct Player<T> {
    /// What it sends and receives through (a relay client, a socket).
    pub(crate) io: T,
    /// Number written into its messages.
    pub(crate) id: u32,
    /// When it sends next.
    next_send: Instant,
    /// Whether it sent in the current pass.
    sent: bool,
}

/// Players for `ios`, numbered in order, their frames spread evenly over
/// one `frame` starting a few milliseconds from now.
pub(crate) fn players<T>(ios: Vec<T>, frame: Duration) -> Vec<Player<T>> {
    let n = ios.len().max(1) as f64;
    let t0 = Instant::now() + Duration::from_millis(5);
    (0u32..)
        .zip(ios)
        .map(|(id, io)| Player {
            io,
            id,
            next_send: t0 + frame.mul_f64(f64::from(id) / n),
            sent: false,
        })
        .collect()
}

/// A load thread's loop, until the cell stops. Each pass, for the players
/// whose frame has come (the frame then moves on; frames missed in a stall
/// are skipped, not sent in a burst; a probe thread: for every player):
/// `receive(player, samples)`, which reads and sends nothing; then
/// `queue(player)` for each; then `emit(player)` for each, back to back
/// (the send syscall and little else). A game reads at the start of a
/// frame and sends at its end, so its messages carry its acks; emitting
/// back to back keeps what a generator does besides sending from spacing
/// out the datagrams every system's relay sees.
/// Between passes a probe thread sleeps [`PROBE_POLL`], a bulk one until
/// the next frame of any of its players.
pub(crate) fn drive<T>(
    players: &mut [Player<T>],
    probe: bool,
    frame: Duration,
    shared: &Shared,
    mut receive: impl FnMut(&mut Player<T>, &mut Vec<u64>),
    mut queue: impl FnMut(&mut Player<T>),
    mut emit: impl FnMut(&mut Player<T>),
) {
    let mut samples = Vec::new();
    while !shared.stopped() {
        let now = Instant::now();
        let mut wake = now + frame;
        for player in players.iter_mut() {
            player.sent = now >= player.next_send;
            if player.sent {
                player.next_send += frame;
                if player.next_send < now {
                    player.next_send = now + frame;
                }
            }
            wake = wake.min(player.next_send);
            if probe || player.sent {
                receive(player, &mut samples);
            }
        }
        for player in players.iter_mut().filter(|p| p.sent) {
            queue(player);
        }
        for player in players.iter_mut().filter(|p| p.sent) {
            emit(player);
        }
        shared.record(&mut samples);
        let pause = if probe {
            PROBE_POLL
        } else {
            wake.saturating_duration_since(Instant::now())
        };
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
}
