//! The relay server: an engine server running the relay handler on every port.

use super::FleetRejoin;
use super::address_check::AddressCheck;
use super::budgets::RequestBudgets;
use super::config::RelayConfig;
use super::handler::{RelayHandler, RelayShared};
use super::matchmaker::Matchmaker;
use super::protocol::{CONTROL, UNRELIABLE};
use super::routes::RouteFeed;
use crate::ProtocolId;
use crate::engine::{BindError, PortStats, Server, ServerConfig};
use crate::proto::channel::{ChannelKind, ChannelTable, TableError};
use crate::sync::{Arc, AtomicU64, Ordering};
use crate::token_builder::TokenError;
use crate::wire::connect_token::ConnectToken;
use parking_lot::RwLock;

/// The channels relay clients and servers share: the relay's two reserved
/// channels and nothing else.
///
/// # Errors
///
/// None in practice: the table is fixed. The `Result` is the builder's.
pub fn channel_table() -> Result<ChannelTable, TableError> {
    ChannelTable::new()
        .reserved_channel(CONTROL, ChannelKind::ReliableOrdered)
        .reserved_channel(UNRELIABLE, ChannelKind::Unreliable)
        .build()
}

/// The protocol id of berth's relay, version 1, for tokens and clients.
pub fn protocol_id() -> u64 {
    let id = ProtocolId::new("berth-relay").version(1, 0);
    match channel_table() {
        Ok(table) => id.channels(&table).finish(),
        Err(_) => id.finish(),
    }
}

/// What a relay has done, summed over its ports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayStats {
    /// Rooms held: waiting rooms, lobbies and matches.
    pub rooms: usize,
    /// Players seated in them.
    pub players: usize,
    /// Proxied messages delivered to a player's channel.
    pub forwarded: u64,
    /// Messages dropped: bad, on an unknown channel, over a budget, or
    /// for a player not in a match.
    pub dropped: u64,
}

/// A matchmaker and relay on berth's engine: one thread per port, the
/// relay running on each.
///
/// # Examples
///
/// ```no_run
/// use berth::engine::ServerConfig;
/// use berth::relay::{RelayConfig, RelayServer, protocol_id};
/// use berth::Key;
///
/// let config = ServerConfig::new("0.0.0.0:40000".parse().unwrap(), protocol_id(), Key::from_bytes([7; 32]))
///     .ports(4)
///     .public("203.0.113.7:40000".parse().unwrap());
/// let relay = RelayServer::bind(config, RelayConfig::default()).unwrap();
/// let token = relay.issue_token(42).unwrap(); // hand token.to_bytes() to a player
/// # let _ = token;
/// ```
#[derive(Debug)]
pub struct RelayServer {
    server: Server,
    shared: Arc<RelayShared>,
}

impl RelayServer {
    /// Binds the engine with the relay's channel table and starts the relay
    /// on every port. The config's protocol id should be [`protocol_id`].
    ///
    /// # Errors
    ///
    /// [`BindError`] as [`Server::bind`].
    pub fn bind(config: ServerConfig, relay: RelayConfig) -> Result<Self, BindError> {
        let ports = usize::from(config.port_count());
        let table = channel_table().map_err(|_| BindError::PortRange {
            base: config.bind_addr(),
            ports: 0,
        })?;
        let shared = Arc::new(RelayShared {
            matchmaker: RwLock::new(
                Matchmaker::new(relay.clone())
                    .with_fleet_rejoin(FleetRejoin::new(config.private_key.clone())),
            ),
            feeds: (0..ports).map(|_| RouteFeed::new()).collect(),
            forwarded: (0..ports).map(|_| AtomicU64::new(0)).collect(),
            dropped: (0..ports).map(|_| AtomicU64::new(0)).collect(),
            address_check: AddressCheck::new(),
        });
        let handlers = shared.clone();
        let server = Server::bind_with_handler(config.channels(table), move |port| {
            RelayHandler::new(handlers.clone(), port, RequestBudgets::new(&relay))
        })?;
        Ok(Self { server, shared })
    }

    /// A connect token for `client_id`, placed on the least-loaded port.
    ///
    /// # Errors
    ///
    /// As [`Server::issue_token`].
    pub fn issue_token(&self, client_id: u64) -> Result<ConnectToken, TokenError> {
        self.issue_token_via(0, client_id)
    }

    /// A connect token for `client_id` whose addresses are those of
    /// `transport` (0: the UDP sockets; 1 on: the transports added with
    /// [`ServerConfig::add_transport`], say WebTransport for browsers).
    ///
    /// # Errors
    ///
    /// As [`Server::issue_token_via`].
    pub fn issue_token_via(
        &self,
        transport: usize,
        client_id: u64,
    ) -> Result<ConnectToken, TokenError> {
        self.server.issue_token_via(transport, client_id, [0; 256])
    }

    /// The engine server underneath (addresses, port stats, loads).
    pub const fn server(&self) -> &Server {
        &self.server
    }

    /// Rooms, players and message counts now.
    pub fn stats(&self) -> RelayStats {
        let sum = |counters: &[AtomicU64]| counters.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        let matchmaker = self.shared.matchmaker.read();
        RelayStats {
            rooms: matchmaker.room_count(),
            players: matchmaker.player_count(),
            forwarded: sum(&self.shared.forwarded),
            dropped: sum(&self.shared.dropped),
        }
    }

    /// Stops new matches and lobbies (requests get `Draining`); matches
    /// under way carry on until [`RelayServer::shutdown`].
    pub fn drain(&self) {
        self.shared.matchmaker.write().drain();
    }

    /// Whether [`RelayServer::drain`] was called: no new matches or lobbies.
    pub fn is_draining(&self) -> bool {
        self.shared.matchmaker.read().is_draining()
    }

    /// Disconnects every player (each gets the disconnect packets), stops
    /// the ports, and returns their final counters.
    pub fn shutdown(self) -> Vec<PortStats> {
        self.server.shutdown()
    }
}
