//! Running application code on the port threads themselves.

use super::port::{Command, OnFull, Outgoing};
use super::{PeerId, SendError};
use crate::engine::port::Sends;
use crate::proto::channel::{ChannelId, ChannelTable, ConnectionStats};
use crate::proto::server::{DisconnectReason, Shard};
use crate::wire::connect_token::UserData;
use crate::wire::packet::MAX_PAYLOAD_LEN;
use std::net::SocketAddr;
use std::time::Instant;

/// Application code that runs on each port's thread.
///
/// [`crate::engine::Server::bind_with_handler`] makes one handler per port
/// and calls it from that port's thread, so a handler needs no locks for its
/// own state. A message to a peer on the same port is sealed and sent
/// without leaving the thread; one to another port goes through that port's
/// queue, in batches with one wake.
///
/// Callbacks must not block: while one runs, its port handles no packets.
pub trait Handler: Send + 'static {
    /// A peer completed the handshake on this port.
    fn connected(
        &mut self,
        ctx: &mut Context<'_>,
        peer: PeerId,
        client_id: u64,
        user_data: &UserData,
    ) {
        let _ = (ctx, peer, client_id, user_data);
    }

    /// A peer on this port sent a message on `channel` ([`ChannelId::RAW`]
    /// in raw mode).
    fn message(&mut self, ctx: &mut Context<'_>, peer: PeerId, channel: ChannelId, bytes: &[u8]);

    /// A datagram that is no netcode packet at all (the low nibble of its
    /// first byte, 7..=15, is no packet type) reached this port from
    /// `from`, and was counted dropped. For a side protocol that shares
    /// the port, such as the relay's address check. Anyone can send these:
    /// keep it cheap, and never answer more than came.
    fn stray(&mut self, ctx: &mut Context<'_>, from: SocketAddr, bytes: &[u8]) {
        let _ = (ctx, from, bytes);
    }

    /// A peer on this port left.
    fn disconnected(&mut self, ctx: &mut Context<'_>, peer: PeerId, reason: DisconnectReason) {
        let _ = (ctx, peer, reason);
    }
}

/// What a [`Handler`] can do from inside a callback.
#[derive(Debug)]
pub struct Context<'a> {
    pub(crate) port: u16,
    pub(crate) now: Instant,
    pub(crate) shard: &'a mut Shard,
    pub(crate) send: &'a mut Sends,
    pub(crate) outgoing: &'a mut Outgoing,
}

impl Context<'_> {
    /// The time the port took for this batch of work.
    pub const fn now(&self) -> Instant {
        self.now
    }

    /// The index of the port this callback runs on.
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// Sends `bytes` to `peer` on `channel`, on any port.
    ///
    /// A message for a peer of this port is queued on its channels (or, in
    /// raw mode, sealed into this port's send batch) without leaving the
    /// thread; one for another port goes through that port's queue.
    ///
    /// # Errors
    ///
    /// [`SendError::UnknownChannel`] and [`SendError::BadLength`] when the
    /// channel or length is wrong for the table (in raw mode, the channel
    /// must be [`ChannelId::RAW`] and the message 1..=1200 bytes);
    /// [`SendError::Disconnected`] for a peer of this port that is gone and
    /// [`SendError::PeerBusy`] for one whose budget is full (a peer on
    /// another port is checked there, and the message dropped and counted).
    pub fn send(
        &mut self,
        peer: PeerId,
        channel: ChannelId,
        bytes: &[u8],
    ) -> Result<(), SendError> {
        self.send_with(peer, channel, bytes, OnFull::Drop)
    }

    /// Sends like [`Context::send`] a message `peer` must not miss: if its
    /// send budget is full (checked here for a peer of this port, on its
    /// own port otherwise), or its port's queue is too full to take the
    /// message, the peer is disconnected with [`DisconnectReason::TooSlow`]
    /// rather than left to miss the message.
    /// A game relay uses this for reliable traffic: a player who cannot
    /// keep up with the room is dropped (and may rejoin) instead of
    /// silently losing messages the others think it has.
    ///
    /// # Errors
    ///
    /// Those of [`Context::send`]; [`SendError::PeerBusy`] means the peer
    /// was too slow and is being disconnected.
    pub fn send_or_disconnect(
        &mut self,
        peer: PeerId,
        channel: ChannelId,
        bytes: &[u8],
    ) -> Result<(), SendError> {
        self.send_with(peer, channel, bytes, OnFull::Disconnect)
    }

    fn send_with(
        &mut self,
        peer: PeerId,
        channel: ChannelId,
        bytes: &[u8],
        on_full: OnFull,
    ) -> Result<(), SendError> {
        check_message(self.shard.channel_table(), channel, bytes)?;
        if peer.port() != self.port {
            self.outgoing.push_send(peer, channel, bytes, on_full);
            return Ok(());
        }
        let client = peer.client();
        let error = match self.shard.send(self.now, client, channel, bytes, self.send) {
            Ok(()) => return Ok(()),
            Err(e) => SendError::from_proto(peer, e),
        };
        if on_full == OnFull::Disconnect && matches!(error, SendError::PeerBusy(_)) {
            self.shard.disconnect_too_slow(client, self.send);
        }
        Err(error)
    }

    /// The channel counters of `peer`, a peer of this port (`None` for a
    /// peer elsewhere, gone, or in raw mode).
    pub fn peer_stats(&self, peer: PeerId) -> Option<ConnectionStats> {
        if peer.port() != self.port {
            return None;
        }
        self.shard.client_stats(peer.client())
    }

    /// The address `peer`'s packets come from, as this port sees it (after
    /// any NAT on the way): `None` for a peer elsewhere or gone. A relay
    /// shows it to other players only with the peer's consent.
    pub fn peer_addr(&self, peer: PeerId) -> Option<SocketAddr> {
        if peer.port() != self.port {
            return None;
        }
        self.shard.address(peer.client())
    }

    /// Ends `peer`'s connection, on any port.
    pub fn disconnect(&mut self, peer: PeerId) {
        if peer.port() != self.port {
            self.outgoing.push(
                peer.port(),
                Command::Disconnect {
                    peer,
                    too_slow: false,
                },
            );
        } else {
            self.shard.disconnect(peer.client(), self.send);
        }
    }
}

/// Checks what can be checked before a message reaches its port: the
/// channel is in `table` and the length within its limit (raw mode,
/// `table` `None`: [`ChannelId::RAW`] and 1..=1200 bytes).
pub(crate) fn check_message(
    table: Option<&ChannelTable>,
    channel: ChannelId,
    bytes: &[u8],
) -> Result<(), SendError> {
    let Some(table) = table else {
        if channel != ChannelId::RAW {
            return Err(SendError::UnknownChannel(channel));
        }
        if bytes.is_empty() || bytes.len() > MAX_PAYLOAD_LEN {
            return Err(SendError::BadLength {
                len: bytes.len(),
                max: MAX_PAYLOAD_LEN,
            });
        }
        return Ok(());
    };
    let index = table
        .index_of(channel)
        .ok_or(SendError::UnknownChannel(channel))?;
    let max = match table.channels().get(index) {
        Some((_, kind)) if kind.is_reliable() => table.max_message_len(),
        _ => crate::proto::channel::MAX_UNRELIABLE_LEN,
    };
    if bytes.len() > max {
        return Err(SendError::BadLength {
            len: bytes.len(),
            max,
        });
    }
    Ok(())
}
