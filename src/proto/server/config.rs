//! A shard's configuration.

use crate::crypto::Key;
use crate::proto::channel::ChannelTable;
use crate::wire::address::normalize;
use std::net::SocketAddr;
use std::time::Duration;

/// Most client slots one shard may have.
pub const MAX_CLIENTS_LIMIT: usize = 65_536;

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_clients` is 0 or over the limit.
    #[error("max_clients must be 1..={MAX_CLIENTS_LIMIT}, got {0}")]
    MaxClients(usize),
    /// No public address was given.
    #[error("a server needs at least one public address")]
    NoAddress,
    /// A table size is 0.
    #[error("{0} must be at least 1")]
    ZeroLimit(&'static str),
}

/// What a server shard needs to know: who it is and how much it may hold.
///
/// # Examples
///
/// ```
/// use berth::Key;
/// use berth::proto::server::ShardConfig;
///
/// let config = ShardConfig::new(0x1122334455667788, Key::from_bytes([3; 32]), "127.0.0.1:40000".parse().unwrap())
///     .max_clients(64);
/// assert_eq!(config.validate().unwrap().max_clients_value(), 64);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ShardConfig {
    pub(crate) protocol_id: u64,
    pub(crate) private_key: Key,
    /// Each address with the transport it is reached through (0 unless
    /// the server has several, see [`ShardConfig::transport_address`]).
    pub(crate) addresses: Vec<(u8, SocketAddr)>,
    pub(crate) max_clients: usize,
    pub(crate) max_pending: Option<usize>,
    pub(crate) token_log_len: Option<usize>,
    pub(crate) pending_timeout: Duration,
    pub(crate) requests_per_source: Option<u32>,
    pub(crate) channels: Option<ChannelTable>,
}

impl ShardConfig {
    /// A server for `protocol_id`, opening tokens with `private_key`, that
    /// clients reach at `address` (the address tokens name, not necessarily
    /// the one bound).
    pub fn new(protocol_id: u64, private_key: Key, address: SocketAddr) -> Self {
        Self {
            protocol_id,
            private_key,
            addresses: vec![(0, normalize(address))],
            max_clients: 256,
            max_pending: None,
            token_log_len: None,
            pending_timeout: Duration::from_secs(10),
            requests_per_source: None,
            channels: None,
        }
    }

    /// Reads at most `n` connection requests per second from one source
    /// address (IP and port); the rest are dropped before their token is
    /// opened and counted as [`super::DropReason::RateLimited`]. Unlimited
    /// by default.
    pub const fn requests_per_source(mut self, n: u32) -> Self {
        self.requests_per_source = Some(n);
        self
    }

    /// Carries messages on `table`'s channels (reliable and unreliable, many
    /// per packet; see [`crate::proto::channel`]); both sides must use the
    /// same table. `None`, the default, is raw netcode: each message is one
    /// payload of 1..=1200 bytes on [`ChannelId::RAW`](crate::proto::channel::ChannelId::RAW),
    /// what standard netcode.io clients speak.
    pub fn channels(mut self, table: Option<ChannelTable>) -> Self {
        self.channels = table;
        self
    }

    /// Another address this server answers to (say, its IPv6 one).
    pub fn also_address(mut self, address: SocketAddr) -> Self {
        self.addresses.push((0, normalize(address)));
        self
    }

    /// An address this server answers to through another of its
    /// transports (a WebTransport endpoint beside the UDP socket, say):
    /// a connection request that arrives through transport `transport`
    /// ([`super::Shard::receiving_via`]) must carry a token naming one of
    /// that transport's addresses, so a token made for one transport is
    /// refused on another. Transport 0 holds the first address and those
    /// of [`ShardConfig::also_address`].
    pub fn transport_address(mut self, transport: u8, address: SocketAddr) -> Self {
        self.addresses.push((transport, normalize(address)));
        self
    }

    /// Client slots. Default 256, the reference's maximum; each slot costs about 2.5 KiB.
    pub const fn max_clients(mut self, max_clients: usize) -> Self {
        self.max_clients = max_clients;
        self
    }

    /// Handshakes in progress at once (clients between request and response).
    /// Default 4 × `max_clients`, as the reference; each costs about 200 bytes.
    pub const fn max_pending(mut self, max_pending: usize) -> Self {
        self.max_pending = Some(max_pending);
        self
    }

    /// Connect tokens remembered to stop reuse from another address.
    /// Default 8 × `max_clients`, as the reference; each costs about 60 bytes.
    pub const fn token_log_len(mut self, len: usize) -> Self {
        self.token_log_len = Some(len);
        self
    }

    /// How long a handshake may wait for its response when the token sets no
    /// timeout (timeout 0 or negative). Default 10 s.
    pub const fn pending_timeout(mut self, timeout: Duration) -> Self {
        self.pending_timeout = timeout;
        self
    }

    /// Slot count.
    pub const fn max_clients_value(&self) -> usize {
        self.max_clients
    }

    /// Checks the limits.
    ///
    /// # Errors
    ///
    /// See [`ConfigError`].
    pub fn validate(self) -> Result<Self, ConfigError> {
        if self.max_clients == 0 || self.max_clients > MAX_CLIENTS_LIMIT {
            return Err(ConfigError::MaxClients(self.max_clients));
        }
        if self.addresses.is_empty() {
            return Err(ConfigError::NoAddress);
        }
        if self.max_pending == Some(0) {
            return Err(ConfigError::ZeroLimit("max_pending"));
        }
        if self.token_log_len == Some(0) {
            return Err(ConfigError::ZeroLimit("token_log_len"));
        }
        Ok(self)
    }

    pub(crate) fn max_pending_value(&self) -> usize {
        self.max_pending.unwrap_or(4 * self.max_clients)
    }

    pub(crate) fn token_log_value(&self) -> usize {
        self.token_log_len.unwrap_or(8 * self.max_clients)
    }
}
