//! Channels: many messages of four delivery kinds over one connection.
//!
//! A [`Connection`] is the sans-IO channel state of one peer. The game
//! declares a [`ChannelTable`] once; then:
//!
//! - [`Connection::send`] queues a message on a channel (a full queue is a
//!   [`SendError`](crate::proto::SendError), never unbounded memory);
//! - [`Connection::write_packet`] fills one payload (up to 1200 bytes) with
//!   an ack and as many frames as fit, given the packet's number (berth
//!   uses the netcode sequence, so no extra header is needed);
//! - [`Connection::read_packet`] takes a received payload and its number;
//!   [`Connection::recv`] yields the messages it released.
//!
//! Reliable messages are resent until a packet carrying them is acked,
//! after a timeout that follows the measured RTT; those larger than
//! [`FRAGMENT_LEN`] travel as fragments and are reassembled. Frame layouts
//! are in [`crate::wire::frame`] and `docs/wire.md`.
//!
//! # Examples
//!
//! ```
//! use berth::proto::channel::{ChannelKind, ChannelTable, Connection};
//! use berth::wire::frame::ChannelId;
//! use std::time::Instant;
//!
//! let table = ChannelTable::new().channel(1, ChannelKind::ReliableOrdered).build().unwrap();
//! let (mut a, mut b) = (Connection::new(table.clone()), Connection::new(table));
//! let chat = ChannelId::new(1).unwrap();
//! let now = Instant::now();
//! a.send(chat, b"hello").unwrap();
//! let mut packet = [0u8; 1200];
//! let len = a.write_packet(now, 0, &mut packet);
//! b.read_packet(now, 0, &packet[..len]).unwrap();
//! assert_eq!(b.recv().unwrap().bytes, b"hello");
//! ```

mod ack;
mod byte_queue;
mod connection;
mod inbox;
mod reliable_recv;
mod reliable_send;
mod stats;
mod table;

pub use crate::wire::frame::ChannelId;
pub use connection::{Connection, Message, ReadError};
pub use inbox::Inbox;
pub use stats::ConnectionStats;
pub use table::{
    ChannelKind, ChannelTable, DEFAULT_MAX_MESSAGE_LEN, DEFAULT_SEND_BUDGET, MAX_CHANNELS,
    MAX_MESSAGE_LEN_LIMIT, TableBuilder, TableError, standard,
};

use crate::wire::frame::MAX_FRAME_HEADER_LEN;
use crate::wire::frame_body::{ACK_BODY_LEN, FRAGMENT_HEAD_LEN, SEQUENCED_HEAD_LEN};
use crate::wire::packet::MAX_PAYLOAD_LEN;

/// Bytes of an ack frame: header and body.
pub const ACK_FRAME_LEN: usize = crate::wire::frame::CHANNEL_ID_LEN + 1 + ACK_BODY_LEN;
/// Bytes of a fragment's data: what fits in a payload beside an ack.
/// Reliable messages longer than this are fragmented.
pub const FRAGMENT_LEN: usize =
    MAX_PAYLOAD_LEN - ACK_FRAME_LEN - MAX_FRAME_HEADER_LEN - FRAGMENT_HEAD_LEN;
/// Longest unreliable message: one packet beside an ack, never fragmented.
pub const MAX_UNRELIABLE_LEN: usize =
    MAX_PAYLOAD_LEN - ACK_FRAME_LEN - MAX_FRAME_HEADER_LEN - SEQUENCED_HEAD_LEN;
