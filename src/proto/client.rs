//! The sans-IO netcode.io client (netcode-spec §8).
//!
//! Give it a connect token; it walks the token's server addresses in order,
//! sending a request, then the response to the server's challenge, until a
//! server admits it with a keep-alive. Then it sends keep-alives at 10 Hz
//! when the application is quiet, and times out when the server is. See
//! [`crate::proto`] for the call order.
//!
//! Messages ride on a channel table ([`ClientSession::channels`]), as they do on a
//! server shard with the same table, or raw: one message per netcode
//! payload, which is what standard netcode.io servers speak (the default).
//!
//! One change from the reference, invisible on the wire: after each state
//! change the next packet goes out at the next `update` instead of waiting
//! out the 10 Hz interval, so a handshake takes two round trips, not two
//! round trips plus up to 200 ms.

use super::channel::{ChannelId, ChannelTable, Connection, ConnectionStats, Inbox, Message};
use super::{
    DISCONNECT_PACKETS, Outbox, ReplayWindow, SEND_INTERVAL, SendError, token_timeout, written,
};
use crate::crypto::PacketCipher;
use crate::wire::challenge_token;
use crate::wire::connect_token::ConnectToken;
use crate::wire::packet::{self, Body, ConnectionRequest, MAX_PAYLOAD_LEN};
use crate::wire::prefix::PacketType;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tracing::{debug, trace};

/// Most raw messages held between two reads; past it, new ones are
/// dropped and counted. (Channel messages are bounded by the table's
/// receive budget.)
const MAX_RAW_HELD: usize = 4096;
/// Most channel packets one [`ClientSession::poll_transmit`] writes.
const MAX_PACKETS_PER_WRITE: usize = 64;

/// Where a client is, with the reference implementation's numeric codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i8)]
pub enum ClientState {
    /// The token expired before a server admitted the client (−6).
    ConnectTokenExpired = -6,
    /// The token could not be read (−5).
    InvalidConnectToken = -5,
    /// A connected server went silent for the token's timeout (−4).
    ConnectionTimedOut = -4,
    /// No server answered the response for the token's timeout (−3).
    ConnectionResponseTimedOut = -3,
    /// No server answered the request for the token's timeout (−2).
    ConnectionRequestTimedOut = -2,
    /// Every server was full (−1).
    ConnectionDenied = -1,
    /// Not connected, not trying (0).
    Disconnected = 0,
    /// Sending connection requests (1).
    SendingConnectionRequest = 1,
    /// Sending challenge responses (2).
    SendingConnectionResponse = 2,
    /// Connected (3).
    Connected = 3,
}

impl ClientState {
    /// The reference implementation's code for this state.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// Whether this is one of the failure states (negative codes).
    pub const fn is_error(self) -> bool {
        self.code() < 0
    }

    /// Whether the handshake is under way.
    pub const fn is_connecting(self) -> bool {
        matches!(
            self,
            Self::SendingConnectionRequest | Self::SendingConnectionResponse
        )
    }
}

/// What the client holds while it tries or uses a server.
#[derive(Debug)]
struct Session {
    token: Box<ConnectToken>,
    server_index: usize,
    server: SocketAddr,
    send: PacketCipher,
    recv: PacketCipher,
    timeout: Option<Duration>,
    token_lifetime: Duration,
    attempt_start: Instant,
    last_recv: Instant,
    /// `None` means "send at the next update".
    last_send: Option<Instant>,
    challenge: Option<(u64, [u8; challenge_token::TOKEN_LEN])>,
}

/// The client state machine. See the [module docs](self).
///
/// # Examples
///
/// ```
/// use berth::proto::client::{ClientSession, ClientState};
/// use berth::{ConnectTokenBuilder, Key};
/// use std::time::Instant;
///
/// let token = ConnectTokenBuilder::new(1, 2)
///     .server("127.0.0.1:40000".parse().unwrap())
///     .build(&Key::from_bytes([0; 32]))
///     .unwrap();
/// let now = Instant::now();
/// let mut client = ClientSession::new();
/// client.connect(now, token);
/// let mut out: Vec<(std::net::SocketAddr, Vec<u8>)> = Vec::new();
/// client.update(now, &mut out);
/// assert_eq!(client.state(), ClientState::SendingConnectionRequest);
/// assert_eq!(out[0].1.len(), 1078); // a connection request
/// ```
#[derive(Debug)]
pub struct ClientSession {
    state: ClientState,
    session: Option<Session>,
    sequence: u64,
    replay: ReplayWindow,
    client_index: u32,
    max_clients: u32,
    /// The table the next connection uses; `None`: raw.
    table: Option<ChannelTable>,
    /// The channels of the current connection.
    channels: Option<Connection>,
    /// Raw messages not yet read.
    raw: Inbox,
    counters: ClientCounters,
}

/// What a client dropped or refused, for its owner's stats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientCounters {
    /// Raw messages dropped because too many were held unread.
    pub raw_dropped: u64,
    /// Authentic payloads the channel layer refused; their reliable data
    /// is not acked, so the server resends it.
    pub channel_refused: u64,
}

impl Default for ClientSession {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientSession {
    /// A disconnected client.
    pub fn new() -> Self {
        Self {
            state: ClientState::Disconnected,
            session: None,
            sequence: 0,
            replay: ReplayWindow::new(),
            client_index: 0,
            max_clients: 0,
            table: None,
            channels: None,
            raw: Inbox::new(),
            counters: ClientCounters {
                raw_dropped: 0,
                channel_refused: 0,
            },
        }
    }

    /// Carries messages on `table`'s channels, as a server shard with the
    /// same table does; `None` is raw. Takes effect from the next
    /// connection.
    #[must_use]
    pub fn channels(mut self, table: Option<ChannelTable>) -> Self {
        self.table = table;
        self
    }

    /// Whether messages are raw payloads (no channel table).
    pub const fn is_raw(&self) -> bool {
        self.table.is_none()
    }

    /// What was dropped or refused so far.
    pub const fn counters(&self) -> ClientCounters {
        self.counters
    }

    /// The channel counters of the current connection (`None` when raw
    /// or not connected).
    pub fn channel_stats(&self) -> Option<ConnectionStats> {
        self.channels.as_ref().map(Connection::stats)
    }

    /// Where the client is.
    pub const fn state(&self) -> ClientState {
        self.state
    }

    /// The slot the server gave this client (valid once connected).
    pub const fn client_index(&self) -> u32 {
        self.client_index
    }

    /// The server's slot count (valid once connected).
    pub const fn max_clients(&self) -> u32 {
        self.max_clients
    }

    /// The addresses of the current token, in its order (empty before
    /// [`ClientSession::connect`]).
    pub fn server_addresses(&self) -> &[SocketAddr] {
        self.session
            .as_ref()
            .map_or(&[], |s| s.token.server_addresses.as_slice())
    }

    /// The server being tried or used.
    pub fn server_address(&self) -> Option<SocketAddr> {
        self.session.as_ref().map(|s| s.server)
    }

    /// When [`ClientSession::update`] next has work: a handshake packet, a
    /// keep-alive, a timeout, or the channels' resends and owed acks.
    pub fn next_update(&self, now: Instant) -> Instant {
        let netcode = self.next_netcode_update(now);
        match &self.channels {
            Some(channels) if channels.wants_to_send(now) => now,
            Some(channels) => channels
                .poll_timeout()
                .map_or(netcode, |due| due.min(netcode)),
            None => netcode,
        }
    }

    fn next_netcode_update(&self, now: Instant) -> Instant {
        match &self.session {
            Some(s) if self.state.is_connecting() || self.state == ClientState::Connected => {
                let mut next = s.last_send.map_or(now, |t| t + SEND_INTERVAL);
                if let Some(timeout) = s.timeout {
                    next = next.min(s.last_recv + timeout);
                }
                next
            }
            _ => now + SEND_INTERVAL,
        }
    }

    /// Starts connecting with `token` read from its 2048 bytes; an
    /// unreadable token leaves the client in
    /// [`ClientState::InvalidConnectToken`].
    pub fn connect_bytes(&mut self, now: Instant, token: &[u8]) {
        match ConnectToken::parse(token) {
            Ok(token) => self.connect(now, token),
            Err(error) => {
                debug!(%error, "connect token unreadable");
                self.session = None;
                self.state = ClientState::InvalidConnectToken;
            }
        }
    }

    /// Starts connecting with `token`, to its first server address.
    pub fn connect(&mut self, now: Instant, token: ConnectToken) {
        let token = Box::new(token);
        let server = token.server_addresses.as_slice().first().copied();
        let Some(server) = server else {
            self.state = ClientState::InvalidConnectToken;
            return;
        };
        self.session = Some(Session {
            server_index: 0,
            server,
            send: PacketCipher::new(&token.client_to_server_key),
            recv: PacketCipher::new(&token.server_to_client_key),
            timeout: token_timeout(token.timeout_secs),
            token_lifetime: Duration::from_secs(
                token
                    .expire_unix_secs
                    .saturating_sub(token.create_unix_secs),
            ),
            attempt_start: now,
            last_recv: now,
            last_send: None,
            challenge: None,
            token,
        });
        self.sequence = 0;
        self.replay = ReplayWindow::new();
        self.channels = None;
        self.raw.clear();
        self.state = ClientState::SendingConnectionRequest;
    }

    /// Handles one datagram from `from`, decrypted in place; true when it
    /// was a payload, whose messages [`ClientSession::recv`] and
    /// [`ClientSession::take_messages`] then hand over.
    ///
    /// Datagrams from any address but the current server's, and anything
    /// malformed, unauthenticated or replayed, are ignored.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &mut [u8]) -> bool {
        let Some(session) = self.session.as_mut() else {
            return false;
        };
        if from != session.server || self.state.code() <= 0 {
            return false;
        }
        let Ok(header) = packet::parse_header(datagram) else {
            return false;
        };
        let replay_protected = matches!(
            header.packet_type(),
            PacketType::KeepAlive | PacketType::Payload | PacketType::Disconnect
        );
        if header.packet_type() == PacketType::Response
            || (replay_protected && self.replay.is_replay(header.sequence()))
        {
            return false;
        }
        let protocol_id = session.token.protocol_id;
        let body = match packet::open(datagram, &header, protocol_id, &session.recv) {
            Ok(body) => body,
            Err(error) => {
                trace!(%from, %error, "dropped packet");
                return false;
            }
        };
        if replay_protected {
            self.replay.advance(header.sequence());
        }
        match (self.state, body) {
            (
                ClientState::SendingConnectionRequest | ClientState::SendingConnectionResponse,
                Body::Denied,
            ) => {
                self.next_server(now, ClientState::ConnectionDenied);
                false
            }
            (
                ClientState::SendingConnectionRequest,
                Body::Challenge {
                    challenge_sequence,
                    token,
                },
            ) => {
                session.challenge = Some((challenge_sequence, *token));
                session.last_recv = now;
                session.last_send = None;
                self.state = ClientState::SendingConnectionResponse;
                false
            }
            (
                ClientState::SendingConnectionResponse,
                Body::KeepAlive {
                    client_index,
                    max_clients,
                },
            ) => {
                session.last_recv = now;
                self.client_index = client_index;
                self.max_clients = max_clients;
                self.state = ClientState::Connected;
                self.channels = self.table.clone().map(Connection::new);
                debug!(server = %session.server, client_index, "connected");
                false
            }
            (ClientState::Connected, Body::KeepAlive { .. }) => {
                session.last_recv = now;
                false
            }
            (ClientState::Connected, Body::Payload(bytes)) => {
                session.last_recv = now;
                match &mut self.channels {
                    Some(channels) => {
                        if let Err(error) = channels.read_packet(now, header.sequence(), bytes) {
                            self.counters.channel_refused += 1;
                            trace!(%error, "payload refused by the channel layer");
                        }
                    }
                    None if self.raw.len() < MAX_RAW_HELD => self.raw.push(ChannelId::RAW, bytes),
                    None => self.counters.raw_dropped += 1,
                }
                true
            }
            (ClientState::Connected, Body::Disconnect) => {
                debug!(server = %session.server, "server disconnected us");
                self.session = None;
                self.channels = None;
                self.state = ClientState::Disconnected;
                false
            }
            _ => false,
        }
    }

    /// Sends what is due (request, response or keep-alive) and checks timeouts.
    pub fn update(&mut self, now: Instant, out: &mut dyn Outbox) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let elapsed = now.saturating_duration_since(session.attempt_start);
        if self.state.is_connecting() && elapsed >= session.token_lifetime {
            self.fail(ClientState::ConnectTokenExpired);
            return;
        }
        let silent = session
            .timeout
            .is_some_and(|t| now.saturating_duration_since(session.last_recv) >= t);
        if silent {
            match self.state {
                ClientState::SendingConnectionRequest => {
                    self.next_server(now, ClientState::ConnectionRequestTimedOut);
                }
                ClientState::SendingConnectionResponse => {
                    self.next_server(now, ClientState::ConnectionResponseTimedOut);
                }
                _ => self.fail(ClientState::ConnectionTimedOut),
            }
            return;
        }
        let due = session
            .last_send
            .is_none_or(|t| now.saturating_duration_since(t) >= SEND_INTERVAL);
        if !due {
            return;
        }
        let protocol_id = session.token.protocol_id;
        match (self.state, &session.challenge) {
            (ClientState::SendingConnectionRequest, _) => {
                let request = ConnectionRequest::from_token(&session.token);
                out.push(session.server, &mut |buf| written(request.emit(buf)));
                // The reference burns a sequence number per request.
                self.sequence = self.sequence.wrapping_add(1);
            }
            (ClientState::SendingConnectionResponse, Some((challenge_sequence, token))) => {
                let body = Body::Response {
                    challenge_sequence: *challenge_sequence,
                    token,
                };
                seal_to(session, &mut self.sequence, protocol_id, &body, out);
            }
            (ClientState::Connected, _) => {
                let body = Body::KeepAlive {
                    client_index: 0,
                    max_clients: 0,
                };
                seal_to(session, &mut self.sequence, protocol_id, &body, out);
            }
            _ => return,
        }
        session.last_send = Some(now);
    }

    /// Sends `bytes` on `channel`: queued for the next
    /// [`ClientSession::poll_transmit`] on channels (many messages share a
    /// packet); sealed into `out` at once when raw.
    ///
    /// # Errors
    ///
    /// [`SendError::NotConnected`]; [`SendError::UnknownChannel`],
    /// [`SendError::BadLength`] or [`SendError::QueueFull`] when the message
    /// does not suit its channel (raw: [`ChannelId::RAW`], 1..=1200 bytes)
    /// or the budget is full.
    pub fn send(
        &mut self,
        now: Instant,
        channel: ChannelId,
        bytes: &[u8],
        out: &mut dyn Outbox,
    ) -> Result<(), SendError> {
        if self.state != ClientState::Connected {
            return Err(SendError::NotConnected);
        }
        if let Some(channels) = &mut self.channels {
            return channels.send(channel, bytes);
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
        self.send_payload(now, out, &mut |_, buf| {
            buf.get_mut(..bytes.len()).map_or(0, |body| {
                body.copy_from_slice(bytes);
                bytes.len()
            })
        });
        Ok(())
    }

    /// Writes what the channels have due (queued messages, resends, owed
    /// acks) into `out`; nothing when raw or not connected.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut dyn Outbox) {
        let Some(mut channels) = self.channels.take() else {
            return;
        };
        for _ in 0..MAX_PACKETS_PER_WRITE {
            if !channels.wants_to_send(now) {
                break;
            }
            let len = self.send_payload(now, out, &mut |sequence, buf| {
                channels.write_packet(now, sequence, buf)
            });
            if len == 0 {
                break;
            }
        }
        self.channels = Some(channels);
    }

    /// The next message from the server, oldest first, as an owned copy.
    pub fn recv(&mut self) -> Option<Message> {
        match &mut self.channels {
            Some(channels) => channels.recv(),
            None => self.raw.pop(),
        }
    }

    /// Moves every message not yet read into `into` (dropping what it
    /// held), keeping `into`'s buffers: no copy, and no allocation once both
    /// have grown to the working size.
    pub fn take_messages(&mut self, into: &mut Inbox) {
        match &mut self.channels {
            Some(channels) => channels.take_messages(into),
            None => {
                into.clear();
                std::mem::swap(&mut self.raw, into);
            }
        }
    }

    /// Seals a payload that `fill` writes in place given its sequence;
    /// returns its length (0: nothing was sent, or not connected).
    fn send_payload(
        &mut self,
        now: Instant,
        out: &mut dyn Outbox,
        fill: &mut dyn FnMut(u64, &mut [u8]) -> usize,
    ) -> usize {
        let Some(session) = self.session.as_mut() else {
            return 0;
        };
        let protocol_id = session.token.protocol_id;
        let sequence = self.sequence;
        self.sequence = self.sequence.wrapping_add(1);
        let len = super::push_payload(
            out,
            session.server,
            sequence,
            protocol_id,
            &session.send,
            fill,
        );
        if len > 0 {
            session.last_send = Some(now);
        }
        len
    }

    /// Ends the connection: sends the redundant disconnect packets when
    /// connected, and stops any handshake.
    pub fn disconnect(&mut self, out: &mut dyn Outbox) {
        if let (ClientState::Connected, Some(session)) = (self.state, self.session.as_mut()) {
            let protocol_id = session.token.protocol_id;
            for _ in 0..DISCONNECT_PACKETS {
                seal_to(
                    session,
                    &mut self.sequence,
                    protocol_id,
                    &Body::Disconnect,
                    out,
                );
            }
        }
        self.session = None;
        self.channels = None;
        self.state = ClientState::Disconnected;
    }

    /// Moves to the token's next server address, or fails with `error` when there is none.
    fn next_server(&mut self, now: Instant, error: ClientState) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let next_index = session.server_index + 1;
        let Some(&next) = session.token.server_addresses.as_slice().get(next_index) else {
            self.fail(error);
            return;
        };
        debug!(failed = %session.server, next = %next, ?error, "trying next server");
        session.server_index = next_index;
        session.server = next;
        session.attempt_start = now;
        session.last_recv = now;
        session.last_send = None;
        session.challenge = None;
        self.replay = ReplayWindow::new();
        self.state = ClientState::SendingConnectionRequest;
    }

    fn fail(&mut self, error: ClientState) {
        debug!(?error, "connection failed");
        self.session = None;
        self.channels = None;
        self.state = error;
    }
}

fn seal_to(
    session: &Session,
    sequence: &mut u64,
    protocol_id: u64,
    body: &Body<'_>,
    out: &mut dyn Outbox,
) {
    let seq = *sequence;
    *sequence = sequence.wrapping_add(1);
    let cipher = &session.send;
    out.push(session.server, &mut |buf| {
        written(packet::seal(body, seq, protocol_id, cipher, buf))
    });
}
