//! Running application code on the port threads themselves.

use super::port::{Command, Outgoing};
use super::{PeerId, SendError};
use crate::engine::batch::SendBatch;
use crate::proto::server::{ClientIndex, DisconnectReason, Server as Shard};
use crate::wire::connect_token::UserData;
use crate::wire::packet::MAX_PAYLOAD_LEN;
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

    /// A peer on this port sent a message.
    fn message(&mut self, ctx: &mut Context<'_>, peer: PeerId, bytes: &[u8]);

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
    pub(crate) send: &'a mut SendBatch,
    pub(crate) generations: &'a [u32],
    pub(crate) outgoing: &'a mut Outgoing,
}

impl Context<'_> {
    /// The index of the port this callback runs on.
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// Sends `bytes` to `peer`, on any port.
    ///
    /// # Errors
    ///
    /// [`SendError::Disconnected`] for a peer of this port that is gone (one
    /// on another port is checked there, and dropped if gone);
    /// [`SendError::BadLength`] for an empty message or one over 1200 bytes.
    pub fn send(&mut self, peer: PeerId, bytes: &[u8]) -> Result<(), SendError> {
        if bytes.is_empty() || bytes.len() > MAX_PAYLOAD_LEN {
            return Err(SendError::BadLength {
                len: bytes.len(),
                max: MAX_PAYLOAD_LEN,
            });
        }
        if peer.port() != self.port {
            self.outgoing.push(
                peer.port(),
                Command::Send {
                    peer,
                    bytes: bytes.to_vec(),
                },
            );
            return Ok(());
        }
        if !is_current(self.generations, peer) {
            return Err(SendError::Disconnected(peer));
        }
        self.shard
            .send(self.now, ClientIndex::new(peer.slot()), bytes, self.send)
            .map_err(|_| SendError::Disconnected(peer))
    }

    /// Ends `peer`'s connection, on any port.
    pub fn disconnect(&mut self, peer: PeerId) {
        if peer.port() != self.port {
            self.outgoing
                .push(peer.port(), Command::Disconnect { peer });
        } else if is_current(self.generations, peer) {
            self.shard
                .disconnect(ClientIndex::new(peer.slot()), self.send);
        }
    }
}

/// Whether `peer` is the current occupant of its slot.
pub(crate) fn is_current(generations: &[u32], peer: PeerId) -> bool {
    generations.get(peer.slot() as usize) == Some(&peer.generation())
}
