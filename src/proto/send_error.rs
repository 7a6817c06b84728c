//! Why a message could not be queued for a peer: one error for the
//! channel layer, the server shard and the client.

use crate::wire::frame::ChannelId;

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The channel is not in the table (raw sessions take only
    /// [`ChannelId::RAW`]).
    #[error("{0} is not in the channel table")]
    UnknownChannel(ChannelId),
    /// The message is longer than its channel allows, or empty where a
    /// raw payload must be 1..=1200 bytes.
    #[error("message of {len} bytes; this channel takes at most {max}")]
    BadLength {
        /// The message's length.
        len: usize,
        /// The channel's limit.
        max: usize,
    },
    /// The peer's send budget or its reliable window is full: it is not
    /// acking fast enough. Try again after the next update.
    #[error("send queue full: {queued} bytes queued of a {budget}-byte budget")]
    QueueFull {
        /// Bytes queued and unacked.
        queued: usize,
        /// The table's send budget.
        budget: usize,
    },
    /// There is no connection to send on.
    #[error("not connected")]
    NotConnected,
}
