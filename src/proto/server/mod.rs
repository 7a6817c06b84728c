//! The sans-IO netcode.io server shard (netcode-spec §5, §6).
//!
//! One shard serves the clients on one port. It opens connection requests
//! with the private key, challenges the requester, admits it on a valid
//! response, then authenticates and decrypts its packets, sends keep-alives
//! and times it out. See [`crate::proto`] for the call order.
//!
//! # Security
//!
//! Every datagram is hostile until authenticated. The only reply to an
//! unauthenticated sender answers a 1078-byte request that carried a
//! private token sealed with the server's key, and is smaller than it
//! (challenge 333 bytes at most, denied 25): the server cannot be used to
//! amplify. Every table is bounded ([`ShardConfig`]); tables keyed by
//! sender-chosen values use randomly seeded hashing. Drops are counted in
//! [`Stats`] and logged at `trace` only, so an attacker does not set the log
//! volume.

mod client_index;
mod config;
mod deadlines;
mod event;
mod limiter;
mod pending;
mod session;
mod session_keys;
mod sparse;
mod stats;
mod token_log;

pub use client_index::ClientIndex;
pub use config::{ConfigError, MAX_CLIENTS_LIMIT, ShardConfig};
pub use event::{DisconnectReason, Event};
pub use stats::{DropReason, Stats};

use super::channel::{ChannelId, ChannelTable, ConnectionStats, Inbox};
use super::{
    DISCONNECT_PACKETS, Outbox, SEND_INTERVAL, SendError, WallClock, token_timeout, written,
};
use crate::crypto::{Key, MAC_LEN, PacketCipher, Random};
use crate::wire::challenge_token::{self, ChallengeToken};
use crate::wire::connect_token::{PRIVATE_LEN, PrivateToken, UserData};
use crate::wire::packet::{self, Body, ConnectionRequest};
use crate::wire::prefix::PacketType;
use ahash::RandomState;
use deadlines::Deadlines;
use limiter::RequestLimiter;
use pending::{Pending, PendingTable};
use session::{Admitted, Received, SealKey, Session};
use session_keys::SessionKeys;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use token_log::TokenLog;
use tracing::trace;

/// First sequence of the server's global packets (challenge, denied).
///
/// They share the s2c key with per-client packets, whose sequences start at
/// 0; starting the global sequence in the top half keeps nonces disjoint.
const GLOBAL_SEQUENCE_START: u64 = 1 << 63;
/// How often expired handshakes are swept out.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// Most channel packets one client writes per [`Shard::poll_transmit`]
/// or deadline; the rest wait for the next.
const MAX_PACKETS_PER_WRITE: usize = 64;
/// The soonest a channel deadline may follow the work that set it, so a
/// caller never spins on it.
const MIN_TICK: Duration = Duration::from_millis(1);

/// One client slot: its session while occupied, and how many times it
/// has been taken. The session is boxed so a free slot costs 16 bytes, not
/// a session's 1.8 KiB: a shard sized for thousands holds only its peers.
#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    session: Option<Box<Session>>,
}

/// Why a datagram was dropped, internally.
type Dropped = DropReason;

/// The server shard. See the [module docs](self).
#[derive(Debug)]
pub struct Shard {
    protocol_id: u64,
    private_key: Key,
    /// This server's addresses, each with the transport that reaches it.
    addresses: Vec<(u8, SocketAddr)>,
    /// The transport the datagrams being handled came through.
    arrival: u8,
    clock: WallClock,
    challenge_cipher: PacketCipher,
    /// Per-source limit on connection requests, if configured.
    limiter: Option<RequestLimiter>,
    challenge_sequence: u64,
    global_sequence: u64,
    /// Every session's channel table; `None`: raw payloads.
    channels: Option<ChannelTable>,
    slots: Vec<Slot>,
    /// Messages released by the last payload, until taken.
    inbox: Inbox,
    /// Slots whose channels have something to write, each listed once.
    dirty: Vec<u32>,
    is_dirty: Vec<bool>,
    /// When each session's channels next need writing.
    deadlines: Deadlines,
    // Source addresses and client ids are chosen by senders: seeded hashing.
    by_address: HashMap<SocketAddr, ClientIndex, RandomState>,
    by_client_id: HashMap<u64, ClientIndex, RandomState>,
    pending: PendingTable,
    pending_timeout: Duration,
    token_log: TokenLog,
    events: VecDeque<Event>,
    stats: Stats,
    next_sweep: Instant,
    /// When the netcode timers (keep-alives, timeouts, sweep) next run.
    next_keep_alive: Instant,
}

impl Shard {
    /// A shard with every slot free, drawing its challenge key from `random`.
    ///
    /// `now` and `clock` anchor its time (see [`crate::proto`]).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the configuration's limits are out of range.
    pub fn new(
        config: ShardConfig,
        now: Instant,
        clock: WallClock,
        random: &mut dyn Random,
    ) -> Result<Self, ConfigError> {
        let config = config.validate()?;
        let max_clients = config.max_clients;
        let mut slots = Vec::with_capacity(max_clients);
        slots.resize_with(max_clients, Slot::default);
        Ok(Self {
            protocol_id: config.protocol_id,
            challenge_cipher: PacketCipher::new(&Key::generate(random)),
            limiter: config
                .requests_per_source
                .map(|n| RequestLimiter::new(n, now)),
            challenge_sequence: 0,
            global_sequence: GLOBAL_SEQUENCE_START,
            channels: config.channels.clone(),
            slots,
            inbox: Inbox::new(),
            dirty: Vec::new(),
            is_dirty: vec![false; max_clients],
            deadlines: Deadlines::new(max_clients),
            by_address: HashMap::with_capacity_and_hasher(max_clients, RandomState::new()),
            by_client_id: HashMap::with_capacity_and_hasher(max_clients, RandomState::new()),
            pending: PendingTable::new(config.max_pending_value()),
            pending_timeout: config.pending_timeout,
            token_log: TokenLog::new(config.token_log_value()),
            events: VecDeque::new(),
            stats: Stats::default(),
            next_sweep: now + SWEEP_INTERVAL,
            next_keep_alive: now,
            clock,
            private_key: config.private_key,
            addresses: config.addresses,
            arrival: 0,
        })
    }

    /// Counters so far.
    pub const fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Number of slots.
    pub fn max_clients(&self) -> usize {
        self.slots.len()
    }

    /// Number of connected clients.
    pub fn connected_count(&self) -> usize {
        self.by_address.len()
    }

    /// Number of sessions holding prepared keys (trading payloads lately).
    #[cfg(test)]
    pub(crate) fn prepared_sessions(&self) -> usize {
        self.slots
            .iter()
            .filter_map(|entry| entry.session.as_ref())
            .filter(|session| session.keys_prepared())
            .count()
    }

    /// Number of handshakes in progress.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// Whether a client is connected in `client`'s slot.
    pub fn is_connected(&self, client: ClientIndex) -> bool {
        self.connected(client).is_some()
    }

    /// The channel table every session uses; `None` when raw.
    pub const fn channel_table(&self) -> Option<&ChannelTable> {
        self.channels.as_ref()
    }

    /// The handle of the client connected in slot `slot`.
    pub fn client_in(&self, slot: u32) -> Option<ClientIndex> {
        let entry = self.slots.get(slot as usize)?;
        entry
            .session
            .as_ref()
            .map(|_| ClientIndex::new(slot, entry.generation))
    }

    /// The address of the client in `client`'s slot.
    pub fn address(&self, client: ClientIndex) -> Option<SocketAddr> {
        self.connected(client).map(|c| c.address)
    }

    /// The client id from the token of the client in `client`'s slot.
    pub fn client_id(&self, client: ClientIndex) -> Option<u64> {
        self.connected(client).map(|c| c.client_id)
    }

    /// The user data from the token of the client in `client`'s slot.
    pub fn user_data(&self, client: ClientIndex) -> Option<&UserData> {
        self.connected(client).map(|c| &*c.user_data)
    }

    /// The slot of the client connected from `address`.
    pub fn client_at(&self, address: &SocketAddr) -> Option<ClientIndex> {
        self.by_address.get(address).copied()
    }

    /// The next connect or disconnect, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Shard::update`] next has work: a keep-alive, a timeout, a
    /// sweep, or a client's channels due (a resend, an owed ack).
    pub fn next_update(&mut self) -> Instant {
        self.deadlines
            .next()
            .map_or(self.next_keep_alive, |due| due.min(self.next_keep_alive))
    }

    /// The channel counters (RTT, loss, bytes in flight) of `client`;
    /// `None` when it is gone or the shard is raw.
    pub fn client_stats(&self, client: ClientIndex) -> Option<ConnectionStats> {
        self.connected(client)?.channel_stats()
    }

    /// Every connected client's channel counters (none when raw).
    pub fn all_client_stats(&self) -> impl Iterator<Item = (ClientIndex, ConnectionStats)> + '_ {
        (0u32..).zip(&self.slots).filter_map(|(slot, entry)| {
            let stats = entry.session.as_ref()?.channel_stats()?;
            Some((ClientIndex::new(slot, entry.generation), stats))
        })
    }

    fn connected(&self, client: ClientIndex) -> Option<&Session> {
        self.slots
            .get(client.slot())
            .filter(|entry| entry.generation == client.generation())?
            .session
            .as_deref()
    }

    fn connected_mut(&mut self, client: ClientIndex) -> Option<&mut Session> {
        self.slots
            .get_mut(client.slot())
            .filter(|entry| entry.generation == client.generation())?
            .session
            .as_deref_mut()
    }

    fn seal_key(&self, client: ClientIndex) -> SealKey {
        SealKey {
            protocol_id: self.protocol_id,
            slot: client.get(),
            max_clients: self.slots.len() as u32,
        }
    }

    /// Says which of the server's transports the next datagrams come
    /// through (see [`ShardConfig::transport_address`]); 0 until called.
    pub const fn receiving_via(&mut self, transport: u8) {
        self.arrival = transport;
    }

    /// Handles one datagram from `from`, decrypted in place. Replies go
    /// to `out`.
    ///
    /// Returns the client whose payload released messages: take them with
    /// [`Shard::take_messages`] before the next datagram. Anything wrong
    /// with the datagram drops it and counts it in [`Stats`].
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &mut [u8],
        out: &mut dyn Outbox,
    ) -> Option<ClientIndex> {
        self.stats.received += 1;
        let len = datagram.len();
        match self.dispatch(now, from, datagram, out) {
            Ok(delivered) => delivered,
            Err(reason) => {
                self.stats.count_drop(reason);
                trace!(%from, len, ?reason, "dropped datagram");
                None
            }
        }
    }

    /// Moves the messages the last [`Shard::handle_datagram`] released into
    /// `into`, dropping what it held, and keeps `into`'s buffers: no copy
    /// and, once both have grown to the working size, no allocation. Read
    /// them with [`Inbox::iter`] and pass the inbox back next time.
    pub fn take_messages(&mut self, into: &mut Inbox) {
        into.clear();
        std::mem::swap(&mut self.inbox, into);
    }

    fn dispatch(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &mut [u8],
        out: &mut dyn Outbox,
    ) -> Result<Option<ClientIndex>, Dropped> {
        if let Some(&client) = self.by_address.get(&from) {
            return self.handle_connected(now, client, datagram);
        }
        match datagram.first() {
            Some(0) => {
                if let Some(limiter) = &mut self.limiter {
                    if !limiter.admit(from, now) {
                        return Err(DropReason::RateLimited);
                    }
                }
                self.handle_request(now, from, datagram, out).map(|()| None)
            }
            Some(_) => self.handle_pending(now, from, datagram, out).map(|()| None),
            None => Err(DropReason::Malformed),
        }
    }

    fn handle_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
        out: &mut dyn Outbox,
    ) -> Result<(), Dropped> {
        let request = ConnectionRequest::parse(datagram).map_err(|_| DropReason::Malformed)?;
        if request.protocol_id != self.protocol_id {
            return Err(DropReason::WrongProtocol);
        }
        if request.expire_unix_secs <= self.clock.unix_secs(now) {
            return Err(DropReason::TokenExpired);
        }
        let token = PrivateToken::open(
            request.private,
            &self.private_key,
            self.protocol_id,
            request.expire_unix_secs,
            request.nonce,
        )
        .map_err(|_| DropReason::TokenInvalid)?;
        let for_us = token
            .server_addresses
            .as_slice()
            .iter()
            .any(|a| self.addresses.contains(&(self.arrival, *a)));
        if !for_us {
            return Err(DropReason::NotThisServer);
        }
        if self.by_client_id.contains_key(&token.client_id) {
            return Err(DropReason::AlreadyConnected);
        }
        let tag = tag_of(request.private);
        if !self.token_log.admit(tag, request.expire_unix_secs, from) {
            return Err(DropReason::TokenReused);
        }
        let send = PacketCipher::new(&token.server_to_client_key);
        if self.connected_count() >= self.slots.len() {
            self.stats.denied += 1;
            self.send_global(from, &send, &Body::Denied, out);
            return Ok(());
        }
        let timeout = token_timeout(token.timeout_secs);
        let entry = Pending {
            send_key: token.server_to_client_key.clone(),
            recv_key: token.client_to_server_key.clone(),
            timeout,
            expire_at: now + timeout.unwrap_or(self.pending_timeout),
            last_access: now,
        };
        if !self.pending.insert(from, entry, now) {
            return Err(DropReason::PendingFull);
        }
        let mut sealed = [0u8; challenge_token::TOKEN_LEN];
        ChallengeToken {
            client_id: token.client_id,
            user_data: token.user_data,
        }
        .seal(&self.challenge_cipher, self.challenge_sequence, &mut sealed);
        let challenge = Body::Challenge {
            challenge_sequence: self.challenge_sequence,
            token: &sealed,
        };
        self.challenge_sequence = self.challenge_sequence.wrapping_add(1);
        self.send_global(from, &send, &challenge, out);
        Ok(())
    }

    fn handle_pending(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &mut [u8],
        out: &mut dyn Outbox,
    ) -> Result<(), Dropped> {
        let header = packet::parse_header(datagram).map_err(|_| DropReason::Malformed)?;
        let Some(pending) = self.pending.get(&from, now) else {
            return Err(DropReason::UnknownSource);
        };
        if header.packet_type() != PacketType::Response {
            return Err(DropReason::UnexpectedType);
        }
        let recv = PacketCipher::new(&pending.recv_key);
        let body = packet::open(datagram, &header, self.protocol_id, &recv)
            .map_err(|_| DropReason::Unauthenticated)?;
        let Body::Response {
            challenge_sequence,
            token,
        } = body
        else {
            return Err(DropReason::UnexpectedType);
        };
        let challenge = ChallengeToken::open(token, &self.challenge_cipher, challenge_sequence)
            .map_err(|_| DropReason::ChallengeInvalid)?;
        if self.by_client_id.contains_key(&challenge.client_id) {
            return Err(DropReason::AlreadyConnected);
        }
        let keys = SessionKeys::new(pending.send_key.clone(), pending.recv_key.clone());
        let timeout = pending.timeout;
        // Slots number at most MAX_CLIENTS_LIMIT, so an index fits in u32.
        let Some(slot) = self.slots.iter().position(|entry| entry.session.is_none()) else {
            self.stats.denied += 1;
            let send = PacketCipher::new(&pending.send_key);
            self.send_global(from, &send, &Body::Denied, out);
            return Ok(());
        };
        self.pending.remove(&from);
        let admitted = Admitted {
            address: from,
            client_id: challenge.client_id,
            user_data: Box::new(challenge.user_data),
            keys,
            timeout,
        };
        let mut session = Session::new(admitted, now, self.channels.clone());
        let Some(entry) = self.slots.get_mut(slot) else {
            return Err(DropReason::UnknownSource);
        };
        entry.generation = entry.generation.wrapping_add(1);
        let client = ClientIndex::new(slot as u32, entry.generation);
        let key = SealKey {
            protocol_id: self.protocol_id,
            slot: client.get(),
            max_clients: self.slots.len() as u32,
        };
        session.keep_alive(now, key, out);
        self.stats.sent += 1;
        if let Some(entry) = self.slots.get_mut(slot) {
            entry.session = Some(Box::new(session));
        }
        self.by_address.insert(from, client);
        self.by_client_id.insert(challenge.client_id, client);
        self.stats.connects += 1;
        self.events.push_back(Event::Connected {
            client,
            client_id: challenge.client_id,
            address: from,
        });
        self.next_keep_alive = self.next_keep_alive.min(now + SEND_INTERVAL);
        Ok(())
    }

    fn handle_connected(
        &mut self,
        now: Instant,
        client: ClientIndex,
        datagram: &mut [u8],
    ) -> Result<Option<ClientIndex>, Dropped> {
        let protocol_id = self.protocol_id;
        let Some(session) = self
            .slots
            .get_mut(client.slot())
            .and_then(|entry| entry.session.as_mut())
        else {
            return Err(DropReason::UnknownSource);
        };
        let received = session.receive(now, protocol_id, datagram, &mut self.inbox);
        let due = session.channels_due(now);
        match received {
            Ok(Received::KeepAlive) => Ok(None),
            Ok(Received::Disconnect) => {
                self.free(client, DisconnectReason::ClientDisconnected);
                Ok(None)
            }
            Err(Ok(reason)) => Err(reason),
            Ok(Received::Payload) | Err(Err(_)) => {
                self.stats.payloads_in += 1;
                if let Err(Err(error)) = received {
                    self.stats.channel_refused += 1;
                    trace!(client = client.get(), %error, "payload refused by the channel layer");
                }
                self.schedule(client.get(), due, now);
                Ok((!self.inbox.is_empty()).then_some(client))
            }
        }
    }

    /// Sends `bytes` to `client` on `channel`.
    ///
    /// On channels it is queued, and goes out with the next
    /// [`Shard::poll_transmit`] (many messages share a packet); raw, it is
    /// sealed into `out` at once as one payload. Until the client has
    /// confirmed its connection, a keep-alive goes first, so a client whose
    /// first keep-alive was lost still learns it is connected before the
    /// payload arrives.
    ///
    /// # Errors
    ///
    /// [`SendError::NotConnected`] when `client` is gone;
    /// [`SendError::UnknownChannel`], [`SendError::BadLength`] or
    /// [`SendError::QueueFull`] when the message does not suit its channel
    /// (raw: [`ChannelId::RAW`], 1..=1200 bytes) or the budget is full.
    pub fn send(
        &mut self,
        now: Instant,
        client: ClientIndex,
        channel: ChannelId,
        bytes: &[u8],
        out: &mut dyn Outbox,
    ) -> Result<(), SendError> {
        let key = self.seal_key(client);
        let session = self.connected_mut(client).ok_or(SendError::NotConnected)?;
        let sealed = session.send(now, channel, bytes, key, out)?;
        self.stats.sent += sealed;
        if self.channels.is_some() {
            self.mark(client.get());
        }
        Ok(())
    }

    /// Writes what the clients with queued messages have to send into `out`.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut dyn Outbox) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for slot in dirty.drain(..) {
            if let Some(flag) = self.is_dirty.get_mut(slot as usize) {
                *flag = false;
            }
            self.write(slot, now, out);
        }
        self.dirty = dirty;
    }

    fn mark(&mut self, slot: u32) {
        if let Some(flag) = self.is_dirty.get_mut(slot as usize) {
            if !*flag {
                *flag = true;
                self.dirty.push(slot);
            }
        }
    }

    /// Has the channels of the client in `slot` written by `due`: at once
    /// (on the next [`Shard::poll_transmit`]) if due now, else no sooner
    /// than [`MIN_TICK`] from `now`.
    fn schedule(&mut self, slot: u32, due: Option<Instant>, now: Instant) {
        match due {
            Some(due) if due <= now => self.mark(slot),
            Some(due) => self.deadlines.schedule(slot, due.max(now + MIN_TICK)),
            None => {}
        }
    }

    /// Writes the channel packets the client in `slot` has due, then
    /// schedules its next deadline.
    fn write(&mut self, slot: u32, now: Instant, out: &mut dyn Outbox) {
        let key = SealKey {
            protocol_id: self.protocol_id,
            slot,
            max_clients: self.slots.len() as u32,
        };
        let Some(session) = self
            .slots
            .get_mut(slot as usize)
            .and_then(|entry| entry.session.as_mut())
        else {
            return;
        };
        for _ in 0..MAX_PACKETS_PER_WRITE {
            let packets = session.write_channels(now, key, out);
            if packets == 0 {
                break;
            }
            self.stats.sent += packets;
        }
        // What was written may have settled what an earlier deadline was
        // for (an owed ack rode on data): the session's deadline becomes
        // its next one, so the caller is not woken for nothing.
        let next = session.channels_due(now).map(|due| due.max(now + MIN_TICK));
        self.deadlines.reschedule(slot, next);
    }

    /// Ends the connection of `client`: sends the redundant disconnect
    /// packets and frees the slot. Nothing happens for a client gone.
    pub fn disconnect(&mut self, client: ClientIndex, out: &mut dyn Outbox) {
        self.end(client, DisconnectReason::ServerDisconnected, out);
    }

    /// Ends the connection of `client` like [`Shard::disconnect`],
    /// reporting [`DisconnectReason::TooSlow`]: for a client that cannot
    /// take messages it must not miss.
    pub fn disconnect_too_slow(&mut self, client: ClientIndex, out: &mut dyn Outbox) {
        self.end(client, DisconnectReason::TooSlow, out);
    }

    /// Sends the redundant disconnect packets and frees the slot.
    fn end(&mut self, client: ClientIndex, reason: DisconnectReason, out: &mut dyn Outbox) {
        let protocol_id = self.protocol_id;
        let Some(session) = self.connected_mut(client) else {
            return;
        };
        for _ in 0..DISCONNECT_PACKETS {
            session.seal(protocol_id, &Body::Disconnect, out);
        }
        self.stats.sent += DISCONNECT_PACKETS as u64;
        self.free(client, reason);
    }

    /// Disconnects every client, as on shutdown.
    pub fn disconnect_all(&mut self, out: &mut dyn Outbox) {
        self.end_all(DisconnectReason::ServerDisconnected, out);
    }

    /// Ends every connection because the server's end failed, reporting
    /// [`DisconnectReason::TransportFailed`]. The disconnect packets are
    /// still queued in `out`, in case some of them can be sent.
    pub fn disconnect_all_failed(&mut self, out: &mut dyn Outbox) {
        self.end_all(DisconnectReason::TransportFailed, out);
    }

    fn end_all(&mut self, reason: DisconnectReason, out: &mut dyn Outbox) {
        for slot in 0..self.slots.len() as u32 {
            if let Some(client) = self.client_in(slot) {
                self.end(client, reason, out);
            }
        }
    }

    /// Runs what has fallen due by `now`: keep-alives, timeouts, the sweep
    /// of expired handshakes, and the channels' resends and owed acks.
    pub fn update(&mut self, now: Instant, out: &mut dyn Outbox) {
        if now >= self.next_keep_alive {
            self.keep_alives(now, out);
        }
        while let Some(slot) = self.deadlines.pop_due(now) {
            self.write(slot, now, out);
        }
    }

    /// Sends due keep-alives, times out silent clients, and every sweep
    /// interval drops expired handshakes and idle sessions' prepared keys.
    fn keep_alives(&mut self, now: Instant, out: &mut dyn Outbox) {
        let sweep = now >= self.next_sweep;
        if sweep {
            self.pending.sweep(now);
            self.token_log.sweep(self.clock.unix_secs(now));
            self.next_sweep = now + SWEEP_INTERVAL;
        }
        let mut next = self.next_sweep;
        let (protocol_id, max_clients) = (self.protocol_id, self.slots.len() as u32);
        let mut timed_out = Vec::new();
        for (slot, entry) in (0u32..).zip(&mut self.slots) {
            let Some(session) = entry.session.as_mut() else {
                continue;
            };
            if sweep {
                session.sweep_keys();
            }
            let client = ClientIndex::new(slot, entry.generation);
            if session.is_timed_out(now) {
                timed_out.push(client);
                continue;
            }
            let key = SealKey {
                protocol_id,
                slot,
                max_clients,
            };
            if session.keep_alive_if_quiet(now, SEND_INTERVAL, key, out) {
                self.stats.sent += 1;
            }
            next = next.min(session.last_send + SEND_INTERVAL);
            if let Some(at) = session.timeout_at() {
                next = next.min(at);
            }
        }
        for client in timed_out {
            trace!(client = client.get(), "client timed out");
            self.end(client, DisconnectReason::TimedOut, out);
        }
        self.next_keep_alive = next;
    }

    /// Sends a packet that is not part of a connection, under the global sequence.
    fn send_global(
        &mut self,
        to: SocketAddr,
        cipher: &PacketCipher,
        body: &Body<'_>,
        out: &mut dyn Outbox,
    ) {
        let sequence = self.global_sequence;
        self.global_sequence = self.global_sequence.wrapping_add(1);
        let protocol_id = self.protocol_id;
        out.push(to, &mut |buf| {
            written(packet::seal(body, sequence, protocol_id, cipher, buf))
        });
        self.stats.sent += 1;
    }

    fn free(&mut self, client: ClientIndex, reason: DisconnectReason) {
        let Some(session) = self
            .slots
            .get_mut(client.slot())
            .filter(|entry| entry.generation == client.generation())
            .and_then(|entry| entry.session.take())
        else {
            return;
        };
        self.deadlines.clear(client.get());
        self.by_address.remove(&session.address);
        self.by_client_id.remove(&session.client_id);
        self.stats.disconnects += 1;
        self.events.push_back(Event::Disconnected {
            client,
            client_id: session.client_id,
            address: session.address,
            reason,
        });
    }
}

/// The tag of a sealed private token: its last 16 bytes.
fn tag_of(private: &[u8; PRIVATE_LEN]) -> token_log::TokenTag {
    let mut tag = [0u8; MAC_LEN];
    if let Some(last) = private.last_chunk::<MAC_LEN>() {
        tag = *last;
    }
    tag
}
