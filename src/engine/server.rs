//! The public multi-port server handle.

use super::buffer_pool::BufferPool;
use super::config::ServerConfig;
use super::handler::Handler;
use super::handler::check_message;
use super::issuer::{Issuer, Placement};
use super::port::{self, Command, Delivery, OnFull, Port, Shared};
use super::transport::{Transport, UdpTransport};
use super::{PeerId, PortStats, SendError, ServerEvent, socket};
use crate::crypto::OsRandom;
use crate::proto::WallClock;
use crate::proto::channel::{ChannelId, ConnectionStats};
use crate::proto::server::{ConfigError, Shard, ShardConfig};
use crate::sync::{Arc, AtomicBool, Ordering};
use crate::token_builder::TokenError;
use crate::wire::connect_token::{ConnectToken, USER_DATA_LEN, UserData};
use crossbeam_channel::Receiver;
use mio::{Poll, Waker};
use parking_lot::Mutex;
use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Instant;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    /// No ports were asked for, or the range runs past 65535.
    #[error("cannot bind {ports} ports from {base}")]
    PortRange {
        /// The first address.
        base: SocketAddr,
        /// How many ports.
        ports: u16,
    },
    /// A socket could not be opened or bound.
    #[error("cannot bind {addr}")]
    Socket {
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The OS refused a poll, a waker or a thread.
    #[error("cannot start port {port}")]
    Start {
        /// The port's index.
        port: u16,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The protocol settings are out of range.
    #[error("bad server configuration")]
    Config(#[from] ConfigError),
}

/// A berth server: one thread per UDP port, serving netcode.io 1.02.
///
/// Dropping it shuts it down as [`Server::shutdown`] does.
///
/// # Examples
///
/// An echo server, handle style, on the standard channels (one of each
/// delivery kind):
///
/// ```no_run
/// use berth::engine::{Server, ServerConfig, ServerEvent};
/// use berth::Key;
///
/// let config = ServerConfig::new("0.0.0.0:40000".parse().unwrap(), 0x1122334455667788, Key::from_bytes([7; 32]))
///     .ports(4)
///     .public("203.0.113.7:40000".parse().unwrap());
/// let server = Server::bind(config).unwrap();
/// let token = server.issue_token(42, [0; 256]).unwrap(); // hand token.to_bytes() to the client
/// # let _ = token;
/// for event in server.events().iter() {
///     if let ServerEvent::Message { peer, channel, bytes } = event {
///         server.send(peer, channel, &bytes).unwrap();
///     }
/// }
/// ```
#[derive(Debug)]
pub struct Server {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    events: Receiver<ServerEvent>,
    issuer: Issuer,
    local: Vec<SocketAddr>,
}

impl Server {
    /// Binds the ports and starts their threads; events arrive on [`Server::events`].
    ///
    /// # Errors
    ///
    /// [`BindError`] when a port cannot be bound or started, or the settings are out of range.
    pub fn bind(config: ServerConfig) -> Result<Self, BindError> {
        let (tx, rx) = crossbeam_channel::bounded(config.queue_len);
        Self::start(config, rx, |_| Delivery::Events(tx.clone()))
    }

    /// Binds the ports and runs a handler on each port's thread; `make`
    /// builds the handler for port `i`. [`Server::events`] stays empty.
    ///
    /// # Errors
    ///
    /// As [`Server::bind`].
    pub fn bind_with_handler<H: Handler>(
        config: ServerConfig,
        mut make: impl FnMut(u16) -> H,
    ) -> Result<Self, BindError> {
        let (_, rx) = crossbeam_channel::bounded(1);
        Self::start(config, rx, |port| Delivery::Handler(Box::new(make(port))))
    }

    fn start(
        config: ServerConfig,
        events: Receiver<ServerEvent>,
        mut delivery: impl FnMut(u16) -> Delivery,
    ) -> Result<Self, BindError> {
        let ports = config.ports;
        let base = config.bind;
        let range_ok =
            ports > 0 && (base.port() == 0 || u32::from(base.port()) + u32::from(ports) <= 65_536);
        if !range_ok {
            return Err(BindError::PortRange { base, ports });
        }
        let mut transports: Vec<Vec<Box<dyn Transport>>> = Vec::with_capacity(usize::from(ports));
        let mut local = Vec::with_capacity(usize::from(ports));
        // Per added transport, each port's address.
        let mut added: Vec<Vec<SocketAddr>> = vec![Vec::new(); config.added_transports.len()];
        for i in 0..ports {
            let mut addr = base;
            if base.port() != 0 {
                addr.set_port(base.port() + i);
            }
            let socket_error = |source| BindError::Socket { addr, source };
            let mut transport: Box<dyn Transport> = match &config.network {
                Some(network) => Box::new(network.bind(addr).map_err(socket_error)?),
                None => Box::new(UdpTransport::new(
                    socket::bind(addr, config.socket_buffer_len).map_err(socket_error)?,
                )),
            };
            // For PortStats::dwell; where the kernel cannot, dwell stays empty.
            transport.enable_arrival_times();
            local.push(transport.local_addr().map_err(socket_error)?);
            let mut port_transports = vec![transport];
            for (maker, addrs) in config.added_transports.iter().zip(&mut added) {
                let start_error = |source| BindError::Start { port: i, source };
                let transport = (maker.0)(i).map_err(start_error)?;
                addrs.push(transport.local_addr().map_err(start_error)?);
                port_transports.push(transport);
            }
            transports.push(port_transports);
        }
        let public: Vec<SocketAddr> = match config.public {
            Some(public) => (0..ports)
                .map(|i| {
                    let mut addr = public;
                    addr.set_port(public.port().wrapping_add(i));
                    addr
                })
                .collect(),
            None => local.clone(),
        };

        let mut polls = Vec::with_capacity(usize::from(ports));
        let mut mailboxes = Vec::with_capacity(usize::from(ports));
        for i in 0..ports {
            let start_error = |source| BindError::Start { port: i, source };
            let poll = Poll::new().map_err(start_error)?;
            let waker = Arc::new(Waker::new(poll.registry(), port::WAKER).map_err(start_error)?);
            mailboxes.push(super::mailbox::Mailbox::new(
                config.queue_len,
                waker.clone(),
            ));
            polls.push((poll, waker));
        }
        let shared = Arc::new(Shared {
            ip_limit: super::ip_limit::IpLimit::new(config.max_peers_per_ip),
            table: config.channels.clone(),
            mailboxes,
            shutdown: AtomicBool::new(false),
            placement: Placement::new(usize::from(ports)),
            // Up to every mailbox full at once, within the pool's own
            // limits (8,192 buffers, 8 MiB).
            pool: Arc::new(BufferPool::new(
                config.queue_len.saturating_mul(usize::from(ports)),
            )),
            stats: (0..ports)
                .map(|port| {
                    Mutex::new(PortStats {
                        port,
                        ..PortStats::default()
                    })
                })
                .collect(),
        });

        let now = Instant::now();
        let clock = WallClock::system();
        let mut server = Self {
            shared: shared.clone(),
            threads: Vec::with_capacity(usize::from(ports)),
            events,
            issuer: Issuer {
                protocol_id: config.protocol_id,
                private_key: config.private_key.clone(),
                public: std::iter::once(public.clone())
                    .chain(added.clone())
                    .collect(),
                expiry: config.token_expiry,
                timeout: config.token_timeout,
            },
            local,
        };
        for (i, (transport, (poll, waker))) in (0..ports).zip(transports.into_iter().zip(polls)) {
            let mut shard_config = ShardConfig::new(
                config.protocol_id,
                config.private_key.clone(),
                public_of(&public, i),
            )
            .max_clients(config.max_clients_per_port)
            .requests_per_source(config.requests_per_source)
            .channels(config.channels.clone());
            if let Some(local) = server.local.get(usize::from(i)) {
                if public_of(&public, i) != *local {
                    // Clients may also address the port directly (a LAN, tests).
                    shard_config = shard_config.also_address(*local);
                }
            }
            for (transport, addrs) in (1..=u8::MAX).zip(&added) {
                shard_config = shard_config.transport_address(transport, public_of(addrs, i));
            }
            let shard = Shard::new(shard_config, now, clock, &mut OsRandom)?;
            let mut port = Port {
                index: i,
                poll,
                waker,
                transports: transport,
                shard,
                delivery: delivery(i),
                shared: shared.clone(),
            };
            port.register()
                .map_err(|source| BindError::Start { port: i, source })?;
            let thread = std::thread::Builder::new()
                .name(format!("berth-port-{i}"))
                .spawn(move || port.run())
                .map_err(|source| BindError::Start { port: i, source })?;
            server.threads.push(thread);
        }
        tracing::info!(ports, first = ?server.local.first(), "berth server started");
        Ok(server)
    }

    /// Connections, disconnections and messages, from every port (handle mode).
    ///
    /// The queue is bounded ([`ServerConfig::queue_len`]); when the
    /// application falls behind, ports drop events and count them in
    /// [`PortStats::events_dropped`].
    pub const fn events(&self) -> &Receiver<ServerEvent> {
        &self.events
    }

    /// Sends `bytes` to `peer` on `channel` from any thread. See [`ServerSender::send`].
    ///
    /// # Errors
    ///
    /// As [`ServerSender::send`].
    pub fn send(&self, peer: PeerId, channel: ChannelId, bytes: &[u8]) -> Result<(), SendError> {
        self.sender().send(peer, channel, bytes)
    }

    /// `peer`'s channel counters (RTT, loss, bytes in flight, resends) as
    /// its port last published them (about every 100 ms); `None` for a peer
    /// not connected then, or in raw mode.
    pub fn peer_stats(&self, peer: PeerId) -> Option<ConnectionStats> {
        let stats = self.shared.stats.get(usize::from(peer.port()))?.lock();
        let at = stats
            .peer_channels
            .binary_search_by(|(id, _)| id.cmp(&peer))
            .ok()?;
        stats.peer_channels.get(at).map(|(_, channel)| *channel)
    }

    /// Ends `peer`'s connection. See [`ServerSender::disconnect`].
    ///
    /// # Errors
    ///
    /// As [`ServerSender::send`].
    pub fn disconnect(&self, peer: PeerId) -> Result<(), SendError> {
        self.sender().disconnect(peer)
    }

    /// A handle that sends to peers from another thread; cheap to clone.
    pub fn sender(&self) -> ServerSender {
        ServerSender {
            shared: self.shared.clone(),
        }
    }

    /// A connect token for `client_id` that sends it to the least-loaded port.
    ///
    /// The token names every port (up to 32), least loaded first, and holds
    /// a place on the first until it expires.
    ///
    /// # Errors
    ///
    /// [`TokenError`] when the configured durations do not fit a token.
    pub fn issue_token(
        &self,
        client_id: u64,
        user_data: UserData,
    ) -> Result<ConnectToken, TokenError> {
        self.issue_token_via(0, client_id, user_data)
    }

    /// A connect token like [`Server::issue_token`] whose addresses are the
    /// ports' addresses on `transport`: 0 is their sockets, 1 the first
    /// transport added with [`ServerConfig::add_transport`], and so on.
    ///
    /// # Errors
    ///
    /// [`TokenError::NoServers`] for a transport the server does not have;
    /// otherwise as [`Server::issue_token`].
    pub fn issue_token_via(
        &self,
        transport: usize,
        client_id: u64,
        user_data: UserData,
    ) -> Result<ConnectToken, TokenError> {
        self.issuer
            .issue(&self.shared.placement, transport, client_id, user_data)
    }

    /// The addresses the ports are bound to, port 0 first.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local
    }

    /// The addresses tokens name, port 0 first.
    pub fn public_addrs(&self) -> &[SocketAddr] {
        self.transport_addrs(0).unwrap_or_default()
    }

    /// The addresses tokens name for `transport` (as in
    /// [`Server::issue_token_via`]), port 0 first; `None` for a transport
    /// the server does not have.
    pub fn transport_addrs(&self, transport: usize) -> Option<&[SocketAddr]> {
        self.issuer.public.get(transport).map(Vec::as_slice)
    }

    /// Whether port `port`'s thread is still running: false once its
    /// transport has failed (see [`ServerEvent::PortFailed`]), after
    /// [`Server::shutdown`], or for a port the server does not have.
    pub fn is_port_running(&self, port: u16) -> bool {
        self.threads
            .get(usize::from(port))
            .is_some_and(|thread| !thread.is_finished())
    }

    /// Connected plus reserved peers, per port.
    pub fn loads(&self) -> Vec<usize> {
        self.shared.placement.loads()
    }

    /// The latest counters of every port.
    pub fn stats(&self) -> Vec<PortStats> {
        self.shared.stats.iter().map(|s| s.lock().clone()).collect()
    }

    /// Disconnects every peer (each gets the redundant disconnect packets),
    /// stops the port threads and waits for them. Returns the final counters.
    pub fn shutdown(mut self) -> Vec<PortStats> {
        self.stop();
        self.stats()
    }

    fn stop(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        self.shared.shutdown.store(true, Ordering::Release);
        for mailbox in &self.shared.mailboxes {
            mailbox.wake();
        }
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                tracing::error!("a port thread panicked");
            }
        }
        tracing::info!("berth server stopped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn public_of(public: &[SocketAddr], port: u16) -> SocketAddr {
    public
        .get(usize::from(port))
        .copied()
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// Sends to a [`Server`]'s peers from any thread.
#[derive(Debug, Clone)]
pub struct ServerSender {
    shared: Arc<Shared>,
}

impl ServerSender {
    /// Sends `bytes` to `peer` on `channel`.
    ///
    /// The message is queued to the peer's port, which puts it on the
    /// peer's channel (or, in raw mode, seals it as one payload) on its
    /// next wake; a burst of sends costs one wake.
    ///
    /// # Errors
    ///
    /// [`SendError::UnknownChannel`] or [`SendError::BadLength`] when the
    /// channel or length does not suit the server's table (raw mode:
    /// [`ChannelId::RAW`], 1..=1200 bytes); [`SendError::QueueFull`] when
    /// the port is not keeping up; [`SendError::ShuttingDown`]. A peer that
    /// has left, or whose send budget is full, is found out on its port and
    /// the message dropped there (counted in
    /// [`PortStats::channel_send_refused`]).
    pub fn send(&self, peer: PeerId, channel: ChannelId, bytes: &[u8]) -> Result<(), SendError> {
        check_message(self.shared.table.as_ref(), channel, bytes)?;
        self.command(
            peer,
            Command::Send {
                peer,
                channel,
                bytes: self.shared.pool.copy_of(bytes),
                on_full: OnFull::Drop,
            },
        )
    }

    /// Ends `peer`'s connection; it gets the redundant disconnect packets.
    ///
    /// # Errors
    ///
    /// As [`ServerSender::send`].
    pub fn disconnect(&self, peer: PeerId) -> Result<(), SendError> {
        self.command(
            peer,
            Command::Disconnect {
                peer,
                too_slow: false,
            },
        )
    }

    fn command(&self, peer: PeerId, command: Command) -> Result<(), SendError> {
        if self.shared.shutdown.load(Ordering::Acquire) {
            return Err(SendError::ShuttingDown);
        }
        if !self.shared.placement.is_open(usize::from(peer.port())) {
            // Its port failed and disconnected everyone on it.
            return Err(SendError::Disconnected(peer));
        }
        let mailbox = self
            .shared
            .mailboxes
            .get(usize::from(peer.port()))
            .ok_or(SendError::Disconnected(peer))?;
        mailbox
            .push(command)
            .map_err(|_| SendError::QueueFull(peer.port()))
    }
}

/// User data of all zeros, for tokens that carry none.
pub const NO_USER_DATA: UserData = [0; USER_DATA_LEN];
