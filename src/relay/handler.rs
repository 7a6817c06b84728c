//! The relay as an engine [`Handler`]: runs on every port thread.
//!
//! Proxied messages are routed from the port's own copy of the matches
//! under way (`super::routes`), with no lock shared between ports, and sent
//! from the sender's port thread: to a player on the same port without
//! leaving the thread, to one on another port through that port's mailbox.
//! Matchmaking takes the matchmaker's lock and, before releasing it,
//! queues the room changes it made to every port.
//! Reliable forwards go with `send_or_disconnect`: a recipient too slow to
//! take one is dropped, never silently shorted.

use super::address_check::AddressCheck;
use super::budgets::{FAILED_JOIN_COST, RequestBudgets};
use super::matchmaker::{Matchmaker, Outbound};
use super::protocol::{
    CONTROL, ClientMessage, LeaveReason, RelayError, RelayMessage, Target, TokenRoom, UNRELIABLE,
};
use super::routes::{RouteFeed, Routes};
use crate::engine::{Context, Handler, PeerId, SendError};
use crate::proto::channel::ChannelId;
use crate::proto::server::DisconnectReason;
use crate::sync::{Arc, AtomicU64, Ordering};
use crate::wire::connect_token::UserData;
use ahash::RandomState;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::net::SocketAddr;
use tracing::debug;

/// What every port's handler shares.
#[derive(Debug)]
pub(crate) struct RelayShared {
    /// Taken for matchmaking, and by a port rebuilding its routes.
    pub(crate) matchmaker: RwLock<Matchmaker>,
    /// Per port, the room changes it has yet to apply to its routes.
    pub(crate) feeds: Vec<RouteFeed>,
    /// Messages forwarded, per port (each port adds to its own).
    pub(crate) forwarded: Vec<AtomicU64>,
    /// Messages dropped: unknown channel or kind, bad proxy, over budget.
    pub(crate) dropped: Vec<AtomicU64>,
    /// Tickets for consenting players' address checks.
    pub(crate) address_check: AddressCheck,
}

/// One port's relay handler.
#[derive(Debug)]
pub(crate) struct RelayHandler {
    shared: Arc<RelayShared>,
    port: usize,
    out: Vec<(PeerId, Vec<u8>)>,
    /// This port's copy of the started rooms.
    routes: Routes,
    /// The request budgets of this port's peers.
    budgets: RequestBudgets,
    targets: Vec<PeerId>,
    /// A forwarded message, encoded once for all its recipients; reused.
    forward: Vec<u8>,
    /// The rooms this port's peers' tokens name (a fleet front placed
    /// them); one entry per such peer while connected.
    token_rooms: HashMap<PeerId, TokenRoom, RandomState>,
}

impl RelayHandler {
    pub(crate) fn new(shared: Arc<RelayShared>, port: u16, budgets: RequestBudgets) -> Self {
        Self {
            shared,
            port: usize::from(port),
            out: Vec::new(),
            routes: Routes::default(),
            budgets,
            targets: Vec::new(),
            forward: Vec::new(),
            token_rooms: HashMap::default(),
        }
    }

    fn count(counters: &[AtomicU64], port: usize, n: u64) {
        if let Some(counter) = counters.get(port) {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Runs `op` on the matchmaker under its write lock, then queues the
    /// room changes it made to every port before the lock is released (so
    /// two writers' changes reach each port in the order they were made).
    fn matchmake<R>(&mut self, op: impl FnOnce(&mut Matchmaker, &mut Vec<Outbound>) -> R) -> R {
        let mut matchmaker = self.shared.matchmaker.write();
        let result = op(&mut matchmaker, &mut self.out);
        let feeds = &self.shared.feeds;
        matchmaker.take_route_updates(|update| {
            let update = Arc::new(update);
            for feed in feeds {
                feed.push(update.clone());
            }
        });
        result
    }

    /// Brings this port's routes up to date.
    fn sync_routes(&mut self) {
        let Some(feed) = self.shared.feeds.get(self.port) else {
            return;
        };
        if !feed.apply_to(&mut self.routes) {
            self.shared.matchmaker.read().fill_routes(&mut self.routes);
        }
    }

    /// Sends what the matchmaker queued, on the control channel.
    fn flush(&mut self, ctx: &mut Context<'_>) {
        for (peer, bytes) in self.out.drain(..) {
            if let Err(e) = ctx.send(peer, CONTROL, &bytes) {
                debug!(%peer, error = %e, "relay reply not sent");
            }
        }
    }

    /// Answers a control message that did not parse, within the peer's
    /// request budget: `BadMatchInfo` for oversized match data, else `BadRequest`.
    fn refuse(&mut self, ctx: &mut Context<'_>, peer: PeerId, bytes: &[u8]) {
        if self.budgets.admit(peer, ctx.now(), 1, &mut self.out) {
            let asks_for_a_room = matches!(bytes.first(), Some(1 | 2));
            let error = if asks_for_a_room {
                RelayError::BadMatchInfo
            } else {
                RelayError::BadRequest
            };
            self.out.push((peer, RelayMessage::Error(error).to_vec()));
        }
        self.flush(ctx);
    }

    fn proxy(
        &mut self,
        ctx: &mut Context<'_>,
        peer: PeerId,
        channel: ChannelId,
        message: &ClientMessage<'_>,
    ) {
        let (target, data, pair) = match message {
            ClientMessage::SendProxy { target, data } => (*target, *data, false),
            ClientMessage::SendPair { to, data } => (Target::Player(*to), *data, true),
            _ => return,
        };
        self.targets.clear();
        self.sync_routes();
        let routed = self.routes.route(peer, target, &mut self.targets);
        let from = match routed {
            Ok(from) => from,
            Err(error) => {
                Self::count(&self.shared.dropped, self.port, 1);
                if channel == CONTROL {
                    self.out.push((peer, RelayMessage::Error(error).to_vec()));
                }
                return;
            }
        };
        if pair {
            RelayMessage::RecvPair { from, data }.write_over(&mut self.forward);
        } else {
            RelayMessage::RecvProxy { from, data }.write_over(&mut self.forward);
        }
        let bytes = &self.forward;
        let mut sent = 0;
        for target in &self.targets {
            // Reliable forwards are never dropped silently: a recipient
            // whose budget is full is disconnected (TooSlow) instead.
            let result = if channel == CONTROL {
                ctx.send_or_disconnect(*target, channel, bytes)
            } else {
                ctx.send(*target, channel, bytes)
            };
            match result {
                Ok(()) => sent += 1,
                Err(SendError::PeerBusy(_) | SendError::Disconnected(_)) => {
                    Self::count(&self.shared.dropped, self.port, 1);
                }
                Err(e) => debug!(%target, error = %e, "proxy not forwarded"),
            }
        }
        Self::count(&self.shared.forwarded, self.port, sent);
    }
}

impl Handler for RelayHandler {
    /// Keeps the room a fleet front put in the peer's token.
    fn connected(&mut self, _: &mut Context<'_>, peer: PeerId, _: u64, user_data: &UserData) {
        if let Some(room) = TokenRoom::parse(user_data) {
            self.token_rooms.insert(peer, room);
        }
    }

    fn message(&mut self, ctx: &mut Context<'_>, peer: PeerId, channel: ChannelId, bytes: &[u8]) {
        if channel != CONTROL && channel != UNRELIABLE {
            Self::count(&self.shared.dropped, self.port, 1);
            return;
        }
        let message = match ClientMessage::parse(bytes) {
            Ok(message) => message,
            Err(error) => {
                debug!(%peer, %error, "bad relay message");
                Self::count(&self.shared.dropped, self.port, 1);
                if channel == CONTROL {
                    self.refuse(ctx, peer, bytes);
                }
                return;
            }
        };
        if matches!(
            message,
            ClientMessage::SendProxy { .. } | ClientMessage::SendPair { .. }
        ) {
            self.proxy(ctx, peer, channel, &message);
            self.flush(ctx);
            return;
        }
        if channel != CONTROL {
            Self::count(&self.shared.dropped, self.port, 1);
            return;
        }
        let now = ctx.now();
        let (observed, rtt) = (ctx.peer_addr(peer), ctx.peer_stats(peer).map(|s| s.rtt));
        // Over budget: dropped here, without touching the matchmaker.
        if !self.budgets.admit(peer, now, 1, &mut self.out) {
            Self::count(&self.shared.dropped, self.port, 1);
            self.flush(ctx);
            return;
        }
        let token_room = self.token_rooms.get(&peer).copied();
        let preset = match token_room {
            Some(TokenRoom::LobbyHost(code)) => Some(code),
            _ => None,
        };
        let fleet_match = match token_room {
            Some(TokenRoom::Match { room, seats }) => Some((room, seats)),
            _ => None,
        };
        let fleet_rejoin = match token_room {
            Some(TokenRoom::Rejoin { room, seats }) => Some((room, seats)),
            _ => None,
        };
        let ticket = matches!(message, ClientMessage::AllowDirect { .. })
            .then(|| self.shared.address_check.ticket(peer));
        let found = self.matchmake(|matchmaker, out| {
            match message {
                ClientMessage::RequestMatch(info) => match fleet_match {
                    Some(room) => matchmaker.request_fleet_match(peer, info, room, out),
                    None => matchmaker.request_match(peer, info, out),
                },
                ClientMessage::CreateLobby { info, public } => {
                    matchmaker.create_lobby(peer, info, public, preset, out);
                }
                ClientMessage::JoinLobby(code) => return matchmaker.join_lobby(peer, code, out),
                ClientMessage::ListLobbies { match_data } => {
                    matchmaker.list_lobbies(peer, match_data, out);
                }
                ClientMessage::LeaveRoom => matchmaker.leave(peer, LeaveReason::Left, now, out),
                ClientMessage::StartMatch => matchmaker.start(peer, out),
                ClientMessage::Rejoin(secret) => {
                    matchmaker.rejoin(peer, secret, fleet_rejoin, now, out);
                }
                ClientMessage::AllowDirect { lan } => {
                    let rtt = rtt.unwrap_or_default();
                    let allowed =
                        observed.is_some_and(|o| matchmaker.allow_direct(peer, o, &lan, rtt));
                    if let Some(ticket) = ticket.filter(|_| allowed) {
                        out.push((peer, RelayMessage::CheckAddress(ticket).to_vec()));
                    }
                }
                _ => out.push((peer, RelayMessage::Error(RelayError::BadRequest).to_vec())),
            }
            true
        });
        if !found {
            self.budgets.charge(peer, FAILED_JOIN_COST);
        }
        self.flush(ctx);
    }

    /// An address check from a consenting player, on a port other than its
    /// own (one on its own port shows nothing and is ignored by the
    /// matchmaker's comparison all the same).
    fn stray(&mut self, ctx: &mut Context<'_>, from: SocketAddr, bytes: &[u8]) {
        let Some(peer) = self.shared.address_check.verify(bytes) else {
            Self::count(&self.shared.dropped, self.port, 1);
            return;
        };
        if peer.port() == ctx.port() {
            return;
        }
        self.matchmake(|matchmaker, out| matchmaker.address_checked(peer, from, out));
        self.flush(ctx);
    }

    fn disconnected(&mut self, ctx: &mut Context<'_>, peer: PeerId, why: DisconnectReason) {
        let now = ctx.now();
        let reason = if why == DisconnectReason::TooSlow {
            LeaveReason::TooSlow
        } else {
            LeaveReason::Disconnected
        };
        self.budgets.forget(peer);
        self.token_rooms.remove(&peer);
        self.matchmake(|matchmaker, out| {
            matchmaker.forget(peer);
            matchmaker.leave(peer, reason, now, out);
        });
        self.flush(ctx);
    }
}
