//! One peer's channel state: queues, acks, resends, reassembly.

use super::ack::{Acked, Received, Rtt, Sent, UnitRef};
use super::byte_queue::{ByteQueue, Span};
use super::inbox::Inbox;
use super::reliable_recv::{RecvError, ReliableRecv};
use super::reliable_send::ReliableSend;
use super::{ChannelKind, ChannelTable, ConnectionStats, MAX_UNRELIABLE_LEN};
use crate::proto::SendError;
use crate::wire::frame::{ChannelId, Frames, emit_header, header_len};
use crate::wire::frame_body::{
    ACK_BODY_LEN, Ack, FRAGMENT_HEAD_LEN, FragmentBody, RELIABLE_HEAD_LEN, ReliableBody,
    SEQUENCED_HEAD_LEN, SequencedBody, emit_message, message_len,
};
use crate::wire::packet::MAX_PAYLOAD_LEN;
use crate::wire::{self, Writer};
use std::collections::VecDeque;
use std::time::Instant;

/// Why a received packet was refused. Its reliable data is not acked, so
/// an honest peer resends it; the engine counts these and moves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// A frame did not parse.
    #[error("bad frame")]
    Frame(#[from] wire::Error),
    /// A frame names a channel that is not in the table.
    #[error("frame on unknown {0}")]
    UnknownChannel(ChannelId),
    /// An ack names a packet this side never sent.
    #[error("ack of a packet never sent")]
    AckOfUnsent,
    /// A reliable message id further ahead than the window allows.
    #[error("message id out of window")]
    OutOfWindow,
    /// A fragment count over the largest message's, changed between
    /// fragments, or a short fragment other than the last.
    #[error("bad fragment")]
    BadFragment,
    /// Holding the packet's messages would pass the receive budget (twice
    /// the send budget): the application is not reading, or the peer is
    /// not keeping to its budget.
    #[error("receive budget exceeded")]
    OverBudget,
}

impl From<RecvError> for ReadError {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::OutOfWindow => Self::OutOfWindow,
            RecvError::BadFragment => Self::BadFragment,
        }
    }
}

/// A message released to the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The channel it came on.
    pub channel: ChannelId,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

#[derive(Debug)]
enum Channel {
    Unreliable,
    Sequenced {
        next_send: u16,
        last_received: Option<u16>,
    },
    /// Its state is made when the channel is first used: a peer holds 16
    /// bytes for a reliable channel it never uses, not 224 (an idle peer's
    /// memory counts at 10,000 peers a server).
    Reliable {
        ordered: bool,
        state: Option<Box<Reliable>>,
    },
}

/// Both halves of a reliable channel in use.
#[derive(Debug)]
struct Reliable {
    send: ReliableSend,
    recv: ReliableRecv,
}

impl Channel {
    /// The send half of a reliable channel in use.
    fn reliable_send(&self) -> Option<&ReliableSend> {
        match self {
            Self::Reliable {
                state: Some(state), ..
            } => Some(&state.send),
            _ => None,
        }
    }

    /// The send half of a reliable channel in use, to change.
    fn reliable_send_mut(&mut self) -> Option<&mut ReliableSend> {
        match self {
            Self::Reliable {
                state: Some(state), ..
            } => Some(&mut state.send),
            _ => None,
        }
    }
}

/// The state of a reliable channel, made on its first use.
fn reliable_state(
    state: &mut Option<Box<Reliable>>,
    ordered: bool,
    max_message_len: usize,
) -> &mut Reliable {
    state.get_or_insert_with(|| {
        Box::new(Reliable {
            send: ReliableSend::default(),
            recv: ReliableRecv::new(ordered, max_message_len),
        })
    })
}

/// An unreliable message waiting for the next packet; its bytes are in
/// `Connection::unreliable_store`.
#[derive(Debug)]
struct Queued {
    channel: u16,
    sequence: Option<u16>,
    span: Span,
}

/// One peer's channels: see the [module docs](super) for the call order.
///
/// Time comes in as `now` on every call and must not go backwards.
#[derive(Debug)]
pub struct Connection {
    table: ChannelTable,
    channels: Vec<Channel>,
    unreliable: VecDeque<Queued>,
    unreliable_store: ByteQueue,
    unreliable_bytes: usize,
    received: Received,
    sent: Sent,
    rtt: Rtt,
    inbox: Inbox,
    acked: Acked,
    /// The reliable units of the packet being written; reused.
    packet_units: Vec<UnitRef>,
    stats: ConnectionStats,
}

impl Connection {
    /// A fresh connection with `table`'s channels.
    pub fn new(table: ChannelTable) -> Self {
        let channels = table
            .channels()
            .iter()
            .map(|(_, kind)| match kind {
                ChannelKind::Unreliable => Channel::Unreliable,
                ChannelKind::UnreliableSequenced => Channel::Sequenced {
                    next_send: 0,
                    last_received: None,
                },
                ChannelKind::ReliableUnordered | ChannelKind::ReliableOrdered => {
                    Channel::Reliable {
                        ordered: *kind == ChannelKind::ReliableOrdered,
                        state: None,
                    }
                }
            })
            .collect();
        Self {
            table,
            channels,
            unreliable: VecDeque::new(),
            unreliable_store: ByteQueue::default(),
            unreliable_bytes: 0,
            received: Received::default(),
            sent: Sent::default(),
            rtt: Rtt::default(),
            inbox: Inbox::default(),
            acked: Acked::default(),
            packet_units: Vec::new(),
            stats: ConnectionStats::default(),
        }
    }

    /// The table this connection was made with.
    pub const fn table(&self) -> &ChannelTable {
        &self.table
    }

    /// Bytes queued or in flight and not yet acked.
    pub fn queued_bytes(&self) -> usize {
        let reliable: usize = self
            .channels
            .iter()
            .filter_map(Channel::reliable_send)
            .map(|send| send.bytes)
            .sum();
        reliable + self.unreliable_bytes
    }

    /// Queues `message` on `channel`.
    ///
    /// # Errors
    ///
    /// [`SendError::UnknownChannel`]; [`SendError::BadLength`] past
    /// [`MAX_UNRELIABLE_LEN`] on an unreliable channel or the table's
    /// `max_message_len` on a reliable one; [`SendError::QueueFull`] when
    /// the send budget or the reliable window is used up.
    pub fn send(&mut self, channel: ChannelId, message: &[u8]) -> Result<(), SendError> {
        let index = self
            .table
            .index_of(channel)
            .ok_or(SendError::UnknownChannel(channel))?;
        let queued = self.queued_bytes();
        let budget = self.table.send_budget();
        let full = SendError::QueueFull { queued, budget };
        let max_message_len = self.table.max_message_len();
        let over_budget = queued.saturating_add(message.len()) > budget;
        match self.channels.get_mut(index) {
            Some(Channel::Reliable { ordered, state }) => {
                if message.len() > max_message_len {
                    return Err(SendError::BadLength {
                        len: message.len(),
                        max: max_message_len,
                    });
                }
                if over_budget {
                    return Err(full);
                }
                let send = &mut reliable_state(state, *ordered, max_message_len).send;
                if !send.has_room_for() {
                    return Err(full);
                }
                send.push(message);
            }
            Some(channel) => {
                if message.len() > MAX_UNRELIABLE_LEN {
                    return Err(SendError::BadLength {
                        len: message.len(),
                        max: MAX_UNRELIABLE_LEN,
                    });
                }
                if over_budget {
                    return Err(full);
                }
                let sequence = match channel {
                    Channel::Sequenced { next_send, .. } => {
                        let sequence = *next_send;
                        *next_send = next_send.wrapping_add(1);
                        Some(sequence)
                    }
                    _ => None,
                };
                self.unreliable_bytes += message.len();
                self.unreliable.push_back(Queued {
                    channel: index as u16,
                    sequence,
                    span: self.unreliable_store.push(message),
                });
            }
            None => return Err(SendError::UnknownChannel(channel)),
        }
        self.stats.messages_sent += 1;
        Ok(())
    }

    /// Whether [`Connection::write_packet`] has something to write now: an
    /// ack that has waited its delay (5 ms, for data to ride on), an
    /// unreliable message queued, or a reliable unit due.
    pub fn wants_to_send(&self, now: Instant) -> bool {
        let rto = self.rtt.resend_timeout();
        self.received.ack_due().is_some_and(|due| due <= now)
            || !self.unreliable.is_empty()
            || self
                .channels
                .iter()
                .filter_map(Channel::reliable_send)
                .any(|send| send.has_due(now, rto))
    }

    /// When something next falls due without new input: a reliable unit's
    /// resend, or an owed ack's deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let rto = self.rtt.resend_timeout();
        self.channels
            .iter()
            .filter_map(Channel::reliable_send)
            .filter_map(|send| send.next_resend(rto))
            .chain(self.received.ack_due())
            .min()
    }

    /// Whether nothing is queued, in flight or owed.
    pub fn is_idle(&self) -> bool {
        !self.received.is_ack_owed()
            && self.unreliable.is_empty()
            && self
                .channels
                .iter()
                .filter_map(Channel::reliable_send)
                .all(ReliableSend::is_idle)
    }

    /// Writes one payload into `buf` (at most 1200 bytes of it) as packet
    /// `number`: an ack, queued unreliable messages, then reliable units
    /// due for resending and new ones, as many as fit. Returns its length;
    /// 0 when there is nothing to send.
    ///
    /// Packet numbers must increase from one call to the next (the netcode
    /// sequence does).
    pub fn write_packet(&mut self, now: Instant, number: u64, buf: &mut [u8]) -> usize {
        let limit = buf.len().min(MAX_PAYLOAD_LEN);
        let Some(buf) = buf.get_mut(..limit) else {
            return 0;
        };
        let mut w = Writer::new(buf);
        let ack_due = self.received.ack_due().is_some_and(|due| due <= now);
        for ack in self.received.older_acks().chain(self.received.ack()) {
            let written = emit_header(ChannelId::ENGINE, ACK_BODY_LEN, &mut w)
                .and_then(|()| ack.emit(&mut w));
            if written.is_err() {
                return 0;
            }
        }
        let after_ack = w.len();
        self.write_unreliable(&mut w);
        let mut units = std::mem::take(&mut self.packet_units);
        units.clear();
        self.write_reliable(now, &mut w, &mut units);
        let written = w.len() != after_ack || ack_due;
        if written {
            self.received.acked();
            self.stats.packets_sent += 1;
            self.sent.record(number, now, &units);
            self.resend_lost();
        }
        self.packet_units = units;
        if !written {
            return 0;
        }
        w.len()
    }

    fn write_unreliable(&mut self, w: &mut Writer<'_>) {
        while let Some(queued) = self.unreliable.front() {
            let message = self.unreliable_store.get(queued.span);
            let body_len = message.len() + queued.sequence.map_or(0, |_| SEQUENCED_HEAD_LEN);
            if header_len(body_len) + body_len > w.remaining() {
                return;
            }
            let channel = self
                .table
                .channels()
                .get(usize::from(queued.channel))
                .map_or(ChannelId::ENGINE, |(id, _)| *id);
            let written = emit_header(channel, body_len, w).and_then(|()| match queued.sequence {
                Some(sequence) => SequencedBody { sequence, message }.emit(w),
                None => w.bytes(message),
            });
            debug_assert!(written.is_ok(), "sized above: {written:?}");
            self.unreliable_bytes -= message.len();
            self.unreliable_store.release_through(queued.span);
            self.unreliable.pop_front();
        }
    }

    fn write_reliable(&mut self, now: Instant, w: &mut Writer<'_>, units: &mut Vec<UnitRef>) {
        let rto = self.rtt.resend_timeout();
        let specs = self.table.channels();
        for (index, (channel, (id, _))) in self.channels.iter_mut().zip(specs).enumerate() {
            let Some(send) = channel.reliable_send_mut() else {
                continue;
            };
            let first = units.len();
            let full = write_units(send, index as u16, *id, now, rto, w, units);
            for unit in units.get(first..).unwrap_or_default() {
                send.mark_sent(unit.serial, now);
            }
            if full {
                return;
            }
        }
    }

    /// Takes the payload of packet `number`: acks, and messages released to
    /// [`Connection::recv`].
    ///
    /// # Errors
    ///
    /// [`ReadError`] for a packet that breaks the rules; frames before the
    /// bad one were taken, and the packet is not acked.
    pub fn read_packet(
        &mut self,
        now: Instant,
        number: u64,
        payload: &[u8],
    ) -> Result<(), ReadError> {
        let result = self.read_frames(now, payload);
        match result {
            Ok(eliciting) => self.received.record(number, eliciting, now),
            Err(_) => self.stats.packets_refused += 1,
        }
        result.map(|_| ())
    }

    fn read_frames(&mut self, now: Instant, payload: &[u8]) -> Result<bool, ReadError> {
        let budget = self.table.send_budget().saturating_mul(2);
        let max_message_len = self.table.max_message_len();
        let mut eliciting = false;
        for frame in Frames::new(payload) {
            let frame = frame?;
            if frame.channel == ChannelId::ENGINE {
                self.handle_ack(Ack::parse(frame.body)?, now)?;
                continue;
            }
            let index = self
                .table
                .index_of(frame.channel)
                .ok_or(ReadError::UnknownChannel(frame.channel))?;
            let held_elsewhere = self.inbox.held_bytes();
            let (inbox, stats) = (&mut self.inbox, &mut self.stats);
            let mut deliver = |bytes: &[u8]| {
                stats.messages_received += 1;
                inbox.push(frame.channel, bytes);
            };
            let held_reliable: usize = self
                .channels
                .iter()
                .map(|c| match c {
                    Channel::Reliable {
                        state: Some(state), ..
                    } => state.recv.held_bytes(),
                    _ => 0,
                })
                .sum();
            let room = budget.saturating_sub(held_elsewhere + held_reliable);
            if frame.body.len() > room {
                return Err(ReadError::OverBudget);
            }
            match self.channels.get_mut(index) {
                Some(Channel::Unreliable) => deliver(frame.body),
                Some(Channel::Sequenced { last_received, .. }) => {
                    let body = SequencedBody::parse(frame.body)?;
                    let newer = last_received
                        .is_none_or(|last| (body.sequence.wrapping_sub(last) as i16) > 0);
                    if newer {
                        *last_received = Some(body.sequence);
                        deliver(body.message);
                    }
                }
                Some(Channel::Reliable { ordered, state }) => {
                    eliciting = true;
                    let recv = &mut reliable_state(state, *ordered, max_message_len).recv;
                    match ReliableBody::parse(frame.body)? {
                        ReliableBody::Messages { first, messages } => {
                            for (offset, message) in (0u16..).zip(messages) {
                                recv.message(first.add(offset), message?, &mut deliver)?;
                            }
                        }
                        ReliableBody::Fragment(fragment) => {
                            recv.fragment(&fragment, &mut deliver)?;
                        }
                    }
                }
                None => return Err(ReadError::UnknownChannel(frame.channel)),
            }
        }
        Ok(eliciting)
    }

    fn handle_ack(&mut self, ack: Ack, now: Instant) -> Result<(), ReadError> {
        let sample = self
            .sent
            .handle_ack(ack, now, &mut self.acked)
            .map_err(|_| ReadError::AckOfUnsent)?;
        if let Some(rtt) = sample {
            self.rtt.sample(rtt);
        }
        self.stats.packets_acked += self.acked.packets;
        self.acked.packets = 0;
        for unit in self.acked.units.drain(..) {
            if let Some(send) = self
                .channels
                .get_mut(usize::from(unit.channel))
                .and_then(Channel::reliable_send_mut)
            {
                send.ack(unit.serial);
            }
        }
        self.resend_lost();
        Ok(())
    }

    /// Queues for resending at once the units of packets given up on.
    fn resend_lost(&mut self) {
        let channels = &mut self.channels;
        self.sent.take_lost(|unit| {
            if let Some(send) = channels
                .get_mut(usize::from(unit.channel))
                .and_then(Channel::reliable_send_mut)
            {
                send.lost(unit.serial);
            }
        });
    }

    /// The next message released to the application, oldest first, as an
    /// owned copy. [`Connection::take_messages`] reads them without copies.
    pub fn recv(&mut self) -> Option<Message> {
        self.inbox.pop()
    }

    /// Moves every released message into `into` (dropping what it held)
    /// and leaves `into`'s buffers with the connection: no copy and, once
    /// both buffers have grown to the working size, no allocation. Read
    /// them with [`Inbox::iter`], [`Inbox::clear`] the inbox, and pass it
    /// back next time.
    pub fn take_messages(&mut self, into: &mut Inbox) {
        into.clear();
        std::mem::swap(&mut self.inbox, into);
    }

    /// The counters of a connection that has carried nothing yet: what
    /// [`Connection::stats`] says of a new one, without making one.
    pub(crate) fn stats_before_use() -> ConnectionStats {
        let rtt = Rtt::default();
        ConnectionStats {
            rtt: rtt.smoothed(),
            resend_timeout: rtt.resend_timeout(),
            ..ConnectionStats::default()
        }
    }

    /// A snapshot of the connection's counters and estimates.
    pub fn stats(&self) -> ConnectionStats {
        let acked = self.stats.packets_acked;
        let lost = self.sent.lost;
        ConnectionStats {
            rtt: self.rtt.smoothed(),
            resend_timeout: self.rtt.resend_timeout(),
            packets_lost: lost,
            packets_in_flight: self.sent.in_flight(),
            loss: if acked + lost == 0 {
                0.0
            } else {
                lost as f64 / (acked + lost) as f64
            },
            bytes_in_flight: self.queued_bytes(),
            resends: self
                .channels
                .iter()
                .filter_map(Channel::reliable_send)
                .map(|send| send.resends)
                .sum(),
            ..self.stats
        }
    }
}

/// Writes `send`'s due units into `w` while they fit, noting each in
/// `units`; true when the packet filled up.
fn write_units(
    send: &ReliableSend,
    index: u16,
    channel: ChannelId,
    now: Instant,
    rto: std::time::Duration,
    w: &mut Writer<'_>,
    units: &mut Vec<UnitRef>,
) -> bool {
    let unit_ref = |serial| UnitRef {
        channel: index,
        serial,
    };
    let mut due = send.due(now, rto).peekable();
    while let Some((serial, unit)) = due.next() {
        if let Some((fragment_index, count)) = unit.fragment {
            let data = send.bytes_of(unit);
            let body_len = FRAGMENT_HEAD_LEN + data.len();
            if header_len(body_len) + body_len > w.remaining() {
                return true;
            }
            let fragment = FragmentBody {
                id: unit.id,
                index: fragment_index,
                count,
                data,
            };
            let written = emit_header(channel, body_len, w)
                .and_then(|()| ReliableBody::emit_fragment(&fragment, w));
            debug_assert!(written.is_ok(), "sized above: {written:?}");
            units.push(unit_ref(serial));
            continue;
        }
        // A run of whole messages with consecutive ids shares one frame.
        let mut body_len = RELIABLE_HEAD_LEN + message_len(send.bytes_of(unit).len());
        if header_len(body_len) + body_len > w.remaining() {
            return true;
        }
        let first = units.len();
        units.push(unit_ref(serial));
        let mut last_id = unit.id;
        while let Some((next_serial, next)) = due.peek() {
            let grown = body_len + message_len(send.bytes_of(next).len());
            if next.fragment.is_some()
                || next.id != last_id.add(1)
                || header_len(grown) + grown > w.remaining()
            {
                break;
            }
            body_len = grown;
            last_id = next.id;
            units.push(unit_ref(*next_serial));
            due.next();
        }
        let run = units.get(first..).unwrap_or_default();
        let written = emit_header(channel, body_len, w)
            .and_then(|()| ReliableBody::emit_messages_head(unit.id, w))
            .and_then(|()| {
                run.iter().try_for_each(|r| {
                    let bytes = send.unit(r.serial).map_or(&[][..], |u| send.bytes_of(u));
                    emit_message(bytes, w)
                })
            });
        debug_assert!(written.is_ok(), "sized above: {written:?}");
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counters_before_use_are_a_new_connections() {
        let table = ChannelTable::standard();
        assert_eq!(
            Connection::new(table).stats(),
            Connection::stats_before_use()
        );
        assert!(Connection::stats_before_use().resend_timeout > std::time::Duration::ZERO);
    }
}
