//! One connected peer: its netcode connection state and what rides on it.

use super::session_keys::SessionKeys;
use crate::proto::channel::{
    ChannelId, ChannelTable, Connection, ConnectionStats, Inbox, ReadError,
};
use crate::proto::{Outbox, ReplayWindow, SendError, push_payload, written};
use crate::wire::connect_token::UserData;
use crate::wire::packet::{self, Body, MAX_PAYLOAD_LEN};
use crate::wire::prefix::PacketType;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A connected peer, owned by its shard slot.
///
/// It holds the netcode state (keys, sequence, replay window, timers) and
/// the peer's messages: on the channels of a table, or raw, one message
/// per netcode payload, for standard netcode peers.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) address: SocketAddr,
    pub(crate) client_id: u64,
    pub(crate) user_data: Box<UserData>,
    keys: SessionKeys,
    /// Sequence of the next packet sent to this peer.
    sequence: u64,
    replay: ReplayWindow,
    timeout: Option<Duration>,
    pub(crate) last_send: Instant,
    last_recv: Instant,
    /// Whether the peer has shown it knows it is connected (sent a keep-alive or payload).
    confirmed: bool,
    messages: Messages,
}

/// How a session carries the peer's messages.
#[derive(Debug)]
enum Messages {
    /// Raw netcode payloads, one message each.
    Raw,
    /// On the channels of `table`. The connection is made with the first
    /// message either way, so an idle peer holds 8 bytes for it, not 680
    /// and its channels' allocations (at 10,000 peers a server, an idle
    /// peer's size is the server's).
    Channels {
        table: ChannelTable,
        connection: Option<Box<Connection>>,
    },
}

impl Messages {
    /// The channels' connection, if a message has made it.
    fn connection(&self) -> Option<&Connection> {
        match self {
            Self::Channels {
                connection: Some(connection),
                ..
            } => Some(connection),
            _ => None,
        }
    }

    /// The channels' connection, taken out (see [`Messages::put_back`]).
    fn take_connection(&mut self) -> Option<Box<Connection>> {
        match self {
            Self::Channels { connection, .. } => connection.take(),
            Self::Raw => None,
        }
    }

    /// Puts back the connection [`Messages::take_connection`] took.
    fn put_back(&mut self, taken: Box<Connection>) {
        if let Self::Channels { connection, .. } = self {
            *connection = Some(taken);
        }
    }

    /// The channels' connection, made now if no message has made it;
    /// `None` for raw payloads.
    fn connection_made(&mut self) -> Option<&mut Connection> {
        match self {
            Self::Raw => None,
            Self::Channels { table, connection } => {
                Some(connection.get_or_insert_with(|| Box::new(Connection::new(table.clone()))))
            }
        }
    }
}

/// What an authenticated packet from the peer was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    /// A keep-alive.
    KeepAlive,
    /// A payload, whose messages are now in the inbox.
    Payload,
    /// The peer ended the connection.
    Disconnect,
}

/// The netcode state of a peer admitted after a handshake.
#[derive(Debug)]
pub(crate) struct Admitted {
    pub(crate) address: SocketAddr,
    pub(crate) client_id: u64,
    pub(crate) user_data: Box<UserData>,
    pub(crate) keys: SessionKeys,
    pub(crate) timeout: Option<Duration>,
}

impl Session {
    /// A session for a peer admitted at `now`, carrying messages on the
    /// channels of `table` (`None`: raw).
    pub(crate) fn new(admitted: Admitted, now: Instant, table: Option<ChannelTable>) -> Self {
        Self {
            address: admitted.address,
            client_id: admitted.client_id,
            user_data: admitted.user_data,
            keys: admitted.keys,
            sequence: 0,
            replay: ReplayWindow::new(),
            timeout: admitted.timeout,
            last_send: now,
            last_recv: now,
            confirmed: false,
            messages: match table {
                None => Messages::Raw,
                Some(table) => Messages::Channels {
                    table,
                    connection: None,
                },
            },
        }
    }

    fn next_sequence(&mut self) -> u64 {
        let sequence = self.sequence;
        self.sequence = self.sequence.wrapping_add(1);
        sequence
    }

    /// Lets go of the prepared keys if no payload used them since the
    /// last sweep (see [`SessionKeys`]).
    pub(crate) fn sweep_keys(&mut self) {
        self.keys.sweep();
    }

    /// Whether the keys are prepared now.
    #[cfg(test)]
    pub(crate) const fn keys_prepared(&self) -> bool {
        self.keys.is_prepared()
    }

    /// Whether the peer has been silent for its timeout.
    pub(crate) fn is_timed_out(&self, now: Instant) -> bool {
        self.timeout
            .is_some_and(|t| now.saturating_duration_since(self.last_recv) >= t)
    }

    /// When the peer times out if it stays silent.
    pub(crate) fn timeout_at(&self) -> Option<Instant> {
        self.timeout.map(|t| self.last_recv + t)
    }

    /// Authenticates and takes `datagram` (a keep-alive, payload or
    /// disconnect packet, decrypted in place). A payload's messages replace
    /// what `inbox` held.
    ///
    /// # Errors
    ///
    /// `Err(Ok(reason))` drops the datagram; `Err(Err(e))` is a payload
    /// the channel layer refused (it was authentic: the peer is alive).
    pub(crate) fn receive(
        &mut self,
        now: Instant,
        protocol_id: u64,
        datagram: &mut [u8],
        inbox: &mut Inbox,
    ) -> Result<Received, Result<super::DropReason, ReadError>> {
        use super::DropReason;
        let header = packet::parse_header(datagram).map_err(|_| Ok(DropReason::Malformed))?;
        if !matches!(
            header.packet_type(),
            PacketType::KeepAlive | PacketType::Payload | PacketType::Disconnect
        ) {
            return Err(Ok(DropReason::UnexpectedType));
        }
        let sequence = header.sequence();
        if self.replay.is_replay(sequence) {
            return Err(Ok(DropReason::Replayed));
        }
        let payload = header.packet_type() == PacketType::Payload;
        let body = packet::open(datagram, &header, protocol_id, &self.keys.recv(payload))
            .map_err(|_| Ok(DropReason::Unauthenticated))?;
        self.replay.advance(sequence);
        match body {
            Body::KeepAlive { .. } => {
                self.last_recv = now;
                self.confirmed = true;
                Ok(Received::KeepAlive)
            }
            Body::Payload(bytes) => {
                self.last_recv = now;
                self.confirmed = true;
                inbox.clear();
                match self.messages.connection_made() {
                    None => {
                        inbox.push(ChannelId::RAW, bytes);
                        Ok(Received::Payload)
                    }
                    Some(channels) => {
                        let read = channels.read_packet(now, sequence, bytes);
                        channels.take_messages(inbox);
                        read.map(|()| Received::Payload).map_err(Err)
                    }
                }
            }
            Body::Disconnect => Ok(Received::Disconnect),
            _ => Err(Ok(DropReason::UnexpectedType)),
        }
    }

    /// Queues `bytes` on `channel`; a raw session seals it into `out` at
    /// once. Returns the packets sealed now (0: queued on the channels).
    ///
    /// # Errors
    ///
    /// [`SendError`] for a channel or length the session does not take,
    /// or a full send budget.
    pub(crate) fn send(
        &mut self,
        now: Instant,
        channel: ChannelId,
        bytes: &[u8],
        key: SealKey,
        out: &mut dyn Outbox,
    ) -> Result<u64, SendError> {
        if let Some(channels) = self.messages.connection_made() {
            channels.send(channel, bytes)?;
            return Ok(0);
        }
        if channel != ChannelId::RAW {
            return Err(SendError::UnknownChannel(channel));
        }
        if bytes.is_empty() || bytes.len() > MAX_PAYLOAD_LEN {
            return Err(SendError::BadLength {
                len: bytes.len(),
                max: MAX_PAYLOAD_LEN,
            });
        }
        let (_, packets) = self.send_payload(now, key, out, &mut |_, buf| {
            buf.get_mut(..bytes.len()).map_or(0, |body| {
                body.copy_from_slice(bytes);
                bytes.len()
            })
        });
        Ok(packets)
    }

    /// Seals a payload that `fill` writes in place given its sequence;
    /// a keep-alive goes first while the peer has not confirmed, so a peer
    /// whose first keep-alive was lost still learns it is connected before
    /// the payload. Returns the payload's length (0: nothing was sent) and
    /// how many packets went out.
    pub(crate) fn send_payload(
        &mut self,
        now: Instant,
        key: SealKey,
        out: &mut dyn Outbox,
        fill: &mut dyn FnMut(u64, &mut [u8]) -> usize,
    ) -> (usize, u64) {
        let mut packets = 0;
        if !self.confirmed {
            self.keep_alive(now, key, out);
            packets += 1;
        }
        let sequence = self.next_sequence();
        let len = push_payload(
            out,
            self.address,
            sequence,
            key.protocol_id,
            &self.keys.send(true),
            fill,
        );
        if len > 0 {
            self.last_send = now;
            packets += 1;
        }
        (len, packets)
    }

    /// Whether the channels have a packet to write now.
    pub(crate) fn wants_to_send(&self, now: Instant) -> bool {
        self.messages
            .connection()
            .is_some_and(|channels| channels.wants_to_send(now))
    }

    /// When the channels next need writing without new input (a resend, an
    /// owed ack): now if they still have more to write.
    pub(crate) fn channels_due(&self, now: Instant) -> Option<Instant> {
        let channels = self.messages.connection()?;
        if channels.wants_to_send(now) {
            Some(now)
        } else {
            channels.poll_timeout()
        }
    }

    /// Writes one channel packet if the channels want to send; returns
    /// the packets sealed (0: nothing was due).
    pub(crate) fn write_channels(
        &mut self,
        now: Instant,
        key: SealKey,
        out: &mut dyn Outbox,
    ) -> u64 {
        if !self.wants_to_send(now) {
            return 0;
        }
        // Out of the session while the session seals what it writes.
        let Some(mut channels) = self.messages.take_connection() else {
            return 0;
        };
        let (len, packets) = self.send_payload(now, key, out, &mut |sequence, buf| {
            channels.write_packet(now, sequence, buf)
        });
        self.messages.put_back(channels);
        if len == 0 { 0 } else { packets }
    }

    /// Sends a keep-alive if nothing went out for `interval`.
    pub(crate) fn keep_alive_if_quiet(
        &mut self,
        now: Instant,
        interval: Duration,
        key: SealKey,
        out: &mut dyn Outbox,
    ) -> bool {
        if now.saturating_duration_since(self.last_send) < interval {
            return false;
        }
        self.keep_alive(now, key, out);
        true
    }

    /// Seals a keep-alive naming the peer's slot.
    pub(crate) fn keep_alive(&mut self, now: Instant, key: SealKey, out: &mut dyn Outbox) {
        let body = Body::KeepAlive {
            client_index: key.slot,
            max_clients: key.max_clients,
        };
        self.seal(key.protocol_id, &body, out);
        self.last_send = now;
    }

    /// Seals a control packet to the peer.
    pub(crate) fn seal(&mut self, protocol_id: u64, body: &Body<'_>, out: &mut dyn Outbox) {
        let sequence = self.next_sequence();
        let cipher = &self.keys.send(false);
        out.push(self.address, &mut |buf| {
            written(packet::seal(body, sequence, protocol_id, cipher, buf))
        });
    }

    /// The channel counters; `None` for a raw session.
    pub(crate) fn channel_stats(&self) -> Option<ConnectionStats> {
        match &self.messages {
            Messages::Raw => None,
            Messages::Channels { connection, .. } => Some(
                connection
                    .as_deref()
                    .map_or_else(Connection::stats_before_use, Connection::stats),
            ),
        }
    }
}

/// What sealing a packet to a peer needs from its shard.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SealKey {
    pub(crate) protocol_id: u64,
    pub(crate) slot: u32,
    pub(crate) max_clients: u32,
}

#[cfg(test)]
mod tests {
    use std::mem::size_of;

    /// What one connected peer costs inline (its boxed slot), so a change
    /// that grows it is seen: scale (10,000 idle peers, at most 2 KiB each)
    /// depends on it. Its keys are raw until payloads flow, and its
    /// channels' connection is made by the first message.
    #[test]
    fn an_idle_session_is_small() {
        let session = size_of::<super::Session>();
        assert!(session <= 272, "a session is {session} bytes");
        assert!(size_of::<crate::proto::ReplayWindow>() <= 48);
        assert!(size_of::<crate::proto::server::pending::Pending>() <= 128);
    }
}
