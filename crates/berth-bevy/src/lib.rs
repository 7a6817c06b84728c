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
//! A headless server that echoes every message:
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

mod relay;

pub use relay::{
    BerthRelay, BerthRelayPlugin, MatchState, RelayMatched, RelayPlayerLeft, RelayPlayerRejoined,
    RelayReceived,
};

use berth::ConnectToken;
use berth::engine::{Client, ClientError, PeerId, Server, ServerConfig, ServerEvent};
use berth::proto::channel::ChannelId;
use berth::proto::server::DisconnectReason;
use bevy_app::{App, AppExit, Last, Plugin, PostUpdate, PreUpdate};
use bevy_ecs::prelude::*;
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

/// Something went wrong in berth; also logged.
#[derive(Message, Debug, Clone)]
pub struct BerthError(pub String);

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

/// Binds a berth server and runs it with the app. See the crate docs.
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
            Err(e) => {
                let error = format!("berth server did not start: {e}");
                tracing_error(&error);
                app.world_mut().write_message(BerthError(error));
            }
        }
    }
}

/// Bevy apps log through `tracing`, as berth does.
pub(crate) fn tracing_error(error: &str) {
    tracing::error!("{error}");
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
#[derive(Resource, Debug)]
pub struct BerthClient {
    client: Client,
    connected: bool,
    just_connected: bool,
}

impl BerthClient {
    /// Starts connecting with `token`.
    pub fn connect(&mut self, token: ConnectToken) {
        self.client.connect(Instant::now(), token);
    }

    /// Queues `bytes` on `channel`; the frame's messages go out together in
    /// [`BerthSet::Send`].
    ///
    /// # Errors
    ///
    /// As [`berth::engine::Client::send`].
    pub fn send(&mut self, channel: ChannelId, bytes: &[u8]) -> Result<(), ClientError> {
        self.client.send(Instant::now(), channel, bytes)
    }

    /// Ends the connection now.
    pub fn disconnect(&mut self) {
        self.client.disconnect(Instant::now());
    }

    /// Sleeps until a datagram arrives, a timer is due or `until`: for a
    /// headless app's frame loop (see [`berth::engine::Client::wait`]).
    ///
    /// # Errors
    ///
    /// As [`berth::engine::Client::wait`].
    pub fn wait(&mut self, until: Instant) -> Result<(), ClientError> {
        self.client.wait(until)
    }

    /// Whether it is connected.
    pub fn is_connected(&self) -> bool {
        self.client.is_connected()
    }

    /// The client underneath (state, stats, its socket's address).
    pub const fn client(&self) -> &Client {
        &self.client
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

/// Runs a berth client with the app. See the crate docs.
#[derive(Debug)]
pub struct BerthClientPlugin {
    bind: SocketAddr,
    protocol: Option<berth::Protocol>,
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
                    client,
                    connected: false,
                    just_connected: false,
                })
                .add_systems(PreUpdate, receive_client.in_set(BerthSet::Receive))
                .add_systems(PostUpdate, send_client.in_set(BerthSet::Send))
                .add_systems(Last, disconnect_client_on_exit);
            }
            Err(e) => {
                let error = format!("berth client did not start: {e}");
                tracing_error(&error);
                app.world_mut().write_message(BerthError(error));
            }
        }
    }
}

/// Receives, raises connection changes, and hands over the messages.
fn receive_client(
    mut client: ResMut<BerthClient>,
    mut connected: MessageWriter<ClientConnected>,
    mut disconnected: MessageWriter<ClientDisconnected>,
    mut messages: MessageWriter<ClientMessage>,
) {
    let client = &mut *client;
    client.client.receive(Instant::now());
    let now_connected = client.client.is_connected();
    client.just_connected = now_connected && !client.connected;
    if client.just_connected {
        connected.write(ClientConnected);
    } else if client.connected && !now_connected {
        disconnected.write(ClientDisconnected);
    }
    client.connected = now_connected;
    while let Some(message) = client.client.recv() {
        messages.write(ClientMessage {
            channel: message.channel,
            bytes: message.bytes,
        });
    }
}

/// Sends what the frame queued.
fn send_client(mut client: ResMut<BerthClient>) {
    client.client.flush(Instant::now());
}

/// On `AppExit`, sends the disconnect packets.
fn disconnect_client_on_exit(mut exits: MessageReader<AppExit>, mut client: ResMut<BerthClient>) {
    if exits.read().next().is_some() && client.client.is_connected() {
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
