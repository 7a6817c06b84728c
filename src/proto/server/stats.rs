//! What a server shard counts: traffic, and every dropped datagram by reason.

/// Why a datagram was dropped. Each has a counter in [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The bytes do not parse as a netcode packet.
    Malformed,
    /// An encrypted packet from an address with no handshake or connection.
    UnknownSource,
    /// A packet type this side never accepts, or not in this state.
    UnexpectedType,
    /// The sequence was already received or is too old.
    Replayed,
    /// Authentication failed.
    Unauthenticated,
    /// A request for another protocol id.
    WrongProtocol,
    /// A request whose token has expired.
    TokenExpired,
    /// A request whose private token does not open.
    TokenInvalid,
    /// A token that names none of this server's addresses.
    NotThisServer,
    /// A token already used from another address.
    TokenReused,
    /// A request or response from an address, or for a client id, already connected.
    AlreadyConnected,
    /// No room for another handshake.
    PendingFull,
    /// A response whose challenge token does not open.
    ChallengeInvalid,
    /// A connection request from a source over its per-second limit
    /// ([`super::ShardConfig::requests_per_source`]), dropped before its
    /// token is opened.
    RateLimited,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [Self; 14] = [
        Self::Malformed,
        Self::UnknownSource,
        Self::UnexpectedType,
        Self::Replayed,
        Self::Unauthenticated,
        Self::WrongProtocol,
        Self::TokenExpired,
        Self::TokenInvalid,
        Self::NotThisServer,
        Self::TokenReused,
        Self::AlreadyConnected,
        Self::PendingFull,
        Self::ChallengeInvalid,
        Self::RateLimited,
    ];

    const fn index(self) -> usize {
        self as usize
    }
}

/// Counters of one server shard. All monotonic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handed to the shard.
    pub received: u64,
    /// Application payloads received from connected clients.
    pub payloads_in: u64,
    /// Authentic payloads the channel layer refused (a bad frame, an
    /// out-of-window id, over the receive budget); their data is not acked,
    /// so an honest client resends it.
    pub channel_refused: u64,
    /// Datagrams the shard queued to send.
    pub sent: u64,
    /// Clients that completed the handshake.
    pub connects: u64,
    /// Connections ended, for any reason.
    pub disconnects: u64,
    /// Requests answered with denied because every slot was taken.
    pub denied: u64,
    dropped: [u64; DropReason::ALL.len()],
}

impl Stats {
    /// Datagrams dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped.get(reason.index()).copied().unwrap_or(0)
    }

    /// Datagrams dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        if let Some(counter) = self.dropped.get_mut(reason.index()) {
            *counter += 1;
        }
    }
}
