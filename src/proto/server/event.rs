//! What a shard tells the application: connections made and lost.

use super::ClientIndex;
#[cfg(doc)]
use super::Shard;
use std::net::SocketAddr;

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// Nothing arrived from the client for its timeout.
    TimedOut,
    /// The client sent a disconnect packet.
    ClientDisconnected,
    /// The server ended it ([`Shard::disconnect`]).
    ServerDisconnected,
    /// The server ended it because the client was not keeping up: it did
    /// not ack fast enough to take messages it must not miss
    /// ([`Shard::disconnect_too_slow`]).
    TooSlow,
    /// The server's end failed: what carried the client's datagrams (a
    /// port's socket) stopped working, so the connection could not go on
    /// ([`Shard::disconnect_all_failed`]).
    TransportFailed,
}

/// A change in the set of connected clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A client completed the handshake.
    Connected {
        /// Its slot.
        client: ClientIndex,
        /// The id from its connect token.
        client_id: u64,
        /// Where its packets come from.
        address: SocketAddr,
    },
    /// A connection ended; the slot is free again.
    Disconnected {
        /// The slot it had.
        client: ClientIndex,
        /// The id from its connect token.
        client_id: u64,
        /// Where its packets came from.
        address: SocketAddr,
        /// Why.
        reason: DisconnectReason,
    },
}
