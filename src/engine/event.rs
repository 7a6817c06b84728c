//! What the engine tells a handle-mode application, and why a send failed.

use super::PeerId;
use crate::proto::server::DisconnectReason;
use crate::wire::connect_token::UserData;

/// Something that happened on a port, for [`crate::engine::Server::events`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A peer completed the handshake.
    Connected {
        /// The new peer.
        peer: PeerId,
        /// The id from its connect token.
        client_id: u64,
        /// The user data from its connect token.
        user_data: Box<UserData>,
    },
    /// A peer sent a message (one netcode payload, in raw mode).
    Message {
        /// Who sent it.
        peer: PeerId,
        /// What it sent.
        bytes: Vec<u8>,
    },
    /// A peer left.
    Disconnected {
        /// The peer that left; its id is dead from now on.
        peer: PeerId,
        /// Why.
        reason: DisconnectReason,
    },
}

/// Why a message could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The peer is not connected (it left, or the id is from another server).
    #[error("peer {0} is not connected")]
    Disconnected(PeerId),
    /// The port's command queue is full: the port is not keeping up.
    #[error("the queue to port {0} is full")]
    QueueFull(u16),
    /// The message is empty or larger than one packet holds.
    #[error("message of {len} bytes; raw mode sends 1..={max} bytes")]
    BadLength {
        /// The message's length.
        len: usize,
        /// The most one packet holds.
        max: usize,
    },
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
}
