//! Messages released by a connection, waiting for the application.

use super::byte_queue::{ByteQueue, Span};
use super::connection::Message;
use crate::wire::frame::ChannelId;
use std::collections::VecDeque;

/// Released messages, oldest first, their bytes back to back in one reused
/// buffer: receiving allocates nothing once the buffer has grown to the
/// connection's working size.
///
/// A [`Connection`](super::Connection) fills one as packets arrive. Read
/// them where they are ([`Inbox::iter`], then [`Inbox::clear`]), or take
/// them one at a time as owned [`Message`]s ([`Inbox::pop`], which copies).
/// [`Connection::take_messages`](super::Connection::take_messages) swaps a
/// connection's inbox with an empty one, so a driver can read a packet's
/// messages while it goes on using the connection, and hand the buffer
/// back for the next packet.
///
/// # Examples
///
/// ```
/// use berth::proto::channel::{Connection, Inbox, standard, ChannelTable};
/// use std::time::Instant;
///
/// let now = Instant::now();
/// let (mut a, mut b) = (Connection::new(ChannelTable::standard()), Connection::new(ChannelTable::standard()));
/// a.send(standard::RELIABLE_ORDERED, b"hello").unwrap();
/// let mut packet = [0u8; 1200];
/// let len = a.write_packet(now, 1, &mut packet);
/// b.read_packet(now, 1, &packet[..len]).unwrap();
///
/// let mut inbox = Inbox::default();
/// b.take_messages(&mut inbox);
/// let got: Vec<_> = inbox.iter().collect();
/// assert_eq!(got, [(standard::RELIABLE_ORDERED, &b"hello"[..])]);
/// inbox.clear(); // keeps its buffer for the next packet
/// ```
#[derive(Debug, Default)]
pub struct Inbox {
    order: VecDeque<(ChannelId, Span)>,
    bytes: ByteQueue,
    /// Bytes of the messages held.
    held: usize,
}

impl Inbox {
    /// An empty inbox (allocates nothing until a message arrives).
    pub fn new() -> Self {
        Self::default()
    }

    /// How many messages it holds.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether it holds no message.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Bytes of the messages held.
    pub const fn held_bytes(&self) -> usize {
        self.held
    }

    /// Every message held, oldest first, with its channel, as borrows.
    pub fn iter(&self) -> impl Iterator<Item = (ChannelId, &[u8])> + '_ {
        self.order
            .iter()
            .map(|&(channel, span)| (channel, self.bytes.get(span)))
    }

    /// Takes the oldest message as an owned [`Message`] (a copy of its bytes).
    pub fn pop(&mut self) -> Option<Message> {
        let (channel, span) = self.order.pop_front()?;
        let bytes = self.bytes.get(span).to_vec();
        self.bytes.release_through(span);
        self.held -= span.len().min(self.held);
        Some(Message { channel, bytes })
    }

    /// Drops every message, keeping the buffers for reuse.
    pub fn clear(&mut self) {
        self.order.clear();
        self.bytes.clear();
        self.held = 0;
    }

    /// Adds a message at the back.
    pub(crate) fn push(&mut self, channel: ChannelId, bytes: &[u8]) {
        let span = self.bytes.push(bytes);
        self.order.push_back((channel, span));
        self.held += bytes.len();
    }
}
