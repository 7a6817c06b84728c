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
//! amplify. Every table is bounded ([`ServerConfig`]); tables keyed by
//! sender-chosen values use randomly seeded hashing. Drops are counted in
//! [`Stats`] and logged at `trace` only, so an attacker does not set the log
//! volume.

mod client_index;
mod config;
mod connected;
mod event;
mod limiter;
mod pending;
mod stats;
mod token_log;

pub use client_index::ClientIndex;
pub use config::{ConfigError, MAX_CLIENTS_LIMIT, ServerConfig};
pub use event::{DisconnectReason, Event, Payload};
pub use stats::{DropReason, Stats};

use super::{DISCONNECT_PACKETS, Outbox, SEND_INTERVAL, WallClock, token_timeout, written};
use crate::crypto::{Key, MAC_LEN, PacketCipher, Random};
use crate::wire::challenge_token::{self, ChallengeToken};
use crate::wire::connect_token::{PRIVATE_LEN, PrivateToken, UserData};
use crate::wire::packet::{self, Body, ConnectionRequest, MAX_PAYLOAD_LEN};
use crate::wire::prefix::{Header, PacketType};
use ahash::RandomState;
use connected::Connected;
use limiter::RequestLimiter;
use pending::{Pending, PendingTable};
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

/// Why a payload could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// No client is connected in that slot.
    #[error("no client is connected in slot {0}")]
    NotConnected(u32),
    /// The payload is empty or longer than one packet holds.
    #[error("payload of {len} bytes; it must be 1..={max}")]
    BadPayloadLen {
        /// The payload's length.
        len: usize,
        /// The most one packet holds.
        max: usize,
    },
}

/// Why a datagram was dropped, internally.
type Dropped = DropReason;

/// The server shard. See the [module docs](self).
#[derive(Debug)]
pub struct Server {
    protocol_id: u64,
    private_key: Key,
    addresses: Vec<SocketAddr>,
    clock: WallClock,
    challenge_cipher: PacketCipher,
    /// Per-source limit on connection requests, if configured.
    limiter: Option<RequestLimiter>,
    challenge_sequence: u64,
    global_sequence: u64,
    slots: Vec<Option<Connected>>,
    // Source addresses and client ids are chosen by senders: seeded hashing.
    by_address: HashMap<SocketAddr, ClientIndex, RandomState>,
    by_client_id: HashMap<u64, ClientIndex, RandomState>,
    pending: PendingTable,
    pending_timeout: Duration,
    token_log: TokenLog,
    events: VecDeque<Event>,
    stats: Stats,
    next_sweep: Instant,
    next_update: Instant,
}

impl Server {
    /// A shard with every slot free, drawing its challenge key from `random`.
    ///
    /// `now` and `clock` anchor its time (see [`crate::proto`]).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the configuration's limits are out of range.
    pub fn new(
        config: ServerConfig,
        now: Instant,
        clock: WallClock,
        random: &mut dyn Random,
    ) -> Result<Self, ConfigError> {
        let config = config.validate()?;
        let max_clients = config.max_clients;
        let mut slots = Vec::with_capacity(max_clients);
        slots.resize_with(max_clients, || None);
        Ok(Self {
            protocol_id: config.protocol_id,
            challenge_cipher: PacketCipher::new(&Key::generate(random)),
            limiter: config
                .requests_per_source
                .map(|n| RequestLimiter::new(n, now)),
            challenge_sequence: 0,
            global_sequence: GLOBAL_SEQUENCE_START,
            slots,
            by_address: HashMap::with_capacity_and_hasher(max_clients, RandomState::new()),
            by_client_id: HashMap::with_capacity_and_hasher(max_clients, RandomState::new()),
            pending: PendingTable::new(config.max_pending_value()),
            pending_timeout: config.pending_timeout,
            token_log: TokenLog::new(config.token_log_value()),
            events: VecDeque::new(),
            stats: Stats::default(),
            next_sweep: now + SWEEP_INTERVAL,
            next_update: now,
            clock,
            private_key: config.private_key,
            addresses: config.addresses,
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

    /// Number of handshakes in progress.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// Whether a client is connected in `client`'s slot.
    pub fn is_connected(&self, client: ClientIndex) -> bool {
        self.connected(client).is_some()
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

    /// When [`Server::update`] next has work: a keep-alive, a timeout or a sweep.
    pub const fn next_update(&self) -> Instant {
        self.next_update
    }

    fn connected(&self, client: ClientIndex) -> Option<&Connected> {
        self.slots.get(client.slot()).and_then(Option::as_ref)
    }

    /// Handles one datagram from `from`. Replies go to `out`.
    ///
    /// Returns the application payload when `datagram` carried one; it
    /// borrows `datagram`, which is decrypted in place. Anything else that is
    /// wrong with the datagram drops it and counts it in [`Stats`].
    pub fn handle_datagram<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &'a mut [u8],
        out: &mut dyn Outbox,
    ) -> Option<Payload<'a>> {
        self.stats.received += 1;
        let len = datagram.len();
        match self.dispatch(now, from, datagram, out) {
            Ok(payload) => payload,
            Err(reason) => {
                self.stats.count_drop(reason);
                trace!(%from, len, ?reason, "dropped datagram");
                None
            }
        }
    }

    fn dispatch<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &'a mut [u8],
        out: &mut dyn Outbox,
    ) -> Result<Option<Payload<'a>>, Dropped> {
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
            .any(|a| self.addresses.contains(a));
        if !for_us {
            return Err(DropReason::NotThisServer);
        }
        if self.by_client_id.contains_key(&token.client_id) {
            return Err(DropReason::AlreadyConnected);
        }
        let tag = tag_of(request.private);
        if !self.token_log.admit(tag, from) {
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
            send: send.clone(),
            recv: PacketCipher::new(&token.client_to_server_key),
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
        let body = packet::open(datagram, &header, self.protocol_id, &pending.recv)
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
        let (send, recv, timeout) = (pending.send.clone(), pending.recv.clone(), pending.timeout);
        // Slots number at most MAX_CLIENTS_LIMIT, so an index fits in u32.
        let Some(slot) = self.slots.iter().position(Option::is_none) else {
            self.stats.denied += 1;
            self.send_global(from, &send, &Body::Denied, out);
            return Ok(());
        };
        self.pending.remove(&from);
        let client = ClientIndex::new(slot as u32);
        let mut connected = Connected {
            address: from,
            client_id: challenge.client_id,
            user_data: Box::new(challenge.user_data),
            send,
            recv,
            sequence: 0,
            replay: super::ReplayWindow::new(),
            timeout,
            last_send: now,
            last_recv: now,
            confirmed: false,
        };
        keep_alive(
            &mut connected,
            client,
            self.slots.len() as u32,
            self.protocol_id,
            now,
            out,
        );
        self.stats.sent += 1;
        if let Some(free_slot) = self.slots.get_mut(slot) {
            *free_slot = Some(connected);
        }
        self.by_address.insert(from, client);
        self.by_client_id.insert(challenge.client_id, client);
        self.stats.connects += 1;
        self.events.push_back(Event::Connected {
            client,
            client_id: challenge.client_id,
            address: from,
        });
        self.next_update = self.next_update.min(now + SEND_INTERVAL);
        Ok(())
    }

    fn handle_connected<'a>(
        &mut self,
        now: Instant,
        client: ClientIndex,
        datagram: &'a mut [u8],
    ) -> Result<Option<Payload<'a>>, Dropped> {
        let protocol_id = self.protocol_id;
        let header: Header = packet::parse_header(datagram).map_err(|_| DropReason::Malformed)?;
        if !matches!(
            header.packet_type(),
            PacketType::KeepAlive | PacketType::Payload | PacketType::Disconnect
        ) {
            return Err(DropReason::UnexpectedType);
        }
        let Some(connected) = self.slots.get_mut(client.slot()).and_then(Option::as_mut) else {
            return Err(DropReason::UnknownSource);
        };
        if connected.replay.is_replay(header.sequence()) {
            return Err(DropReason::Replayed);
        }
        let body = packet::open(datagram, &header, protocol_id, &connected.recv)
            .map_err(|_| DropReason::Unauthenticated)?;
        connected.replay.advance(header.sequence());
        match body {
            Body::KeepAlive { .. } => {
                connected.last_recv = now;
                connected.confirmed = true;
                Ok(None)
            }
            Body::Payload(bytes) => {
                connected.last_recv = now;
                connected.confirmed = true;
                self.stats.payloads_in += 1;
                Ok(Some(Payload {
                    client,
                    sequence: header.sequence(),
                    bytes,
                }))
            }
            Body::Disconnect => {
                self.free(client, DisconnectReason::ClientDisconnected);
                Ok(None)
            }
            _ => Err(DropReason::UnexpectedType),
        }
    }

    /// Sends `payload` to the client in `client`'s slot.
    ///
    /// Until the client has confirmed its connection, a keep-alive goes
    /// first, so a client whose first keep-alive was lost still learns it is
    /// connected before the payload arrives.
    ///
    /// # Errors
    ///
    /// [`SendError`] when no client is in the slot or the payload is not 1..=1200 bytes.
    pub fn send(
        &mut self,
        now: Instant,
        client: ClientIndex,
        payload: &[u8],
        out: &mut dyn Outbox,
    ) -> Result<(), SendError> {
        if payload.is_empty() || payload.len() > MAX_PAYLOAD_LEN {
            return Err(SendError::BadPayloadLen {
                len: payload.len(),
                max: MAX_PAYLOAD_LEN,
            });
        }
        self.send_with(now, client, out, &mut |_, buf| {
            buf.get_mut(..payload.len()).map_or(0, |body| {
                body.copy_from_slice(payload);
                payload.len()
            })
        })
        .map(|_| ())
    }

    /// Sends a payload that `fill` writes straight into the packet, given
    /// the packet's sequence (a channel layer numbers its packets with it).
    /// `fill` gets up to 1200 bytes and returns how many it wrote; 0 sends
    /// nothing. Returns that length.
    ///
    /// # Errors
    ///
    /// [`SendError::NotConnected`] when no client is in the slot.
    pub fn send_with(
        &mut self,
        now: Instant,
        client: ClientIndex,
        out: &mut dyn Outbox,
        fill: &mut dyn FnMut(u64, &mut [u8]) -> usize,
    ) -> Result<usize, SendError> {
        let max_clients = self.slots.len() as u32;
        let protocol_id = self.protocol_id;
        let Some(connected) = self.slots.get_mut(client.slot()).and_then(Option::as_mut) else {
            return Err(SendError::NotConnected(client.get()));
        };
        if !connected.confirmed {
            keep_alive(connected, client, max_clients, protocol_id, now, out);
            self.stats.sent += 1;
        }
        let sequence = connected.next_sequence();
        let len = crate::proto::push_payload(
            out,
            connected.address,
            sequence,
            protocol_id,
            &connected.send,
            fill,
        );
        if len > 0 {
            connected.last_send = now;
            self.stats.sent += 1;
        }
        Ok(len)
    }

    /// Ends the connection in `client`'s slot: sends the redundant
    /// disconnect packets and frees the slot. Nothing happens for a free slot.
    pub fn disconnect(&mut self, client: ClientIndex, out: &mut dyn Outbox) {
        self.end(client, DisconnectReason::ServerDisconnected, out);
    }

    /// Ends the connection in `client`'s slot like [`Server::disconnect`],
    /// reporting [`DisconnectReason::TooSlow`]: for a client that cannot
    /// take messages it must not miss.
    pub fn disconnect_too_slow(&mut self, client: ClientIndex, out: &mut dyn Outbox) {
        self.end(client, DisconnectReason::TooSlow, out);
    }

    /// Sends the redundant disconnect packets and frees the slot.
    fn end(&mut self, client: ClientIndex, reason: DisconnectReason, out: &mut dyn Outbox) {
        let protocol_id = self.protocol_id;
        let Some(connected) = self.slots.get_mut(client.slot()).and_then(Option::as_mut) else {
            return;
        };
        for _ in 0..DISCONNECT_PACKETS {
            seal_to(connected, protocol_id, &Body::Disconnect, out);
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
        for index in 0..self.slots.len() {
            self.end(ClientIndex::new(index as u32), reason, out);
        }
    }

    /// Sends due keep-alives, times out silent clients and sweeps expired handshakes.
    pub fn update(&mut self, now: Instant, out: &mut dyn Outbox) {
        if now >= self.next_sweep {
            self.pending.sweep(now);
            self.next_sweep = now + SWEEP_INTERVAL;
        }
        let mut next = self.next_sweep;
        let max_clients = self.slots.len() as u32;
        let protocol_id = self.protocol_id;
        let mut timed_out = Vec::new();
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let Some(connected) = slot else { continue };
            let client = ClientIndex::new(index as u32);
            if connected.is_timed_out(now) {
                timed_out.push(client);
                continue;
            }
            if now.saturating_duration_since(connected.last_send) >= SEND_INTERVAL {
                keep_alive(connected, client, max_clients, protocol_id, now, out);
                self.stats.sent += 1;
            }
            next = next.min(connected.last_send + SEND_INTERVAL);
            if let Some(timeout) = connected.timeout {
                next = next.min(connected.last_recv + timeout);
            }
        }
        for client in timed_out {
            trace!(client = client.get(), "client timed out");
            self.end(client, DisconnectReason::TimedOut, out);
        }
        self.next_update = next;
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
        let Some(connected) = self.slots.get_mut(client.slot()).and_then(Option::take) else {
            return;
        };
        self.by_address.remove(&connected.address);
        self.by_client_id.remove(&connected.client_id);
        self.stats.disconnects += 1;
        self.events.push_back(Event::Disconnected {
            client,
            client_id: connected.client_id,
            address: connected.address,
            reason,
        });
    }
}

fn keep_alive(
    connected: &mut Connected,
    client: ClientIndex,
    max_clients: u32,
    protocol_id: u64,
    now: Instant,
    out: &mut dyn Outbox,
) {
    let body = Body::KeepAlive {
        client_index: client.get(),
        max_clients,
    };
    seal_to(connected, protocol_id, &body, out);
    connected.last_send = now;
}

fn seal_to(connected: &mut Connected, protocol_id: u64, body: &Body<'_>, out: &mut dyn Outbox) {
    let sequence = connected.next_sequence();
    let cipher = &connected.send;
    out.push(connected.address, &mut |buf| {
        written(packet::seal(body, sequence, protocol_id, cipher, buf))
    });
}

/// The tag of a sealed private token: its last 16 bytes.
fn tag_of(private: &[u8; PRIVATE_LEN]) -> token_log::TokenTag {
    let mut tag = [0u8; MAC_LEN];
    if let Some(last) = private.last_chunk::<MAC_LEN>() {
        tag = *last;
    }
    tag
}
