//! A non-blocking client endpoint for game loops.

use super::memory::MemoryNetwork;
use super::transport::{RecvBatch, Registration, SendBatch, Transport, UdpTransport};
use crate::proto::Outbox;
use crate::proto::SendError;
use crate::proto::channel::{ChannelId, ChannelTable, ConnectionStats, Message};
use crate::proto::client::{ClientSession, ClientState};
use crate::sync::Arc;
use crate::wire::connect_token::ConnectToken;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

/// Kernel buffer size for a client socket.
const BUFFER_LEN: usize = 1 << 20;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The socket could not be opened, bound or used.
    #[error("client socket error")]
    Io(#[from] io::Error),
    /// Not connected, an unknown channel, a message too large (raw mode:
    /// not 1..=1200 bytes), or a full send budget (the server is not
    /// acking fast enough).
    #[error(transparent)]
    Send(#[from] SendError),
}

/// A netcode.io client with its own UDP socket, driven by [`Client::update`]:
/// the protocol's [`ClientSession`] on a transport.
///
/// It needs no thread: call `update` from the game loop (every frame, or at
/// least every 100 ms), read messages with [`Client::recv`], and send with
/// [`Client::send`].
///
/// By default it speaks channel mode with [`ChannelTable::standard`], like a
/// default [`crate::engine::Server`]; [`Client::channels`] sets another
/// table and [`Client::raw`] switches to raw netcode payloads. In channel
/// mode `send` queues and `update` (or `flush`) writes packets, so the
/// messages of one frame share packets.
///
/// # Examples
///
/// ```no_run
/// use berth::engine::Client;
/// use berth::proto::channel::standard;
/// use std::time::Instant;
///
/// # let token_bytes = [0u8; 2048];
/// let mut client = Client::bind("0.0.0.0:0".parse().unwrap()).unwrap();
/// client.connect_bytes(Instant::now(), &token_bytes);
/// loop {
///     client.update(Instant::now());
///     while let Some(message) = client.recv() {
///         println!("{} bytes on {}", message.bytes.len(), message.channel);
///     }
///     if client.is_connected() {
///         client.send(Instant::now(), standard::UNRELIABLE, b"input").unwrap();
///     }
/// #   break;
/// }
/// ```
#[derive(Debug)]
pub struct Client {
    transport: Box<dyn Transport>,
    proto: ClientSession,
    recv: RecvBatch,
    send: SendBatch,
    /// The poll [`Client::wait`] sleeps on, made on first use.
    sleeper: Option<Sleeper>,
}

/// A poll the client's transport is registered with.
#[derive(Debug)]
struct Sleeper {
    poll: mio::Poll,
    events: mio::Events,
    /// Rung by transports without a file descriptor; kept alive here.
    _waker: Arc<mio::Waker>,
}

impl Sleeper {
    fn new(transport: &mut dyn Transport) -> io::Result<Self> {
        let poll = mio::Poll::new()?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0))?);
        transport.register(&Registration::new(poll.registry(), mio::Token(1), &waker))?;
        Ok(Self {
            poll,
            events: mio::Events::with_capacity(4),
            _waker: waker,
        })
    }
}

impl Client {
    /// Opens a client socket at `bind` (say `0.0.0.0:0`; use an IPv6
    /// address to reach IPv6 servers).
    ///
    /// # Errors
    ///
    /// [`ClientError::Io`] when the socket cannot be bound.
    pub fn bind(bind: SocketAddr) -> Result<Self, ClientError> {
        Ok(Self::with_transport(Box::new(UdpTransport::bind(
            bind, BUFFER_LEN,
        )?)))
    }

    /// Opens a client socket at `bind` on an in-memory network (port 0
    /// picks a free one), to reach a server started with
    /// [`crate::engine::ServerConfig::in_memory`].
    ///
    /// # Errors
    ///
    /// [`ClientError::Io`] when `bind` is taken on that network.
    pub fn bind_in_memory(network: &MemoryNetwork, bind: SocketAddr) -> Result<Self, ClientError> {
        Ok(Self::with_transport(Box::new(network.bind(bind)?)))
    }

    /// A client that sends and receives through `transport`, polled from
    /// [`Client::update`] (it is never registered with a poll).
    pub fn with_transport(transport: Box<dyn Transport>) -> Self {
        Self {
            transport,
            proto: ClientSession::new().channels(Some(ChannelTable::standard())),
            recv: RecvBatch::new(),
            send: SendBatch::new(),
            sleeper: None,
        }
    }

    /// Uses `table`'s channels; it must be the server's. Takes effect from
    /// the next connection.
    #[must_use]
    pub fn channels(mut self, table: ChannelTable) -> Self {
        self.proto = self.proto.channels(Some(table));
        self
    }

    /// Uses `protocol`'s channel table (see [`crate::Protocol`]); its id is
    /// in the tokens the client is given. Takes effect from the next
    /// connection.
    #[must_use]
    pub fn protocol(self, protocol: &crate::Protocol) -> Self {
        self.channels(protocol.table().clone())
    }

    /// Raw mode: each message is one netcode payload, as plain netcode.io
    /// servers expect. Takes effect from the next connection.
    #[must_use]
    pub fn raw(mut self) -> Self {
        self.proto = self.proto.channels(None);
        self
    }

    /// Starts connecting with `token`.
    pub fn connect(&mut self, now: Instant, token: ConnectToken) {
        self.proto.connect(now, token);
    }

    /// Starts connecting with a token's 2048 bytes; an unreadable token
    /// shows as [`ClientState::InvalidConnectToken`].
    pub fn connect_bytes(&mut self, now: Instant, token: &[u8]) {
        self.proto.connect_bytes(now, token);
    }

    /// Receives what arrived, runs timers, and sends what is due:
    /// [`Client::receive`] then [`Client::flush`].
    pub fn update(&mut self, now: Instant) {
        self.receive(now);
        self.flush(now);
    }

    /// Receives what arrived and runs timers, sending nothing: what they
    /// produce (acks, keep-alives, handshake packets) waits for the next
    /// [`Client::flush`]. For a game loop that reads at the start of a
    /// frame and writes at its end (receive, send, flush), so the frame's
    /// messages carry the acks in one packet.
    pub fn receive(&mut self, now: Instant) {
        self.receive_with(now, |_, _, _| {});
    }

    /// Receives like [`Client::receive`], handing each datagram that did
    /// not come from the server to `other`, with the client's outbox for
    /// any answer (sent on the next [`Client::flush`]). What shares the
    /// client's socket with its server connection, such as the relay
    /// client's direct paths to other players, reads its datagrams here.
    pub fn receive_with(
        &mut self,
        now: Instant,
        mut other: impl FnMut(SocketAddr, &mut [u8], &mut dyn Outbox),
    ) {
        loop {
            match self.transport.recv(now, &mut self.recv) {
                Ok(count) if count.datagrams > 0 => {}
                Ok(_) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "client receive failed");
                    break;
                }
            }
            let (proto, send) = (&mut self.proto, &mut self.send);
            let server = proto.server_address();
            self.recv.for_each(|from, bytes| {
                if Some(from) == server {
                    proto.handle_datagram(now, from, bytes);
                } else {
                    other(from, bytes, send);
                }
            });
        }
        self.proto.update(now, &mut self.send);
    }

    /// Sleeps until a datagram arrives, the client's next timer
    /// ([`Client::next_update`]) or `until`, whichever comes first; then
    /// call [`Client::update`]. For loops with nothing else to do between
    /// frames (bots, headless clients, tools), in place of spinning or a
    /// fixed sleep. The first call registers the transport with a poll of
    /// the client's own.
    ///
    /// # Errors
    ///
    /// [`ClientError::Io`] when the poll cannot be made or registered.
    pub fn wait(&mut self, until: Instant) -> Result<(), ClientError> {
        if self.sleeper.is_none() {
            self.sleeper = Some(Sleeper::new(self.transport.as_mut())?);
        }
        let now = Instant::now();
        let mut wake_at = until.min(self.next_update(now));
        if let Some(arrival) = self.transport.next_arrival() {
            wake_at = wake_at.min(arrival);
        }
        let Some(sleeper) = &mut self.sleeper else {
            return Ok(());
        };
        let timeout = wake_at.saturating_duration_since(now);
        match sleeper.poll.poll(&mut sleeper.events, Some(timeout)) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// When [`Client::update`] next has timer work: a handshake packet, a
    /// keep-alive, a timeout, a resend or an owed ack.
    pub fn next_update(&self, now: Instant) -> Instant {
        self.proto.next_update(now)
    }

    /// Sends `bytes` on `channel`: queued for the next [`Client::update`] or
    /// [`Client::flush`] in channel mode; sent now in raw mode, where the
    /// channel must be [`ChannelId::RAW`].
    ///
    /// # Errors
    ///
    /// [`ClientError::Send`]: not connected, an unknown channel, a
    /// message too large (raw: not 1..=1200 bytes), or a full budget.
    pub fn send(
        &mut self,
        now: Instant,
        channel: ChannelId,
        bytes: &[u8],
    ) -> Result<(), ClientError> {
        self.proto.send(now, channel, bytes, &mut self.send)?;
        if self.proto.is_raw() {
            self.flush(now);
        }
        Ok(())
    }

    /// Where datagrams to other addresses than the server are queued, to go
    /// out from the client's socket on the next [`Client::flush`].
    pub fn outbox(&mut self) -> &mut dyn Outbox {
        &mut self.send
    }

    /// Writes and sends what the channels have queued, now.
    pub fn flush(&mut self, now: Instant) {
        self.proto.poll_transmit(now, &mut self.send);
        if self.send.pending() > 0 {
            if let Err(e) = self.transport.send(now, &mut self.send) {
                tracing::debug!(error = %e, "client send failed");
            }
        }
    }

    /// The next message from the server, oldest first.
    pub fn recv(&mut self) -> Option<Message> {
        self.proto.recv()
    }

    /// Ends the connection (the server gets the redundant disconnect packets).
    pub fn disconnect(&mut self, now: Instant) {
        self.proto.disconnect(&mut self.send);
        self.flush(now);
    }

    /// Where the connection is, with the reference's numeric codes.
    pub const fn state(&self) -> ClientState {
        self.proto.state()
    }

    /// Whether the client is connected.
    pub fn is_connected(&self) -> bool {
        self.state() == ClientState::Connected
    }

    /// The addresses the current token names, in its order.
    pub fn server_addresses(&self) -> &[SocketAddr] {
        self.proto.server_addresses()
    }

    /// The server being tried or used.
    pub fn server_addr(&self) -> Option<SocketAddr> {
        self.proto.server_address()
    }

    /// The local address of the client's socket.
    ///
    /// # Errors
    ///
    /// As the OS's `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.transport.local_addr()
    }

    /// When a datagram on its way to an in-memory client arrives; a game
    /// loop driven by a fake clock may jump there. `None` over UDP.
    pub fn next_arrival(&self) -> Option<Instant> {
        self.transport.next_arrival()
    }

    /// Raw-mode messages dropped because too many were held unread.
    pub const fn dropped(&self) -> u64 {
        self.proto.counters().raw_dropped
    }

    /// Payloads the channel layer refused (bad frames, over budget).
    pub const fn refused(&self) -> u64 {
        self.proto.counters().channel_refused
    }

    /// The channel counters of the current connection (RTT, loss, bytes in
    /// flight, resends); `None` when not connected or in raw mode.
    pub fn channel_stats(&self) -> Option<ConnectionStats> {
        self.proto.channel_stats()
    }
}

/// A client can live in anything that needs `Send + Sync` (a game
/// engine's resource, a static): checked at compile time.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Client>();
    shareable::<crate::engine::Server>();
};
