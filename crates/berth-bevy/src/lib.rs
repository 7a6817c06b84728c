//! berth in Bevy: a server and a client as resources, what arrives as
//! Bevy messages, and public system sets to order a game's systems by.
//!
//! - [`BerthServerPlugin`] binds a [`berth::engine::Server`] (one thread per
//!   port, as ever) and puts it in the world as [`BerthServer`]. Each frame,
//!   in [`BerthSet::Receive`] (`PreUpdate`), what its peers did becomes
//!   [`ServerConnected`], [`ServerDisconnected`] and [`ServerMessage`]
//!   messages. Send from any system through `Res<BerthServer>`.
//! - [`BerthClientPlugin`] puts a [`berth::engine::Client`] in the world as
//!   [`BerthClient`]. It receives in [`BerthSet::Receive`] (raising
//!   [`ClientConnected`], [`ClientDisconnected`] and [`ClientMessage`]) and
//!   sends what the frame queued in [`BerthSet::Send`] (`PostUpdate`), so a
//!   frame's messages share packets. Run conditions: [`client_connected`],
//!   [`client_just_connected`].
//!
//! - [`BerthRelayPlugin`] puts a relay player in the world as
//!   [`BerthRelay`], with its [`MatchState`]; the match, other players
//!   leaving and rejoining, and their messages arrive as [`RelayMatched`],
//!   [`RelayPlayerLeft`], [`RelayPlayerRejoined`] and [`RelayReceived`].
//!
//! All end cleanly on `AppExit`: the client sends its disconnect packets,
//! the server disconnects its peers and stops its threads. Errors (a bind
//! that failed, a message refused) are logged and sent as [`BerthError`].
//!
//! # Examples
//!
//! A headless server that echoes every message (the plugins' own docs run
//! a server and a client app together):
//!
//! ```no_run
//! use berth::engine::ServerConfig;
//! use berth::Key;
//! use berth_bevy::{BerthServer, BerthServerPlugin, ServerMessage};
//! use bevy_app::{App, Update};
//! use bevy_ecs::prelude::*;
//!
//! fn echo(server: Res<BerthServer>, mut messages: MessageReader<ServerMessage>) {
//!     for m in messages.read() {
//!         let _ = server.send(m.peer, m.channel, &m.bytes);
//!     }
//! }
//!
//! let config = ServerConfig::new("0.0.0.0:40000".parse().unwrap(), 7, Key::from_bytes([1; 32]));
//! App::new()
//!     .add_plugins(BerthServerPlugin::new(config))
//!     .add_systems(Update, echo)
//!     .run();
//! ```

mod keeper;
mod relay;

pub use relay::{
    BerthRelay, BerthRelayPlugin, MatchState, RelayMatched, RelayPlayerLeft, RelayPlayerRejoined,
    RelayReceived,
};

use berth::ConnectToken;
use berth::engine::{Client, ClientError, PeerId, Server, ServerConfig, ServerEvent};
use berth::proto::channel::ChannelId;
use berth::proto::client::ClientState;
use berth::proto::server::DisconnectReason;
use berth::relay::RelayError;
use bevy_app::{App, AppExit, Last, Plugin, PostUpdate, PreUpdate};
use bevy_ecs::prelude::*;
use keeper::Kept;
use std::net::SocketAddr;
use std::time::Instant;

/// Where berth's systems run: order a game's systems against them.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BerthSet {
    /// `PreUpdate`: what arrived becomes messages.
    Receive,
    /// `PostUpdate`: what the frame queued is sent.
    Send,
}

/// Something went wrong in berth; also logged. Sends refused at the call
/// (before connect, after a disconnect, an unknown channel, a full budget)
/// are the call's typed `Err` instead.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BerthError {
    /// A plugin could not start: its socket could not be bound, or its
    /// server could not start. The plugin's resource is missing.
    Start(String),
    /// The connection failed: no server answered, the token expired or was
    /// unreadable, or the server went silent. The state says which (its
    /// netcode code is negative).
    Connect(ClientState),
    /// The relay refused a request.
    Relay(RelayError),
    /// No connect token from the relay's token service.
    Token(String),
}

impl std::fmt::Display for BerthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Start(why) => write!(f, "berth did not start: {why}"),
            Self::Connect(state) => write!(f, "berth connection failed: {state:?}"),
            Self::Relay(error) => write!(f, "the relay refused: {error:?}"),
            Self::Token(why) => write!(f, "no connect token: {why}"),
        }
    }
}

impl std::error::Error for BerthError {}

/// The server, in the world ([`BerthServerPlugin`]). Derefs to
/// [`berth::engine::Server`]: `send`, `disconnect`, `issue_token`, stats.
#[derive(Resource, Debug)]
pub struct BerthServer(pub Server);

impl std::ops::Deref for BerthServer {
    type Target = Server;

    fn deref(&self) -> &Server {
        &self.0
    }
}

/// A peer completed its handshake.
#[derive(Message, Debug, Clone)]
pub struct ServerConnected {
    /// The peer.
    pub peer: PeerId,
    /// The client id from its token.
    pub client_id: u64,
}

/// A peer left.
#[derive(Message, Debug, Clone)]
pub struct ServerDisconnected {
    /// The peer.
    pub peer: PeerId,
    /// Why.
    pub reason: DisconnectReason,
}

/// A peer sent a message.
#[derive(Message, Debug, Clone)]
pub struct ServerMessage {
    /// Who sent it.
    pub peer: PeerId,
    /// On which channel.
    pub channel: ChannelId,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Binds a berth server and runs it with the app.
///
/// # Examples
///
/// A server app and a client app in one process, on loopback: the server
/// echoes, and the client waits for its echo.
///
/// ```
/// use berth::engine::ServerConfig;
/// use berth::proto::channel::standard;
/// use berth_bevy::{
///     BerthClient, BerthClientPlugin, BerthServer, BerthServerPlugin, ClientMessage,
///     ServerMessage, client_just_connected,
/// };
/// use bevy_app::{App, Update};
/// use bevy_ecs::prelude::*;
/// use std::time::{Duration, Instant};
///
/// fn echo(server: Res<BerthServer>, mut messages: MessageReader<ServerMessage>) {
///     for m in messages.read() {
///         let _ = server.send(m.peer, m.channel, &m.bytes);
///     }
/// }
///
/// fn hello(mut client: ResMut<BerthClient>) {
///     client.send(standard::RELIABLE_ORDERED, b"hello").unwrap();
/// }
///
/// #[derive(Resource, Default)]
/// struct Echoed(bool);
///
/// fn heard(mut echoed: ResMut<Echoed>, mut messages: MessageReader<ClientMessage>) {
///     echoed.0 |= messages.read().any(|m| m.bytes == b"hello");
/// }
///
/// let key = berth::Key::from_bytes([1; 32]);
/// let config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), 7, key);
/// let mut server = App::new();
/// server.add_plugins(BerthServerPlugin::new(config)).add_systems(Update, echo);
/// let token = server.world().resource::<BerthServer>().issue_token(1, [0; 256]).unwrap();
///
/// let mut client = App::new();
/// client
///     .add_plugins(BerthClientPlugin::new("127.0.0.1:0".parse().unwrap()))
///     .init_resource::<Echoed>()
///     .add_systems(Update, (hello.run_if(client_just_connected), heard));
/// client.world_mut().resource_mut::<BerthClient>().connect(token);
///
/// let deadline = Instant::now() + Duration::from_secs(10);
/// while !client.world().resource::<Echoed>().0 {
///     assert!(Instant::now() < deadline, "no echo");
///     server.update();
///     client.update();
///     let frame_end = Instant::now() + Duration::from_millis(1);
///     client.world_mut().resource_mut::<BerthClient>().wait(frame_end).unwrap();
/// }
/// ```
#[derive(Debug)]
pub struct BerthServerPlugin {
    config: ServerConfig,
}

impl BerthServerPlugin {
    /// A server bound with `config` when the plugin is added.
    pub const fn new(config: ServerConfig) -> Self {
        Self { config }
    }
}

impl Plugin for BerthServerPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<ServerConnected>()
            .add_message::<ServerDisconnected>()
            .add_message::<ServerMessage>()
            .add_message::<BerthError>()
            .configure_sets(PreUpdate, BerthSet::Receive)
            .configure_sets(PostUpdate, BerthSet::Send);
        match Server::bind(self.config.clone()) {
            Ok(server) => {
                app.insert_resource(BerthServer(server))
                    .add_systems(PreUpdate, receive_server.in_set(BerthSet::Receive))
                    .add_systems(Last, stop_server_on_exit);
            }
            Err(e) => report(app, BerthError::Start(format!("server: {e}"))),
        }
    }
}

/// Logs `error` (through `tracing`, as Bevy apps do) and sends it as a message.
pub(crate) fn report(app: &mut App, error: BerthError) {
    tracing::error!("{error}");
    app.world_mut().write_message(error);
}

/// Turns the server's events into messages.
fn receive_server(
    server: Res<BerthServer>,
    mut connected: MessageWriter<ServerConnected>,
    mut disconnected: MessageWriter<ServerDisconnected>,
    mut messages: MessageWriter<ServerMessage>,
) {
    while let Ok(event) = server.events().try_recv() {
        match event {
            ServerEvent::Connected {
                peer, client_id, ..
            } => {
                connected.write(ServerConnected { peer, client_id });
            }
            ServerEvent::Disconnected { peer, reason } => {
                disconnected.write(ServerDisconnected { peer, reason });
            }
            ServerEvent::Message {
                peer,
                channel,
                bytes,
            } => {
                messages.write(ServerMessage {
                    peer,
                    channel,
                    bytes,
                });
            }
            _ => {}
        }
    }
}

/// On `AppExit`, disconnects every peer and stops the ports.
fn stop_server_on_exit(mut exits: MessageReader<AppExit>, mut commands: Commands<'_, '_>) {
    if exits.read().next().is_some() {
        // Dropping the server shuts it down (every peer is told).
        commands.remove_resource::<BerthServer>();
    }
}

/// The client, in the world ([`BerthClientPlugin`]).
///
/// Its connection does not depend on the frame rate: while the app runs no
/// frames (a long frame, a loading screen), a thread of the plugin's keeps
/// it alive, so a stall shorter than the connection's timeout costs
/// nothing.
#[derive(Resource, Debug)]
pub struct BerthClient {
    client: Kept<Client>,
    connected: bool,
    just_connected: bool,
    /// A failed connection was reported as [`BerthError::Connect`].
    failure_reported: bool,
}

impl BerthClient {
    /// Starts connecting with `token`.
    pub fn connect(&mut self, token: ConnectToken) {
        self.client.lock().value.connect(Instant::now(), token);
        self.failure_reported = false;
    }

    /// Queues `bytes` on `channel`; the frame's messages go out together in
    /// [`BerthSet::Send`].
    ///
    /// # Errors
    ///
    /// As [`berth::engine::Client::send`]: [`ClientError::Send`] with
    /// [`berth::proto::SendError::NotConnected`] before the connection or
    /// after it ended, `UnknownChannel` for a channel not in the table.
    pub fn send(&mut self, channel: ChannelId, bytes: &[u8]) -> Result<(), ClientError> {
        self.client
            .lock()
            .value
            .send(Instant::now(), channel, bytes)
    }

    /// Ends the connection now.
    pub fn disconnect(&mut self) {
        self.client.lock().value.disconnect(Instant::now());
    }

    /// Sleeps until a datagram arrives, a timer is due or `until`: for a
    /// headless app's frame loop (see [`berth::engine::Client::wait`]).
    ///
    /// # Errors
    ///
    /// As [`berth::engine::Client::wait`].
    pub fn wait(&mut self, until: Instant) -> Result<(), ClientError> {
        self.client.lock().value.wait(until)
    }

    /// Whether it is connected.
    pub fn is_connected(&self) -> bool {
        self.client.lock().value.is_connected()
    }

    /// Where the connection is, with netcode's codes.
    pub fn state(&self) -> ClientState {
        self.client.lock().value.state()
    }

    /// The channel counters of the connection (RTT, loss, resends).
    pub fn channel_stats(&self) -> Option<berth::proto::channel::ConnectionStats> {
        self.client.lock().value.channel_stats()
    }

    /// The local address of the client's socket.
    ///
    /// # Errors
    ///
    /// As the OS's `getsockname`.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.client.lock().value.local_addr()
    }
}

/// The client connected.
#[derive(Message, Debug, Clone, Copy)]
pub struct ClientConnected;

/// The client's connection ended (by either side, or a timeout).
#[derive(Message, Debug, Clone, Copy)]
pub struct ClientDisconnected;

/// A message from the server.
#[derive(Message, Debug, Clone)]
pub struct ClientMessage {
    /// On which channel.
    pub channel: ChannelId,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Runs a berth client with the app.
///
/// # Examples
///
/// A client app that connects to a server in the same process and counts
/// its frames until it is connected (see [`BerthServerPlugin`] for one that
/// exchanges messages).
///
/// ```
/// use berth::engine::{Server, ServerConfig};
/// use berth_bevy::{BerthClient, BerthClientPlugin, client_connected};
/// use bevy_app::{App, Update};
/// use bevy_ecs::prelude::*;
/// use std::time::{Duration, Instant};
///
/// #[derive(Resource, Default)]
/// struct FramesConnected(u32);
///
/// fn count(mut frames: ResMut<FramesConnected>) {
///     frames.0 += 1;
/// }
///
/// let key = berth::Key::from_bytes([2; 32]);
/// let server = Server::bind(ServerConfig::new("127.0.0.1:0".parse().unwrap(), 7, key)).unwrap();
/// let mut app = App::new();
/// app.add_plugins(BerthClientPlugin::new("127.0.0.1:0".parse().unwrap()))
///     .init_resource::<FramesConnected>()
///     .add_systems(Update, count.run_if(client_connected));
/// let token = server.issue_token(1, [0; 256]).unwrap();
/// app.world_mut().resource_mut::<BerthClient>().connect(token);
///
/// let deadline = Instant::now() + Duration::from_secs(10);
/// while app.world().resource::<FramesConnected>().0 < 3 {
///     assert!(Instant::now() < deadline, "not connected");
///     app.update();
///     let frame_end = Instant::now() + Duration::from_millis(1);
///     app.world_mut().resource_mut::<BerthClient>().wait(frame_end).unwrap();
/// }
/// ```
#[derive(Debug)]
pub struct BerthClientPlugin {
    bind: SocketAddr,
    protocol: Option<berth::Protocol>,
}

impl Default for BerthClientPlugin {
    /// A client on `0.0.0.0:0` (any IPv4 address, a free port), on the
    /// standard channels.
    fn default() -> Self {
        Self::new(SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}

impl BerthClientPlugin {
    /// A client on a socket bound at `bind` (say `0.0.0.0:0`), on the
    /// standard channels.
    pub const fn new(bind: SocketAddr) -> Self {
        Self {
            bind,
            protocol: None,
        }
    }

    /// Uses `protocol`'s channel table (see [`berth::Protocol`]).
    #[must_use]
    pub fn protocol(mut self, protocol: berth::Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }
}

impl Plugin for BerthClientPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<ClientConnected>()
            .add_message::<ClientDisconnected>()
            .add_message::<ClientMessage>()
            .add_message::<BerthError>()
            .configure_sets(PreUpdate, BerthSet::Receive)
            .configure_sets(PostUpdate, BerthSet::Send);
        match Client::bind(self.bind) {
            Ok(client) => {
                let client = match &self.protocol {
                    Some(protocol) => client.protocol(protocol),
                    None => client,
                };
                app.insert_resource(BerthClient {
                    client: Kept::new(client),
                    connected: false,
                    just_connected: false,
                    failure_reported: false,
                })
                .add_systems(PreUpdate, receive_client.in_set(BerthSet::Receive))
                .add_systems(PostUpdate, send_client.in_set(BerthSet::Send))
                .add_systems(Last, disconnect_client_on_exit);
            }
            Err(e) => report(app, BerthError::Start(format!("client: {e}"))),
        }
    }
}

/// Receives, raises connection changes (and a failed connection as
/// [`BerthError::Connect`]), and hands over the messages.
fn receive_client(
    mut client: ResMut<BerthClient>,
    mut connected: MessageWriter<ClientConnected>,
    mut disconnected: MessageWriter<ClientDisconnected>,
    mut messages: MessageWriter<ClientMessage>,
    mut errors: MessageWriter<BerthError>,
) {
    let client = &mut *client;
    let mut slot = client.client.lock();
    slot.value.receive(Instant::now());
    let state = slot.value.state();
    let now_connected = state == ClientState::Connected;
    client.just_connected = now_connected && !client.connected;
    if client.just_connected {
        connected.write(ClientConnected);
    } else if client.connected && !now_connected {
        disconnected.write(ClientDisconnected);
    }
    client.connected = now_connected;
    if state.is_error() && !client.failure_reported {
        client.failure_reported = true;
        tracing::warn!(?state, "berth connection failed");
        errors.write(BerthError::Connect(state));
    }
    while let Some(message) = slot.value.recv() {
        messages.write(ClientMessage {
            channel: message.channel,
            bytes: message.bytes,
        });
    }
}

/// Sends what the frame queued.
fn send_client(client: Res<BerthClient>) {
    client.client.lock().value.flush(Instant::now());
}

/// On `AppExit`, sends the disconnect packets.
fn disconnect_client_on_exit(mut exits: MessageReader<AppExit>, mut client: ResMut<BerthClient>) {
    if exits.read().next().is_some() && client.is_connected() {
        client.disconnect();
    }
}

/// Run condition: the client is connected.
pub fn client_connected(client: Option<Res<BerthClient>>) -> bool {
    client.is_some_and(|c| c.connected)
}

/// Run condition: the client connected this frame.
pub fn client_just_connected(client: Option<Res<BerthClient>>) -> bool {
    client.is_some_and(|c| c.just_connected)
}
