//! Configuration of a multi-port server.

use super::memory::MemoryNetwork;
use super::transport::Transport;
use crate::crypto::Key;
use crate::proto::channel::ChannelTable;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Makes the transport a port serves beside its socket, given the port's
/// index ([`ServerConfig::add_transport`]).
#[derive(Clone)]
pub(crate) struct TransportMaker(
    pub(crate) Arc<dyn Fn(u16) -> std::io::Result<Box<dyn Transport>> + Send + Sync>,
);

impl std::fmt::Debug for TransportMaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TransportMaker")
    }
}

/// How a [`crate::engine::Server`] binds and what it allows.
///
/// # Examples
///
/// ```
/// use berth::engine::ServerConfig;
/// use berth::Key;
///
/// let config = ServerConfig::new("127.0.0.1:40000".parse().unwrap(), 0x1122334455667788, Key::from_bytes([1; 32]))
///     .ports(4)
///     .public("203.0.113.7:40000".parse().unwrap())
///     .max_clients_per_port(1024);
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ServerConfig {
    pub(crate) bind: SocketAddr,
    pub(crate) ports: u16,
    pub(crate) public: Option<SocketAddr>,
    pub(crate) protocol_id: u64,
    pub(crate) private_key: Key,
    pub(crate) max_clients_per_port: usize,
    pub(crate) socket_buffer_len: usize,
    pub(crate) queue_len: usize,
    pub(crate) token_expiry: Duration,
    pub(crate) token_timeout: Option<Duration>,
    pub(crate) requests_per_source: u32,
    pub(crate) network: Option<MemoryNetwork>,
    pub(crate) channels: Option<ChannelTable>,
    pub(crate) max_peers_per_ip: Option<u32>,
    pub(crate) added_transports: Vec<TransportMaker>,
}

impl ServerConfig {
    /// Binds ports from `bind` upwards, for `protocol_id`, opening tokens with `private_key`.
    ///
    /// With port 0 in `bind`, every port gets a port number from the OS
    /// (for tests).
    pub fn new(bind: SocketAddr, protocol_id: u64, private_key: Key) -> Self {
        Self {
            bind,
            ports: 1,
            public: None,
            protocol_id,
            private_key,
            max_clients_per_port: 256,
            socket_buffer_len: 4 << 20,
            queue_len: 65_536,
            token_expiry: Duration::from_secs(30),
            token_timeout: Some(Duration::from_secs(5)),
            requests_per_source: 32,
            network: None,
            channels: Some(ChannelTable::standard()),
            max_peers_per_ip: None,
            added_transports: Vec::new(),
        }
    }

    /// Number of ports, each served by its own thread: `bind.port()..bind.port()+n`. Default 1.
    pub const fn ports(mut self, ports: u16) -> Self {
        self.ports = ports;
        self
    }

    /// The address clients reach the first port at, when it is not the bind
    /// address (behind NAT, or bound to `0.0.0.0`). Port `i` is reached at
    /// this port number plus `i`. Tokens name these addresses, and each
    /// port's shard checks them. Default: the bound addresses.
    pub const fn public(mut self, public: SocketAddr) -> Self {
        self.public = Some(public);
        self
    }

    /// Client slots per port. Default 256; each costs about 2.5 KiB.
    pub const fn max_clients_per_port(mut self, n: usize) -> Self {
        self.max_clients_per_port = n;
        self
    }

    /// Kernel send and receive buffer size per socket, in bytes. Default 4 MiB.
    pub const fn socket_buffer_len(mut self, len: usize) -> Self {
        self.socket_buffer_len = len;
        self
    }

    /// Capacity of each port's command queue and of the event queue. Default
    /// 65,536 entries; a full queue makes `send` fail with
    /// [`crate::engine::SendError::QueueFull`] and drops events (counted).
    pub const fn queue_len(mut self, len: usize) -> Self {
        self.queue_len = len;
        self
    }

    /// How long tokens from [`crate::engine::Server::issue_token`] stay
    /// valid, and hold their place on a port. Default 30 s.
    pub const fn token_expiry(mut self, expiry: Duration) -> Self {
        self.token_expiry = expiry;
        self
    }

    /// Connection timeout written into issued tokens; `None` never times out. Default 5 s.
    pub const fn token_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.token_timeout = timeout;
        self
    }

    /// Connection requests one source address (IP and port) may make per
    /// second on one port before the rest are dropped unread. Default 32; a
    /// standard client retries at 10 per second.
    pub const fn requests_per_source(mut self, n: u32) -> Self {
        self.requests_per_source = n;
        self
    }

    /// Serves on `network` instead of UDP: each port binds a
    /// [`MemorySocket`](crate::engine::MemorySocket) at its address, and
    /// clients reach it with [`crate::engine::Client::bind_in_memory`]. For
    /// host mode (the server and local players in one process) and
    /// deterministic tests. `socket_buffer_len` does not apply.
    pub fn in_memory(mut self, network: &MemoryNetwork) -> Self {
        self.network = Some(network.clone());
        self
    }

    /// Speaks `protocol`: its id and its channel table, in one call (see
    /// [`crate::Protocol`]). Replaces what [`ServerConfig::new`] and
    /// [`ServerConfig::channels`] set.
    pub fn protocol(mut self, protocol: &crate::Protocol) -> Self {
        self.protocol_id = protocol.id();
        self.channels = Some(protocol.table().clone());
        self
    }

    /// Frames messages on `table`'s channels (reliable and unreliable, see
    /// [`crate::proto::channel`]). Default: [`ChannelTable::standard`]. Both
    /// sides must use the same table; feed it to
    /// [`crate::ProtocolId::channels`] so mismatched builds cannot connect.
    pub fn channels(mut self, table: ChannelTable) -> Self {
        self.channels = Some(table);
        self
    }

    /// Raw mode: each message is one netcode payload of 1..=1200 bytes,
    /// unreliable, on [`crate::proto::channel::ChannelId::RAW`]. What plain
    /// netcode.io clients (the C reference, netcode-rs, renetcode) speak.
    pub fn raw(mut self) -> Self {
        self.channels = None;
        self
    }

    /// Has every port also serve the transport `make` returns for the
    /// port's index, on the same thread, with the same peers, slots and
    /// placement as its socket: one room can hold players of both. Tokens
    /// for it name each port's [`crate::engine::transport::Transport::local_addr`]
    /// ([`crate::engine::Server::issue_token_via`]; the first added is
    /// transport 1). The addresses it gives its peers must not be ones that
    /// could also reach the port's socket. A port whose added transport
    /// fails stops like one whose socket fails.
    ///
    /// # Examples
    ///
    /// Every port serves IPv4 and IPv6:
    ///
    /// ```no_run
    /// use berth::engine::{transport::{Transport, UdpTransport}, ServerConfig};
    /// use berth::Key;
    ///
    /// let config = ServerConfig::new("0.0.0.0:40000".parse().unwrap(), 7, Key::from_bytes([1; 32]))
    ///     .ports(2)
    ///     .add_transport(|port| {
    ///         let addr = std::net::SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 40000 + port));
    ///         Ok(Box::new(UdpTransport::bind(addr, 4 << 20)?) as Box<dyn Transport>)
    ///     });
    /// # let _ = config;
    /// ```
    pub fn add_transport(
        mut self,
        make: impl Fn(u16) -> std::io::Result<Box<dyn Transport>> + Send + Sync + 'static,
    ) -> Self {
        self.added_transports.push(TransportMaker(Arc::new(make)));
        self
    }

    /// How many ports this config binds.
    pub const fn port_count(&self) -> u16 {
        self.ports
    }

    /// The first port's bind address.
    pub const fn bind_addr(&self) -> SocketAddr {
        self.bind
    }

    /// At most `n` connected peers per IP address (IPv6: per /64) over all
    /// ports; more are disconnected as they connect and counted in
    /// [`crate::engine::PortStats::ip_limited`]. Default: no limit (players
    /// behind one NAT share an address; set it to what a household needs).
    pub const fn max_peers_per_ip(mut self, n: u32) -> Self {
        self.max_peers_per_ip = Some(n);
        self
    }
}
