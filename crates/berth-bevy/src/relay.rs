//! The relay client as a Bevy resource: the match's state, and what other
//! players do as messages.

use crate::keeper::Kept;
use crate::{BerthError, BerthSet, report};
use berth::ConnectToken;
use berth::engine::ClientError;
use berth::proto::client::ClientState;
use berth::relay::{
    DirectConfig, LeaveReason, MatchInfo, PeerPath, RelayClient, RelayEvent, Target,
};
use bevy_app::{App, AppExit, Last, Plugin, PostUpdate, PreUpdate};
use bevy_ecs::prelude::*;
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes of a connect token.
const TOKEN_LEN: u64 = 2048;
/// How long a token request may take.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(5);

/// A token request under way on its own thread; the result lands here.
type TokenFetch = Arc<Mutex<Option<Result<ConnectToken, String>>>>;

/// Where this player is with its match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchState {
    /// Not in a room and not asking for one.
    Idle,
    /// Asked for a match; no count from the relay yet.
    Searching,
    /// In a waiting room or lobby of this many players.
    Waiting(u8),
    /// In a match.
    Matched {
        /// This player's index in the room.
        index: u8,
        /// Players in the match.
        count: u8,
        /// The match's random seed, the same for every player.
        seed: u64,
        /// Rejoins this seat after a dropped connection.
        rejoin_secret: [u8; 16],
    },
    /// Asked to rejoin a seat; waiting for the relay.
    Rejoining,
}

/// The relay client, in the world ([`BerthRelayPlugin`]). Like
/// [`crate::BerthClient`], its connection is kept alive while the app runs
/// no frames.
#[derive(Resource, Debug)]
pub struct BerthRelay {
    client: Kept<RelayClient>,
    state: MatchState,
    /// A token being fetched by [`BerthRelay::connect_via`].
    fetch: Option<TokenFetch>,
    /// A failed connection was reported as [`BerthError::Connect`].
    failure_reported: bool,
}

impl BerthRelay {
    /// Starts connecting to the relay with `token` (from its HTTP service).
    pub fn connect(&mut self, token: ConnectToken) {
        self.client.lock().value.connect(Instant::now(), token);
        self.failure_reported = false;
    }

    /// Asks the relay's token service at `service` (`POST /token`, plain
    /// HTTP) for a token on a thread of its own, and connects with it when
    /// it comes; the frame loop never waits on it. A failure arrives as
    /// [`BerthError::Token`].
    pub fn connect_via(&mut self, service: SocketAddr) {
        let fetch: TokenFetch = Arc::default();
        let result = fetch.clone();
        let spawned = std::thread::Builder::new()
            .name("berth-bevy-token".into())
            .spawn(move || *result.lock() = Some(fetch_token(service)));
        if let Err(e) = spawned {
            *fetch.lock() = Some(Err(format!("no thread for the token request: {e}")));
        }
        self.fetch = Some(fetch);
    }

    /// Whether the connection to the relay is up.
    pub fn is_connected(&self) -> bool {
        self.client.lock().value.is_connected()
    }

    /// Where the connection to the relay is, with netcode's codes.
    pub fn connection_state(&self) -> ClientState {
        self.client.lock().value.state()
    }

    /// Consents to direct play (see [`RelayClient::allow_direct`]): the
    /// game sends the same way, and berth picks the path per peer.
    ///
    /// # Errors
    ///
    /// As [`RelayClient::allow_direct`].
    pub fn allow_direct(&mut self, config: DirectConfig) -> Result<(), ClientError> {
        self.client.lock().value.allow_direct(config)
    }

    /// How this player reaches player `peer` (see [`RelayClient::peer_path`]).
    pub fn peer_path(&self, peer: u8) -> Option<PeerPath> {
        self.client.lock().value.peer_path(peer)
    }

    /// The match's state now.
    pub const fn state(&self) -> MatchState {
        self.state
    }

    /// Asks for a match with the players who ask with byte-identical `info`.
    ///
    /// # Errors
    ///
    /// As [`RelayClient::request_match`].
    pub fn request_match(&mut self, info: &MatchInfo) -> Result<(), ClientError> {
        self.client.lock().value.request_match(info)?;
        self.state = MatchState::Searching;
        Ok(())
    }

    /// Takes the seat of a dropped connection again, on this new one.
    ///
    /// # Errors
    ///
    /// As [`RelayClient::rejoin`].
    pub fn rejoin(&mut self, secret: [u8; 16]) -> Result<(), ClientError> {
        self.client.lock().value.rejoin(secret)?;
        self.state = MatchState::Rejoining;
        Ok(())
    }

    /// Leaves the room.
    ///
    /// # Errors
    ///
    /// As [`RelayClient::leave`].
    pub fn leave(&mut self) -> Result<(), ClientError> {
        self.client.lock().value.leave()?;
        self.state = MatchState::Idle;
        Ok(())
    }

    /// Sends `data` to `target` in the room; it goes out in
    /// [`BerthSet::Send`] with the frame's other messages.
    ///
    /// # Errors
    ///
    /// As [`RelayClient::send_to`].
    pub fn send_to(
        &mut self,
        target: Target,
        data: &[u8],
        reliable: bool,
    ) -> Result<(), ClientError> {
        self.client.lock().value.send_to(target, data, reliable)
    }

    /// Sleeps until a datagram arrives, a timer is due or `until` (a
    /// headless app's frame loop).
    ///
    /// # Errors
    ///
    /// As [`RelayClient::wait`].
    pub fn wait(&mut self, until: Instant) -> Result<(), ClientError> {
        self.client.lock().value.wait(until)
    }
}

/// This player was matched: the state is now [`MatchState::Matched`].
#[derive(Message, Debug, Clone, Copy)]
pub struct RelayMatched {
    /// This player's index in the room.
    pub index: u8,
    /// Players in the match.
    pub count: u8,
    /// The match's random seed.
    pub seed: u64,
}

/// Another player left the room (its seat is held for a rejoin when it
/// dropped out of a match).
#[derive(Message, Debug, Clone, Copy)]
pub struct RelayPlayerLeft {
    /// Its index.
    pub index: u8,
    /// Why.
    pub reason: LeaveReason,
}

/// A player took its seat again.
#[derive(Message, Debug, Clone, Copy)]
pub struct RelayPlayerRejoined {
    /// Its index.
    pub index: u8,
}

/// A message from another player in the room.
#[derive(Message, Debug, Clone)]
pub struct RelayReceived {
    /// The sender's index.
    pub from: u8,
    /// What it sent.
    pub data: Vec<u8>,
    /// Whether it came reliably.
    pub reliable: bool,
}

/// Runs a relay player with the app: the [`BerthRelay`] resource, receiving
/// in [`BerthSet::Receive`], sending in [`BerthSet::Send`].
///
/// # Examples
///
/// A player asks for a match and learns its seat. Here the relay runs in
/// the same process, on loopback, and the match is for one player so the
/// example finishes alone; a game gets its token from the relay's token
/// service ([`BerthRelay::connect_via`]) and runs `app.run()`.
///
/// ```
/// use berth::engine::ServerConfig;
/// use berth::relay::{MatchInfo, RelayConfig, RelayServer, protocol_id};
/// use berth_bevy::{BerthRelay, BerthRelayPlugin, MatchState, RelayMatched};
/// use bevy_app::{App, Update};
/// use bevy_ecs::prelude::*;
/// use std::time::{Duration, Instant};
///
/// fn ask(mut relay: ResMut<BerthRelay>) {
///     if relay.is_connected() && relay.state() == MatchState::Idle {
///         let info = MatchInfo { player_count: 1, match_data: b"my-game/1".to_vec() };
///         let _ = relay.request_match(&info);
///     }
/// }
///
/// fn start(mut matched: MessageReader<RelayMatched>) {
///     for m in matched.read() {
///         println!("player {} of {}, seed {}", m.index, m.count, m.seed);
///     }
/// }
///
/// let key = berth::Key::from_bytes([7; 32]);
/// let config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), protocol_id(), key);
/// let relay = RelayServer::bind(config, RelayConfig::default()).unwrap();
///
/// let mut app = App::new();
/// app.add_plugins(BerthRelayPlugin::new("127.0.0.1:0".parse().unwrap()))
///     .add_systems(Update, (ask, start));
/// let token = relay.issue_token(1).unwrap();
/// app.world_mut().resource_mut::<BerthRelay>().connect(token);
///
/// let deadline = Instant::now() + Duration::from_secs(10);
/// while !matches!(app.world().resource::<BerthRelay>().state(), MatchState::Matched { .. }) {
///     assert!(Instant::now() < deadline, "not matched");
///     app.update();
///     let frame_end = Instant::now() + Duration::from_millis(1);
///     app.world_mut().resource_mut::<BerthRelay>().wait(frame_end).unwrap();
/// }
/// ```
#[derive(Debug)]
pub struct BerthRelayPlugin {
    bind: SocketAddr,
}

impl Default for BerthRelayPlugin {
    /// A relay player on `0.0.0.0:0` (any IPv4 address, a free port).
    fn default() -> Self {
        Self::new(SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}

impl BerthRelayPlugin {
    /// A relay player on a socket bound at `bind` (say `0.0.0.0:0`).
    pub const fn new(bind: SocketAddr) -> Self {
        Self { bind }
    }
}

impl Plugin for BerthRelayPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<RelayMatched>()
            .add_message::<RelayPlayerLeft>()
            .add_message::<RelayPlayerRejoined>()
            .add_message::<RelayReceived>()
            .add_message::<BerthError>()
            .configure_sets(PreUpdate, BerthSet::Receive)
            .configure_sets(PostUpdate, BerthSet::Send);
        match RelayClient::bind(self.bind) {
            Ok(client) => {
                app.insert_resource(BerthRelay {
                    client: Kept::new(client),
                    state: MatchState::Idle,
                    fetch: None,
                    failure_reported: false,
                })
                .add_systems(PreUpdate, receive_relay.in_set(BerthSet::Receive))
                .add_systems(PostUpdate, send_relay.in_set(BerthSet::Send))
                .add_systems(Last, disconnect_relay_on_exit);
            }
            Err(e) => report(app, BerthError::Start(format!("relay client: {e}"))),
        }
    }
}

/// Receives, keeps the match state, and hands over what happened.
fn receive_relay(
    mut relay: ResMut<BerthRelay>,
    mut matched: MessageWriter<RelayMatched>,
    mut left: MessageWriter<RelayPlayerLeft>,
    mut rejoined: MessageWriter<RelayPlayerRejoined>,
    mut received: MessageWriter<RelayReceived>,
    mut errors: MessageWriter<BerthError>,
) {
    let relay = &mut *relay;
    if let Some(fetched) = relay.fetch.as_ref().and_then(|f| f.lock().take()) {
        relay.fetch = None;
        match fetched {
            Ok(token) => relay.connect(token),
            Err(why) => {
                tracing::warn!(%why, "no connect token");
                errors.write(BerthError::Token(why));
            }
        }
    }
    let mut slot = relay.client.lock();
    let client = &mut slot.value;
    client.receive(Instant::now());
    let state = client.state();
    if state.is_error() && !relay.failure_reported {
        relay.failure_reported = true;
        tracing::warn!(?state, "relay connection failed");
        errors.write(BerthError::Connect(state));
    }
    while let Some(event) = client.poll_event() {
        match event {
            RelayEvent::Waiting(n) => relay.state = MatchState::Waiting(n),
            RelayEvent::Matched {
                random_seed,
                player_idx,
                player_count,
                rejoin_secret,
            } => {
                relay.state = MatchState::Matched {
                    index: player_idx,
                    count: player_count,
                    seed: random_seed,
                    rejoin_secret,
                };
                matched.write(RelayMatched {
                    index: player_idx,
                    count: player_count,
                    seed: random_seed,
                });
            }
            RelayEvent::PlayerLeft { idx, reason } => {
                left.write(RelayPlayerLeft { index: idx, reason });
            }
            RelayEvent::PlayerRejoined(idx) => {
                rejoined.write(RelayPlayerRejoined { index: idx });
            }
            RelayEvent::Received {
                from,
                data,
                reliable,
            } => {
                received.write(RelayReceived {
                    from,
                    data,
                    reliable,
                });
            }
            RelayEvent::Error(error) => {
                if matches!(relay.state, MatchState::Searching | MatchState::Rejoining) {
                    relay.state = MatchState::Idle;
                }
                errors.write(BerthError::Relay(error));
            }
            _ => {}
        }
    }
}

/// Sends what the frame queued.
fn send_relay(relay: Res<BerthRelay>) {
    relay.client.lock().value.flush(Instant::now());
}

/// On `AppExit`, leaves the relay with the disconnect packets.
fn disconnect_relay_on_exit(mut exits: MessageReader<AppExit>, relay: Res<BerthRelay>) {
    let mut slot = relay.client.lock();
    if exits.read().next().is_some() && slot.value.is_connected() {
        slot.value.disconnect(Instant::now());
    }
}

/// One `POST /token` to the relay's token service.
fn fetch_token(service: SocketAddr) -> Result<ConnectToken, String> {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(TOKEN_TIMEOUT))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let mut response = agent
        .post(format!("http://{service}/token"))
        .send_empty()
        .map_err(|e| format!("token service {service}: {e}"))?;
    let bytes = response
        .body_mut()
        .with_config()
        .limit(TOKEN_LEN)
        .read_to_vec()
        .map_err(|e| format!("token service {service}: {e}"))?;
    ConnectToken::parse(&bytes).map_err(|e| format!("token service {service}: {e}"))
}
