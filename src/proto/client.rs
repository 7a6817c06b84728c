//! The sans-IO netcode.io client (netcode-spec §8).
//!
//! Give it a connect token; it walks the token's server addresses in order,
//! sending a request, then the response to the server's challenge, until a
//! server admits it with a keep-alive. Then it sends keep-alives at 10 Hz
//! when the application is quiet, and times out when the server is. See
//! [`crate::proto`] for the call order.
//!
//! One change from the reference, invisible on the wire: after each state
//! change the next packet goes out at the next `update` instead of waiting
//! out the 10 Hz interval, so a handshake takes two round trips, not two
//! round trips plus up to 200 ms.

use super::{DISCONNECT_PACKETS, Outbox, ReplayWindow, SEND_INTERVAL, token_timeout, written};
use crate::crypto::PacketCipher;
use crate::wire::challenge_token;
use crate::wire::connect_token::ConnectToken;
use crate::wire::packet::{self, Body, ConnectionRequest, MAX_PAYLOAD_LEN};
use crate::wire::prefix::PacketType;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tracing::{debug, trace};

/// An application payload from the server, borrowing the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerPayload<'a> {
    /// The packet sequence it arrived with.
    pub sequence: u64,
    /// The payload, 1..=1200 bytes.
    pub bytes: &'a [u8],
}

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

/// Why a payload could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The client is not connected.
    #[error("not connected (state {0:?})")]
    NotConnected(ClientState),
    /// The payload is empty or longer than one packet holds.
    #[error("payload of {len} bytes; it must be 1..={max}")]
    BadPayloadLen {
        /// The payload's length.
        len: usize,
        /// The most one packet holds.
        max: usize,
    },
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
/// use berth::proto::client::{Client, ClientState};
/// use berth::{ConnectTokenBuilder, Key};
/// use std::time::Instant;
///
/// let token = ConnectTokenBuilder::new(1, 2)
///     .server("127.0.0.1:40000".parse().unwrap())
///     .build(&Key::from_bytes([0; 32]))
///     .unwrap();
/// let now = Instant::now();
/// let mut client = Client::new();
/// client.connect(now, token);
/// let mut out: Vec<(std::net::SocketAddr, Vec<u8>)> = Vec::new();
/// client.update(now, &mut out);
/// assert_eq!(client.state(), ClientState::SendingConnectionRequest);
/// assert_eq!(out[0].1.len(), 1078); // a connection request
/// ```
#[derive(Debug)]
pub struct Client {
    state: ClientState,
    session: Option<Session>,
    sequence: u64,
    replay: ReplayWindow,
    client_index: u32,
    max_clients: u32,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A disconnected client.
    pub const fn new() -> Self {
        Self {
            state: ClientState::Disconnected,
            session: None,
            sequence: 0,
            replay: ReplayWindow::new(),
            client_index: 0,
            max_clients: 0,
        }
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

    /// The server being tried or used.
    pub fn server_address(&self) -> Option<SocketAddr> {
        self.session.as_ref().map(|s| s.server)
    }

    /// When [`Client::update`] next has work.
    pub fn next_update(&self, now: Instant) -> Instant {
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
        self.state = ClientState::SendingConnectionRequest;
    }

    /// Handles one datagram from `from`; returns an application payload it carried.
    ///
    /// Datagrams from any address but the current server's, and anything
    /// malformed, unauthenticated or replayed, are ignored.
    pub fn handle_datagram<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &'a mut [u8],
    ) -> Option<ServerPayload<'a>> {
        let session = self.session.as_mut()?;
        if from != session.server || self.state.code() <= 0 {
            return None;
        }
        let header = packet::parse_header(datagram).ok()?;
        let replay_protected = matches!(
            header.packet_type(),
            PacketType::KeepAlive | PacketType::Payload | PacketType::Disconnect
        );
        if header.packet_type() == PacketType::Response
            || (replay_protected && self.replay.is_replay(header.sequence()))
        {
            return None;
        }
        let protocol_id = session.token.protocol_id;
        let body = match packet::open(datagram, &header, protocol_id, &session.recv) {
            Ok(body) => body,
            Err(error) => {
                trace!(%from, %error, "dropped packet");
                return None;
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
                None
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
                None
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
                debug!(server = %session.server, client_index, "connected");
                None
            }
            (ClientState::Connected, Body::KeepAlive { .. }) => {
                session.last_recv = now;
                None
            }
            (ClientState::Connected, Body::Payload(bytes)) => {
                session.last_recv = now;
                Some(ServerPayload {
                    sequence: header.sequence(),
                    bytes,
                })
            }
            (ClientState::Connected, Body::Disconnect) => {
                debug!(server = %session.server, "server disconnected us");
                self.session = None;
                self.state = ClientState::Disconnected;
                None
            }
            _ => None,
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
            .is_some_and(|t| now.saturating_duration_since(session.last_recv) > t);
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

    /// Sends an application payload to the server.
    ///
    /// # Errors
    ///
    /// [`SendError`] when not connected or the payload is not 1..=1200 bytes.
    pub fn send(
        &mut self,
        now: Instant,
        payload: &[u8],
        out: &mut dyn Outbox,
    ) -> Result<(), SendError> {
        if payload.is_empty() || payload.len() > MAX_PAYLOAD_LEN {
            return Err(SendError::BadPayloadLen {
                len: payload.len(),
                max: MAX_PAYLOAD_LEN,
            });
        }
        let session = match (self.state, self.session.as_mut()) {
            (ClientState::Connected, Some(session)) => session,
            _ => return Err(SendError::NotConnected(self.state)),
        };
        let protocol_id = session.token.protocol_id;
        seal_to(
            session,
            &mut self.sequence,
            protocol_id,
            &Body::Payload(payload),
            out,
        );
        session.last_send = Some(now);
        Ok(())
    }

    /// Sends a payload that `fill` writes straight into the packet, given
    /// the packet's sequence (see [`crate::proto::server::Server::send_with`]).
    /// Returns the payload's length; 0 sends nothing.
    ///
    /// # Errors
    ///
    /// [`SendError::NotConnected`] when not connected.
    pub fn send_with(
        &mut self,
        now: Instant,
        out: &mut dyn Outbox,
        fill: &mut dyn FnMut(u64, &mut [u8]) -> usize,
    ) -> Result<usize, SendError> {
        let session = match (self.state, self.session.as_mut()) {
            (ClientState::Connected, Some(session)) => session,
            _ => return Err(SendError::NotConnected(self.state)),
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
        Ok(len)
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
