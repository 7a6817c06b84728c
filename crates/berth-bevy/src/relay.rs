//! The relay client as a Bevy resource: the match's state, and what other
//! players do as messages.

use crate::{BerthError, BerthSet, tracing_error};
use berth::ConnectToken;
use berth::engine::ClientError;
use berth::relay::{LeaveReason, MatchInfo, RelayClient, RelayEvent, Target};
use bevy_app::{App, AppExit, Last, Plugin, PostUpdate, PreUpdate};
use bevy_ecs::prelude::*;
use std::net::SocketAddr;
use std::time::Instant;

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

/// The relay client, in the world ([`BerthRelayPlugin`]).
#[derive(Resource, Debug)]
pub struct BerthRelay {
    client: RelayClient,
    state: MatchState,
}

impl BerthRelay {
    /// Starts connecting to the relay with `token` (from its HTTP service).
    pub fn connect(&mut self, token: ConnectToken) {
        self.client.connect(Instant::now(), token);
    }

    /// Whether the connection to the relay is up.
    pub fn is_connected(&self) -> bool {
        self.client.is_connected()
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
        self.client.request_match(info)?;
        self.state = MatchState::Searching;
        Ok(())
    }

    /// Takes the seat of a dropped connection again, on this new one.
    ///
    /// # Errors
    ///
    /// As [`RelayClient::rejoin`].
    pub fn rejoin(&mut self, secret: [u8; 16]) -> Result<(), ClientError> {
        self.client.rejoin(secret)?;
        self.state = MatchState::Rejoining;
        Ok(())
    }

    /// Leaves the room.
    ///
    /// # Errors
    ///
    /// As [`RelayClient::leave`].
    pub fn leave(&mut self) -> Result<(), ClientError> {
        self.client.leave()?;
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
        self.client.send_to(target, data, reliable)
    }

    /// Sleeps until a datagram arrives, a timer is due or `until` (a
    /// headless app's frame loop).
    ///
    /// # Errors
    ///
    /// As [`RelayClient::wait`].
    pub fn wait(&mut self, until: Instant) -> Result<(), ClientError> {
        self.client.wait(until)
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
/// ```no_run
/// use berth::relay::MatchInfo;
/// use berth_bevy::{BerthRelay, BerthRelayPlugin, MatchState, RelayMatched};
/// use bevy_app::{App, Update};
/// use bevy_ecs::prelude::*;
///
/// fn ask(mut relay: ResMut<BerthRelay>) {
///     if relay.is_connected() && relay.state() == MatchState::Idle {
///         let info = MatchInfo { player_count: 2, match_data: b"my-game/1".to_vec() };
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
/// # let token_bytes = [0u8; 2048];
/// let mut app = App::new();
/// app.add_plugins(BerthRelayPlugin::new("0.0.0.0:0".parse().unwrap()))
///     .add_systems(Update, (ask, start));
/// let token = berth::ConnectToken::parse(&token_bytes).unwrap();
/// app.world_mut().resource_mut::<BerthRelay>().connect(token);
/// app.run();
/// ```
#[derive(Debug)]
pub struct BerthRelayPlugin {
    bind: SocketAddr,
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
                    client,
                    state: MatchState::Idle,
                })
                .add_systems(PreUpdate, receive_relay.in_set(BerthSet::Receive))
                .add_systems(PostUpdate, send_relay.in_set(BerthSet::Send))
                .add_systems(Last, disconnect_relay_on_exit);
            }
            Err(e) => {
                let error = format!("berth relay client did not start: {e}");
                tracing_error(&error);
                app.world_mut().write_message(BerthError(error));
            }
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
    relay.client.receive(Instant::now());
    while let Some(event) = relay.client.poll_event() {
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
                errors.write(BerthError(format!("the relay refused: {error:?}")));
            }
            _ => {}
        }
    }
}

/// Sends what the frame queued.
fn send_relay(mut relay: ResMut<BerthRelay>) {
    relay.client.flush(Instant::now());
}

/// On `AppExit`, leaves the relay with the disconnect packets.
fn disconnect_relay_on_exit(mut exits: MessageReader<AppExit>, mut relay: ResMut<BerthRelay>) {
    if exits.read().next().is_some() && relay.client.is_connected() {
        relay.client.disconnect(Instant::now());
    }
}
