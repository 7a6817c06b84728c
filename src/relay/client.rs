//! The game side of the relay: match, then talk to the other players.

use super::direct::peers::DirectPeers;
use super::direct::{DirectConfig, PeerPath};
use super::protocol::{
    ADDRESS_CHECK_LEN, ADDRESS_CHECK_MARKER, CHECK_TICKET_LEN, MAX_LAN_CANDIDATES,
};
use super::protocol::{
    CONTROL, ClientMessage, LeaveReason, LobbyCode, LobbyEntry, MatchInfo, REJOIN_SECRET_LEN,
    RelayError, RelayMessage, Target, UNRELIABLE,
};
use super::server::channel_table;
use crate::engine::{Client as EngineClient, ClientError, MemoryNetwork};
use crate::proto::channel::ConnectionStats;
use crate::proto::client::ClientState;
use crate::wire::connect_token::ConnectToken;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// Most events held between two [`RelayClient::poll_event`] drains; past it,
/// the oldest are dropped and counted.
const MAX_EVENTS: usize = 65_536;

/// Something the relay told this player.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayEvent {
    /// The match request was taken.
    Accepted,
    /// Players in the waiting room or lobby now. Not reported once
    /// matched: a count sent by another port before the match was made may
    /// arrive after it (ports do not order their messages to one player
    /// with each other's), and would be stale.
    Waiting(u8),
    /// The lobby this player created is open under this code.
    LobbyCreated(LobbyCode),
    /// Public lobbies, answering [`RelayClient::list_lobbies`].
    Lobbies(Vec<LobbyEntry>),
    /// The match starts (or this player rejoined it).
    Matched {
        /// The same for every player of the match.
        random_seed: u64,
        /// This player's index.
        player_idx: u8,
        /// Players in the match.
        player_count: u8,
        /// Pass to [`RelayClient::rejoin`] on a new connection to take this seat again.
        rejoin_secret: [u8; REJOIN_SECRET_LEN],
    },
    /// Another player's bytes.
    Received {
        /// Its index.
        from: u8,
        /// What it sent.
        data: Vec<u8>,
        /// Whether it came on the reliable-ordered channel.
        reliable: bool,
    },
    /// A player left.
    PlayerLeft {
        /// Its index.
        idx: u8,
        /// Why.
        reason: LeaveReason,
    },
    /// A dropped player took its seat again.
    PlayerRejoined(u8),
    /// After [`RelayClient::allow_direct`]: the relay compared where it
    /// sees this player from two of its ports. When both players of a pair
    /// have NATs that map per destination ("symmetric"), no punch can work
    /// and the relay does not introduce them. Ask for a room after this
    /// event, so that the relay knows when it matches.
    AddressChecked {
        /// This player's NAT gave it another public address for the
        /// relay's second port.
        per_destination: bool,
    },
    /// The relay refused a request.
    Error(RelayError),
}

/// A game's connection to a relay, driven by [`RelayClient::update`] like the
/// engine's client: no thread of its own.
///
/// # Examples
///
/// ```no_run
/// use berth::relay::{MatchInfo, RelayClient, RelayEvent, Target};
/// use std::time::Instant;
///
/// # let token = [0u8; 2048];
/// let mut client = RelayClient::bind("0.0.0.0:0".parse().unwrap()).unwrap();
/// client.connect_bytes(Instant::now(), &token);
/// let mut asked = false;
/// loop {
///     client.update(Instant::now());
///     if client.is_connected() && !asked {
///         client.request_match(&MatchInfo { player_count: 2, match_data: b"duel".to_vec() }).unwrap();
///         asked = true;
///     }
///     while let Some(event) = client.poll_event() {
///         match event {
///             RelayEvent::Matched { player_idx, .. } => {
///                 client.send_to(Target::AllOthers, &[player_idx], true).unwrap();
///             }
///             RelayEvent::Received { from, data, .. } => println!("{from}: {data:?}"),
///             _ => {}
///         }
///     }
/// #   break;
/// }
/// ```
#[derive(Debug)]
pub struct RelayClient {
    inner: EngineClient,
    events: VecDeque<RelayEvent>,
    now: Option<Instant>,
    dropped: u64,
    /// Matched since the last request to join a room: stale waiting counts
    /// are dropped.
    matched: bool,
    /// This player's index and the match's player count, once matched.
    seat: Option<(u8, u8)>,
    /// Paths to introduced peers, when direct play is allowed.
    direct: DirectPeers,
}

impl RelayClient {
    /// Opens a UDP socket at `bind` (say `0.0.0.0:0`).
    ///
    /// # Errors
    ///
    /// [`ClientError::Io`] when the socket cannot be bound.
    pub fn bind(bind: SocketAddr) -> Result<Self, ClientError> {
        Ok(Self::over(EngineClient::bind(bind)?))
    }

    /// Opens a socket on an in-memory network, for tests and host mode.
    ///
    /// # Errors
    ///
    /// [`ClientError::Io`] when `bind` is taken on that network.
    pub fn bind_in_memory(network: &MemoryNetwork, bind: SocketAddr) -> Result<Self, ClientError> {
        Ok(Self::over(EngineClient::bind_in_memory(network, bind)?))
    }

    /// A relay client over `transport`, say a WebTransport session (the
    /// `berth-webtransport` crate's client), polled from
    /// [`RelayClient::update`].
    pub fn with_transport(transport: Box<dyn crate::engine::transport::Transport>) -> Self {
        Self::over(EngineClient::with_transport(transport))
    }

    fn over(inner: EngineClient) -> Self {
        let inner = match channel_table() {
            Ok(table) => inner.channels(table),
            Err(_) => inner,
        };
        Self {
            inner,
            events: VecDeque::new(),
            now: None,
            dropped: 0,
            matched: false,
            seat: None,
            direct: DirectPeers::default(),
        }
    }

    /// Starts connecting with a relay token.
    pub fn connect(&mut self, now: Instant, token: ConnectToken) {
        self.inner.connect(now, token);
    }

    /// Starts connecting with a token's 2048 bytes.
    pub fn connect_bytes(&mut self, now: Instant, token: &[u8]) {
        self.inner.connect_bytes(now, token);
    }

    /// Sleeps until a datagram arrives, a timer is due or `until`; then
    /// call [`RelayClient::update`]. See [`EngineClient::wait`].
    ///
    /// # Errors
    ///
    /// As [`EngineClient::wait`].
    pub fn wait(&mut self, until: Instant) -> Result<(), ClientError> {
        let until = self.direct.poll_timeout().map_or(until, |t| t.min(until));
        self.inner.wait(until)
    }

    /// Receives, turns relay messages into events, runs timers, sends:
    /// [`RelayClient::receive`] then [`RelayClient::flush`].
    pub fn update(&mut self, now: Instant) {
        self.receive(now);
        self.flush(now);
    }

    /// Receives, turns relay messages into events and runs timers, sending
    /// nothing until [`RelayClient::flush`] (see [`EngineClient::receive`]).
    pub fn receive(&mut self, now: Instant) {
        self.now = Some(now);
        let direct = &mut self.direct;
        self.inner.receive_with(now, |from, datagram, out| {
            direct.handle_direct(now, from, datagram, out);
        });
        while let Some(message) = self.inner.recv() {
            let reliable = message.channel == CONTROL;
            if !reliable && message.channel != UNRELIABLE {
                continue;
            }
            let Ok(parsed) = RelayMessage::parse(&message.bytes) else {
                self.dropped += 1;
                continue;
            };
            let event = match parsed {
                RelayMessage::Accepted => RelayEvent::Accepted,
                RelayMessage::WaitingCount(_) if self.matched => continue,
                RelayMessage::WaitingCount(n) => RelayEvent::Waiting(n),
                RelayMessage::LobbyCreated(code) => RelayEvent::LobbyCreated(code),
                RelayMessage::LobbyList(entries) => RelayEvent::Lobbies(entries),
                RelayMessage::Success {
                    random_seed,
                    player_idx,
                    player_count,
                    rejoin_secret,
                } => {
                    self.matched = true;
                    self.seat = Some((player_idx, player_count));
                    RelayEvent::Matched {
                        random_seed,
                        player_idx,
                        player_count,
                        rejoin_secret,
                    }
                }
                RelayMessage::RecvProxy { from, data } => RelayEvent::Received {
                    from,
                    data: data.to_vec(),
                    reliable,
                },
                RelayMessage::PlayerLeft { idx, reason } => {
                    self.direct.remove(idx);
                    RelayEvent::PlayerLeft { idx, reason }
                }
                RelayMessage::PlayerRejoined(idx) => RelayEvent::PlayerRejoined(idx),
                RelayMessage::Error(error) => RelayEvent::Error(error),
                RelayMessage::Introduce(introduction) => {
                    if let Some((me, count)) = self.seat.filter(|_| self.matched) {
                        self.direct.introduce(now, me, count, &introduction);
                    }
                    continue;
                }
                RelayMessage::RecvPair { from, data } => {
                    self.direct.handle_relayed(now, from, data);
                    continue;
                }
                RelayMessage::CheckAddress(ticket) => {
                    self.check_address(&ticket);
                    continue;
                }
                RelayMessage::AddressChecked { per_destination } => {
                    RelayEvent::AddressChecked { per_destination }
                }
            };
            self.push_event(event);
        }
        let mut direct = Vec::new();
        self.direct.drain(|from, message| {
            direct.push(RelayEvent::Received {
                from,
                reliable: message.channel == CONTROL,
                data: message.bytes,
            });
        });
        for event in direct {
            self.push_event(event);
        }
    }

    fn push_event(&mut self, event: RelayEvent) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
            self.dropped += 1;
        }
        self.events.push_back(event);
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<RelayEvent> {
        self.events.pop_front()
    }

    fn control(&mut self, message: &ClientMessage<'_>) -> Result<(), ClientError> {
        if matches!(
            message,
            ClientMessage::RequestMatch(_)
                | ClientMessage::CreateLobby { .. }
                | ClientMessage::JoinLobby(_)
                | ClientMessage::LeaveRoom
                | ClientMessage::Rejoin(_)
        ) {
            self.matched = false;
            self.seat = None;
            self.direct.clear();
        }
        let now = self.now.unwrap_or_else(Instant::now);
        self.inner.send(now, CONTROL, &message.to_vec())
    }

    /// Asks for a match: players with byte-identical `info` share a room.
    ///
    /// # Errors
    ///
    /// [`ClientError`] when not connected or the send budget is full.
    pub fn request_match(&mut self, info: &MatchInfo) -> Result<(), ClientError> {
        self.control(&ClientMessage::RequestMatch(info.clone()))
    }

    /// Opens a lobby and hosts it; its code arrives as [`RelayEvent::LobbyCreated`].
    ///
    /// # Errors
    ///
    /// As [`RelayClient::request_match`].
    pub fn create_lobby(&mut self, info: &MatchInfo, public: bool) -> Result<(), ClientError> {
        self.control(&ClientMessage::CreateLobby {
            info: info.clone(),
            public,
        })
    }

    /// Joins the lobby with `code`.
    ///
    /// # Errors
    ///
    /// As [`RelayClient::request_match`].
    pub fn join_lobby(&mut self, code: LobbyCode) -> Result<(), ClientError> {
        self.control(&ClientMessage::JoinLobby(code))
    }

    /// Asks for the public lobbies with `match_data`; they arrive as [`RelayEvent::Lobbies`].
    ///
    /// # Errors
    ///
    /// As [`RelayClient::request_match`].
    pub fn list_lobbies(&mut self, match_data: &[u8]) -> Result<(), ClientError> {
        self.control(&ClientMessage::ListLobbies { match_data })
    }

    /// Leaves the waiting room, lobby or match.
    ///
    /// # Errors
    ///
    /// As [`RelayClient::request_match`].
    pub fn leave(&mut self) -> Result<(), ClientError> {
        self.control(&ClientMessage::LeaveRoom)
    }

    /// Starts the lobby this player hosts, even if not full.
    ///
    /// # Errors
    ///
    /// As [`RelayClient::request_match`].
    pub fn start_match(&mut self) -> Result<(), ClientError> {
        self.control(&ClientMessage::StartMatch)
    }

    /// Takes back a seat after a dropped connection, on this new one.
    ///
    /// # Errors
    ///
    /// As [`RelayClient::request_match`].
    pub fn rejoin(&mut self, secret: [u8; REJOIN_SECRET_LEN]) -> Result<(), ClientError> {
        self.control(&ClientMessage::Rejoin(secret))
    }

    /// Sends `data` to `target`: reliable-ordered (per sender) or
    /// unreliable. Goes out on the next update or flush: through the
    /// relay, or on a peer's direct path when there is one (see
    /// [`RelayClient::allow_direct`]).
    ///
    /// # Errors
    ///
    /// As [`RelayClient::request_match`]; unreliable data over one packet is
    /// too large.
    pub fn send_to(
        &mut self,
        target: Target,
        data: &[u8],
        reliable: bool,
    ) -> Result<(), ClientError> {
        let now = self.now.unwrap_or_else(Instant::now);
        let channel = if reliable { CONTROL } else { UNRELIABLE };
        match target {
            Target::Player(peer) => {
                if let Some(sent) = self.direct.send(peer, channel, data) {
                    return Ok(sent?);
                }
            }
            Target::AllOthers if !self.direct.is_empty() => {
                // Some peers have paths of their own: one send per peer.
                let (me, count) = self.seat.unwrap_or((0, 0));
                for peer in (0..count).filter(|p| *p != me) {
                    self.send_to(Target::Player(peer), data, reliable)?;
                }
                return Ok(());
            }
            Target::AllOthers => {}
        }
        let message = ClientMessage::SendProxy { target, data };
        self.inner.send(now, channel, &message.to_vec())
    }

    /// Consents to direct play for this connection, with `config`'s
    /// timings: the relay may show this player's address (and its LAN
    /// address) to the other consenting players of its next rooms, and
    /// introduce them. Call once connected, and ask for a room after
    /// [`RelayEvent::AddressChecked`] (the relay then knows whether this
    /// player's NAT can be punched through).
    ///
    /// The relay introduces two players only if both consented and the
    /// relay allows it ([`crate::relay::RelayConfig::direct_play`]). Then
    /// their messages go straight between them whenever the two can punch
    /// through their NATs, and through the relay whenever they cannot; the
    /// game sends the same way either way, and
    /// [`RelayClient::peer_path`] tells which path a peer is on.
    ///
    /// # Errors
    ///
    /// As [`RelayClient::request_match`].
    pub fn allow_direct(&mut self, config: DirectConfig) -> Result<(), ClientError> {
        let lan = self.lan_addresses();
        self.direct.allow(config);
        self.control(&ClientMessage::AllowDirect { lan })
    }

    /// Sends the relay's address-check `ticket` to a second relay port
    /// (the token's first address that is not the connected one), three
    /// times against loss. With a one-port relay there is none: no check.
    fn check_address(&mut self, ticket: &[u8; CHECK_TICKET_LEN]) {
        let current = self.inner.server_addr();
        let Some(&second) = self
            .inner
            .server_addresses()
            .iter()
            .find(|a| Some(**a) != current)
        else {
            return;
        };
        for _ in 0..3 {
            self.inner.outbox().push(second, &mut |buf| {
                let Some((marker, rest)) = buf.split_first_mut() else {
                    return 0;
                };
                *marker = ADDRESS_CHECK_MARKER;
                match rest.get_mut(..CHECK_TICKET_LEN) {
                    Some(out) => {
                        out.copy_from_slice(ticket);
                        ADDRESS_CHECK_LEN
                    }
                    None => 0,
                }
            });
        }
    }

    /// This socket's LAN address: its own, or, when bound to a wildcard,
    /// the one the OS would send to the relay from (no packet is sent).
    fn lan_addresses(&self) -> Vec<SocketAddr> {
        let (Ok(local), Some(server)) = (self.inner.local_addr(), self.inner.server_addr()) else {
            return Vec::new();
        };
        let ip = if local.ip().is_unspecified() {
            let wildcard = SocketAddr::new(local.ip(), 0);
            let probe = std::net::UdpSocket::bind(wildcard)
                .and_then(|s| s.connect(server).and_then(|()| s.local_addr()));
            match probe {
                Ok(addr) => addr.ip(),
                Err(_) => return Vec::new(),
            }
        } else {
            local.ip()
        };
        let mut lan = vec![SocketAddr::new(ip, local.port())];
        lan.truncate(MAX_LAN_CANDIDATES);
        lan
    }

    /// How this player reaches `peer`: `None` when the relay did not
    /// introduce them (every message goes through the relay).
    pub fn peer_path(&self, peer: u8) -> Option<PeerPath> {
        self.direct.report(peer)
    }

    /// Sends what is queued now, without waiting for the next update.
    pub fn flush(&mut self, now: Instant) {
        self.direct.poll_transmit(now, &mut self.inner);
        self.inner.flush(now);
    }

    /// Ends the connection.
    pub fn disconnect(&mut self, now: Instant) {
        self.inner.disconnect(now);
    }

    /// Whether the client is connected to the relay.
    pub fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    /// The local address of the client's socket.
    ///
    /// # Errors
    ///
    /// As the OS's `getsockname`.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Where the connection is.
    pub const fn state(&self) -> ClientState {
        self.inner.state()
    }

    /// Channel counters of the connection (RTT, loss, resends).
    pub fn channel_stats(&self) -> Option<ConnectionStats> {
        self.inner.channel_stats()
    }

    /// Events dropped: unreadable relay messages, or too many unpolled.
    pub const fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Datagrams from other players that no direct path took (unknown
    /// sender, failed authentication, replayed), and introductions refused.
    pub const fn direct_dropped(&self) -> u64 {
        self.direct.dropped()
    }
}
