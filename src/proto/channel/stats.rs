//! What a connection's channels did, for the application and the engine's stats.

use std::time::Duration;

/// A snapshot of one connection's channel layer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Smoothed round-trip time; zero before the first ack.
    pub rtt: Duration,
    /// How long an unacked reliable message waits before it is resent.
    pub resend_timeout: Duration,
    /// Packets written.
    pub packets_sent: u64,
    /// Packets the peer acked.
    pub packets_acked: u64,
    /// Packets sent and neither acked nor given up on yet.
    pub packets_in_flight: usize,
    /// Packets given up on: never acked while the ack could still name them.
    pub packets_lost: u64,
    /// Lost over acked-or-lost packets, 0..=1.
    pub loss: f64,
    /// Bytes queued or sent and not yet acked.
    pub bytes_in_flight: usize,
    /// Reliable units (messages or fragments) sent again.
    pub resends: u64,
    /// Messages accepted by `send`.
    pub messages_sent: u64,
    /// Messages released to the application.
    pub messages_received: u64,
    /// Received packets refused (bad frame, unknown channel, over budget);
    /// the peer's reliable data in them is resent.
    pub packets_refused: u64,
}
