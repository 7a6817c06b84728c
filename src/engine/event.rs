//! What the engine tells a handle-mode application, and why a send failed.

use super::PeerId;
use crate::proto::channel::ChannelId;
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
    /// A peer sent a message.
    Message {
        /// Who sent it.
        peer: PeerId,
        /// The channel it came on; [`ChannelId::RAW`] in raw mode, where
        /// each message is one netcode payload.
        channel: ChannelId,
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
    /// A port stopped because its transport failed. Its peers were each
    /// reported [`ServerEvent::Disconnected`] first, with
    /// [`DisconnectReason::TransportFailed`]; tokens issued from now on
    /// name only the ports still running.
    PortFailed {
        /// The index of the port.
        port: u16,
        /// What failed, as the operating system said it.
        error: String,
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
    /// The message is longer than its channel takes (in raw mode: empty,
    /// or over one packet's 1200 bytes).
    #[error("message of {len} bytes; this channel takes at most {max}")]
    BadLength {
        /// The message's length.
        len: usize,
        /// The most the channel takes.
        max: usize,
    },
    /// The channel is not in the server's table (in raw mode: any channel
    /// but [`ChannelId::RAW`]).
    #[error("{0} is not in the channel table")]
    UnknownChannel(ChannelId),
    /// The peer's send budget is used up: it is not acking fast enough.
    /// (Sends from [`crate::engine::ServerSender`] find this out on the
    /// port, which drops and counts the message.)
    #[error("peer {0}'s send budget is full")]
    PeerBusy(PeerId),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
}

impl SendError {
    /// The engine's error for the shard's refusal of a message to `peer`.
    pub(crate) fn from_proto(peer: PeerId, error: crate::proto::SendError) -> Self {
        use crate::proto::SendError as Refused;
        match error {
            Refused::UnknownChannel(id) => Self::UnknownChannel(id),
            Refused::BadLength { len, max } => Self::BadLength { len, max },
            Refused::QueueFull { .. } => Self::PeerBusy(peer),
            _ => Self::Disconnected(peer),
        }
    }
}
