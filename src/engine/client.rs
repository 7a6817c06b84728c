//! A non-blocking client endpoint for game loops.

use super::memory::MemoryNetwork;
use super::transport::{RecvBatch, SendBatch, Transport, UdpTransport};
use crate::proto::channel::{self, ChannelId, ChannelTable, Connection, ConnectionStats, Message};
use crate::proto::client::{Client as Proto, ClientState, SendError as ProtoSendError};
use crate::wire::connect_token::ConnectToken;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

/// Most raw-mode messages held between two [`Client::recv`] drains; past
/// it, new ones are dropped and counted. (Channel mode holds messages in
/// the channel layer, bounded by the table's budget.)
const INBOX_LEN: usize = 4096;
/// Kernel buffer size for a client socket.
const BUFFER_LEN: usize = 1 << 20;
/// Most packets written per [`Client::update`] or [`Client::flush`].
const MAX_PACKETS_PER_FLUSH: usize = 64;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The socket could not be opened, bound or used.
    #[error("client socket error")]
    Io(#[from] io::Error),
    /// Raw mode: not connected, or the message is not 1..=1200 bytes.
    #[error(transparent)]
    Send(#[from] ProtoSendError),
    /// Channel mode: unknown channel, message too large, or the send budget
    /// is full (the server is not acking fast enough).
    #[error(transparent)]
    Channel(#[from] channel::SendError),
}

/// A netcode.io client with its own UDP socket, driven by [`Client::update`].
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
    proto: Proto,
    recv: RecvBatch,
    send: SendBatch,
    /// `None` in raw mode.
    table: Option<ChannelTable>,
    /// The channels of the current connection (channel mode).
    connection: Option<Connection>,
    /// Raw-mode messages.
    inbox: VecDeque<Message>,
    dropped: u64,
    refused: u64,
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
            proto: Proto::new(),
            recv: RecvBatch::new(),
            send: SendBatch::new(),
            table: Some(ChannelTable::standard()),
            connection: None,
            inbox: VecDeque::new(),
            dropped: 0,
            refused: 0,
        }
    }

    /// Uses `table`'s channels; it must be the server's. Takes effect from
    /// the next connection.
    #[must_use]
    pub fn channels(mut self, table: ChannelTable) -> Self {
        self.table = Some(table);
        self
    }

    /// Raw mode: each message is one netcode payload, as plain netcode.io
    /// servers expect. Takes effect from the next connection.
    #[must_use]
    pub fn raw(mut self) -> Self {
        self.table = None;
        self
    }

    /// Starts connecting with `token`.
    pub fn connect(&mut self, now: Instant, token: ConnectToken) {
        self.connection = None;
        self.proto.connect(now, token);
    }

    /// Starts connecting with a token's 2048 bytes; an unreadable token
    /// shows as [`ClientState::InvalidConnectToken`].
    pub fn connect_bytes(&mut self, now: Instant, token: &[u8]) {
        self.connection = None;
        self.proto.connect_bytes(now, token);
    }

    /// Receives what arrived, runs timers, and sends what is due.
    pub fn update(&mut self, now: Instant) {
        loop {
            match self.transport.recv(now, &mut self.recv) {
                Ok(count) if count.datagrams > 0 => {}
                Ok(_) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "client receive failed");
                    break;
                }
            }
            let Self {
                proto,
                recv,
                table,
                connection,
                inbox,
                dropped,
                refused,
                ..
            } = self;
            recv.for_each(|from, bytes| {
                let Some(payload) = proto.handle_datagram(now, from, bytes) else {
                    return;
                };
                match table {
                    None if inbox.len() < INBOX_LEN => inbox.push_back(Message {
                        channel: ChannelId::RAW,
                        bytes: payload.bytes.to_vec(),
                    }),
                    None => *dropped += 1,
                    Some(table) => {
                        let connection =
                            connection.get_or_insert_with(|| Connection::new(table.clone()));
                        if let Err(error) =
                            connection.read_packet(now, payload.sequence, payload.bytes)
                        {
                            *refused += 1;
                            tracing::debug!(%error, "payload refused by the channel layer");
                        }
                    }
                }
            });
        }
        self.proto.update(now, &mut self.send);
        if self.is_connected() {
            if let (Some(table), None) = (&self.table, &self.connection) {
                self.connection = Some(Connection::new(table.clone()));
            }
        } else {
            self.connection = None;
        }
        self.flush(now);
    }

    /// Sends `bytes` on `channel`: queued for the next [`Client::update`] or
    /// [`Client::flush`] in channel mode; sent now in raw mode, where the
    /// channel must be [`ChannelId::RAW`].
    ///
    /// # Errors
    ///
    /// [`ClientError::Channel`] in channel mode (not connected, unknown
    /// channel, too large, budget full); [`ClientError::Send`] in raw mode
    /// (not connected, not 1..=1200 bytes).
    pub fn send(
        &mut self,
        now: Instant,
        channel: ChannelId,
        bytes: &[u8],
    ) -> Result<(), ClientError> {
        if self.table.is_none() {
            if channel != ChannelId::RAW {
                return Err(channel::SendError::UnknownChannel(channel).into());
            }
            self.proto.send(now, bytes, &mut self.send)?;
            self.flush(now);
            return Ok(());
        }
        self.connection
            .as_mut()
            .ok_or(channel::SendError::Disconnected)?
            .send(channel, bytes)?;
        Ok(())
    }

    /// Writes and sends what the channels have queued, now.
    pub fn flush(&mut self, now: Instant) {
        if let Some(connection) = &mut self.connection {
            for _ in 0..MAX_PACKETS_PER_FLUSH {
                if !connection.wants_to_send(now) {
                    break;
                }
                let written = self
                    .proto
                    .send_with(now, &mut self.send, &mut |sequence, buf| {
                        connection.write_packet(now, sequence, buf)
                    });
                if !matches!(written, Ok(len) if len > 0) {
                    break;
                }
            }
        }
        if self.send.pending() > 0 {
            if let Err(e) = self.transport.send(now, &mut self.send) {
                tracing::debug!(error = %e, "client send failed");
            }
        }
    }

    /// The next message from the server, oldest first.
    pub fn recv(&mut self) -> Option<Message> {
        match &mut self.connection {
            Some(connection) => connection.recv(),
            None => self.inbox.pop_front(),
        }
    }

    /// Ends the connection (the server gets the redundant disconnect packets).
    pub fn disconnect(&mut self, now: Instant) {
        self.proto.disconnect(&mut self.send);
        self.connection = None;
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

    /// Raw-mode messages dropped because the inbox was full.
    pub const fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Payloads the channel layer refused (bad frames, over budget).
    pub const fn refused(&self) -> u64 {
        self.refused
    }

    /// The channel counters of the current connection (RTT, loss, bytes in
    /// flight, resends); `None` when not connected or in raw mode.
    pub fn channel_stats(&self) -> Option<ConnectionStats> {
        self.connection.as_ref().map(Connection::stats)
    }
}
