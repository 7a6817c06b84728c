//! The relay client's direct paths, one per introduced peer, and what joins
//! them to the client's socket and relay connection.

use super::path::{DirectPath, MAX_DIRECT_LEN, OutboxSink, PathSink};
use super::{DirectConfig, PeerPath};
use crate::engine::Client as EngineClient;
use crate::proto::channel::{ChannelId, MAX_UNRELIABLE_LEN, Message};
use crate::proto::{Outbox, SendError};
use crate::relay::protocol::{
    CONTROL, ClientMessage, DirectHeader, Introduction, MAX_PLAYERS, UNRELIABLE,
};
use crate::relay::server::channel_table;
use std::net::SocketAddr;
use std::time::Instant;

/// The paths of one match; empty until this player allows direct play and
/// the relay introduces someone.
#[derive(Debug, Default)]
pub(crate) struct DirectPeers {
    /// Set by [`DirectPeers::allow`]: introductions are taken.
    config: Option<DirectConfig>,
    paths: Vec<DirectPath>,
    /// Datagrams no path took, and introductions refused.
    dropped: u64,
    /// A relayed datagram, copied to be opened in place; reused.
    scratch: Vec<u8>,
}

impl DirectPeers {
    /// Takes introductions from now on, with `config`'s timings.
    pub(crate) fn allow(&mut self, config: DirectConfig) {
        self.config = Some(config);
    }

    /// Opens a path for `introduction`, for player `me` of a match of
    /// `count`. Refused (and counted) before consent, for an index outside
    /// the match or this player's own, or a peer already introduced.
    pub(crate) fn introduce(
        &mut self,
        now: Instant,
        me: u8,
        count: u8,
        introduction: &Introduction,
    ) -> bool {
        let peer = introduction.peer;
        let fits = peer < count.min(MAX_PLAYERS) && peer != me;
        let fresh = self.path(peer).is_none();
        let (Some(config), true, true) = (self.config, fits, fresh) else {
            self.dropped += 1;
            return false;
        };
        let Ok(table) = channel_table() else {
            return false;
        };
        self.paths
            .push(DirectPath::new(now, me, introduction, config, table));
        true
    }

    /// Forgets every path (a new room, or the match ended).
    pub(crate) fn clear(&mut self) {
        self.paths.clear();
    }

    /// Forgets the path to `peer` (it left).
    pub(crate) fn remove(&mut self, peer: u8) {
        self.paths.retain(|p| p.peer() != peer);
    }

    /// Whether any peer was introduced.
    pub(crate) fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    fn path(&mut self, peer: u8) -> Option<&mut DirectPath> {
        self.paths.iter_mut().find(|p| p.peer() == peer)
    }

    /// The path to `peer`, as the game sees it.
    pub(crate) fn report(&self, peer: u8) -> Option<PeerPath> {
        self.paths
            .iter()
            .find(|p| p.peer() == peer)
            .map(DirectPath::report)
    }

    /// Datagrams no path took, and introductions refused.
    pub(crate) const fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Queues `message` to `peer` on its path; `None` when there is no
    /// path to it (send through the relay instead).
    pub(crate) fn send(
        &mut self,
        peer: u8,
        channel: ChannelId,
        message: &[u8],
    ) -> Option<Result<(), SendError>> {
        Some(self.path(peer)?.send(channel, message))
    }

    /// Takes a datagram that reached the socket from `from`, not from the
    /// relay.
    pub(crate) fn handle_direct(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &mut [u8],
        out: &mut dyn Outbox,
    ) {
        let taken = match DirectHeader::parse(datagram) {
            Ok((header, _)) => self
                .path(header.from)
                .is_some_and(|p| p.handle_datagram(now, Some(from), datagram, out).is_ok()),
            Err(_) => false,
        };
        if !taken {
            self.dropped += 1;
        }
    }

    /// Takes a datagram that player `from` sent through the relay.
    pub(crate) fn handle_relayed(&mut self, now: Instant, from: u8, datagram: &[u8]) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend_from_slice(datagram);
        let taken = match DirectHeader::parse(&scratch) {
            Ok((header, _)) if header.from == from => self.path(from).is_some_and(|p| {
                p.handle_datagram(now, None, &mut scratch, &mut NoAnswers)
                    .is_ok()
            }),
            _ => false,
        };
        if !taken {
            self.dropped += 1;
        }
        self.scratch = scratch;
    }

    /// Hands every message the paths released to `each`, with its sender.
    pub(crate) fn drain(&mut self, mut each: impl FnMut(u8, Message)) {
        for path in &mut self.paths {
            while let Some(message) = path.recv() {
                each(path.peer(), message);
            }
        }
    }

    /// Runs the paths' timers and sends what they queued: direct datagrams
    /// from `client`'s socket, the rest through its relay connection.
    pub(crate) fn poll_transmit(&mut self, now: Instant, client: &mut EngineClient) {
        let mut sink = ClientSink { client, now };
        for path in &mut self.paths {
            path.poll_transmit(now, &mut sink);
        }
    }

    /// When [`DirectPeers::poll_transmit`] next has timer work.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.paths.iter().filter_map(DirectPath::poll_timeout).min()
    }
}

/// Relayed datagrams are never answered.
struct NoAnswers;

impl Outbox for NoAnswers {
    fn push(&mut self, _: SocketAddr, _: &mut dyn FnMut(&mut [u8]) -> usize) {}
}

/// The relay client's socket and relay connection as a path's sink.
struct ClientSink<'a> {
    client: &'a mut EngineClient,
    now: Instant,
}

impl PathSink for ClientSink<'_> {
    fn direct(&mut self, to: SocketAddr, datagram: &[u8]) {
        OutboxSink(self.client.outbox()).direct(to, datagram);
    }

    fn relayed(&mut self, peer: u8, datagram: &[u8]) {
        debug_assert!(datagram.len() <= MAX_DIRECT_LEN);
        let message = ClientMessage::SendPair {
            to: peer,
            data: datagram,
        }
        .to_vec();
        // A full-size datagram is over what one relay packet carries
        // unreliably: it goes on the relay's reliable channel, fragmented.
        let channel = if message.len() <= MAX_UNRELIABLE_LEN {
            UNRELIABLE
        } else {
            CONTROL
        };
        if let Err(e) = self.client.send(self.now, channel, &message) {
            tracing::debug!(peer, error = %e, "relayed pair datagram not sent");
        }
    }
}
