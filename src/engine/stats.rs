//! What each port counts.

use super::PeerId;
use crate::proto::channel::ConnectionStats;
use crate::proto::server::Stats as ShardStats;

/// Counters of one port since it started. A snapshot, published by the
/// port thread about every 100 ms and when it stops.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct PortStats {
    /// Index of the port.
    pub port: u16,
    /// Peers connected now.
    pub peers: usize,
    /// Messages handed to the application (in raw mode, one per payload).
    pub messages_in: u64,
    /// Datagrams received.
    pub packets_in: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Datagrams sent.
    pub packets_out: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Times the port's thread woke from its poll (for datagrams, commands
    /// or timers): datagrams in per wake is how much each wake batches.
    pub wakes: u64,
    /// Receive syscalls made.
    pub recv_syscalls: u64,
    /// Send syscalls made.
    pub send_syscalls: u64,
    /// Datagrams the OS refused to send (say, to an unreachable address), dropped.
    pub send_refused: u64,
    /// Peers refused at connect because their address had
    /// [`crate::engine::ServerConfig::max_peers_per_ip`] peers already.
    pub ip_limited: u64,
    /// Events dropped because the application's event queue was full.
    pub events_dropped: u64,
    /// The protocol's own counters: handshakes, payloads, drops by reason
    /// (among them requests dropped unread because their source was over
    /// its rate, [`crate::proto::server::DropReason::RateLimited`], and
    /// payloads the channel layer refused, `channel_refused`).
    pub protocol: ShardStats,
    /// Queued sends the channel layer refused on the port (the peer's
    /// budget was full, or it had left).
    pub channel_send_refused: u64,
    /// Peers disconnected because their send budget was full when a
    /// message they must not miss came for them
    /// ([`crate::engine::Context::send_or_disconnect`]).
    pub too_slow: u64,
    /// Messages and disconnects for another port's peers dropped because
    /// that port's queue was full (it is not keeping up). A dropped message
    /// sent with [`crate::engine::Context::send_or_disconnect`] has its peer
    /// disconnected as too slow once the queue has room.
    pub cross_port_dropped: u64,
    /// How long datagrams waited in this port: from the kernel's arrival
    /// stamp to the end of the send that followed their handling (replies,
    /// acks, and messages a handler sent to peers of this port; a message
    /// for another port's peer leaves from that port later). It includes
    /// time queued in the socket while the thread was busy or not
    /// scheduled. Linux UDP only (`SO_TIMESTAMPNS`); empty elsewhere.
    pub dwell: super::LatencyHistogram,
    /// Why the port stopped on its own, if it did: its transport failed
    /// (a poll or socket error the port cannot go on from). Its peers were
    /// disconnected with [`crate::proto::server::DisconnectReason::TransportFailed`]
    /// and it takes no new peers.
    pub failure: Option<String>,
    /// Each connected peer's channel counters (RTT, loss, bytes in flight,
    /// resends), in [`PeerId`] order; empty in raw mode.
    pub peer_channels: Vec<(PeerId, ConnectionStats)>,
}

impl PortStats {
    /// Datagrams received per receive syscall (batching's effect).
    pub fn packets_per_recv_syscall(&self) -> f64 {
        self.packets_in as f64 / self.recv_syscalls.max(1) as f64
    }

    /// Datagrams sent per send syscall.
    pub fn packets_per_send_syscall(&self) -> f64 {
        self.packets_out as f64 / self.send_syscalls.max(1) as f64
    }
}
