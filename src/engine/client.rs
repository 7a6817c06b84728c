//! A non-blocking client endpoint for game loops.

use super::batch::{RecvBatch, SendBatch};
use super::memory::MemoryNetwork;
use super::socket;
use super::transport::Transport;
use crate::proto::client::{Client as Proto, ClientState, SendError as ProtoSendError};
use crate::wire::connect_token::ConnectToken;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

/// Most received messages held between two [`Client::recv`] drains; past
/// it, new ones are dropped and counted.
const INBOX_LEN: usize = 4096;
/// Kernel buffer size for a client socket.
const BUFFER_LEN: usize = 1 << 20;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The socket could not be opened, bound or used.
    #[error("client socket error")]
    Io(#[from] io::Error),
    /// The client is not connected, or the message is not 1..=1200 bytes.
    #[error(transparent)]
    Send(#[from] ProtoSendError),
}

/// A netcode.io client with its own UDP socket, driven by [`Client::update`].
///
/// It needs no thread: call `update` from the game loop (every frame, or at
/// least every 100 ms), read messages with [`Client::recv`], and send with
/// [`Client::send`].
///
/// # Examples
///
/// ```no_run
/// use berth::engine::Client;
/// use std::time::Instant;
///
/// # let token_bytes = [0u8; 2048];
/// let mut client = Client::bind("0.0.0.0:0".parse().unwrap()).unwrap();
/// client.connect_bytes(Instant::now(), &token_bytes);
/// loop {
///     client.update(Instant::now());
///     while let Some(message) = client.recv() {
///         println!("{} bytes", message.len());
///     }
///     if client.is_connected() {
///         client.send(Instant::now(), b"input").unwrap();
///     }
/// #   break;
/// }
/// ```
#[derive(Debug)]
pub struct Client {
    transport: Transport,
    proto: Proto,
    recv: RecvBatch,
    send: SendBatch,
    inbox: VecDeque<Vec<u8>>,
    dropped: u64,
}

impl Client {
    /// Opens a client socket at `bind` (say `0.0.0.0:0`; use an IPv6
    /// address to reach IPv6 servers).
    ///
    /// # Errors
    ///
    /// [`ClientError::Io`] when the socket cannot be bound.
    pub fn bind(bind: SocketAddr) -> Result<Self, ClientError> {
        Ok(Self::with_transport(Transport::udp(socket::bind(
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
        Ok(Self::with_transport(Transport::Memory(network.bind(bind)?)))
    }

    fn with_transport(transport: Transport) -> Self {
        Self {
            transport,
            proto: Proto::new(),
            recv: RecvBatch::new(),
            send: SendBatch::new(),
            inbox: VecDeque::new(),
            dropped: 0,
        }
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
            let (proto, inbox, dropped) = (&mut self.proto, &mut self.inbox, &mut self.dropped);
            self.recv.for_each(|from, bytes| {
                if let Some(message) = proto.handle_datagram(now, from, bytes) {
                    if inbox.len() < INBOX_LEN {
                        inbox.push_back(message.to_vec());
                    } else {
                        *dropped += 1;
                    }
                }
            });
        }
        self.proto.update(now, &mut self.send);
        self.flush(now);
    }

    /// Sends a message to the server now.
    ///
    /// # Errors
    ///
    /// [`ClientError::Send`] when not connected or the message is not
    /// 1..=1200 bytes.
    pub fn send(&mut self, now: Instant, bytes: &[u8]) -> Result<(), ClientError> {
        self.proto.send(now, bytes, &mut self.send)?;
        self.flush(now);
        Ok(())
    }

    /// The next message from the server, oldest first.
    pub fn recv(&mut self) -> Option<Vec<u8>> {
        self.inbox.pop_front()
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

    /// Messages dropped because the inbox was full.
    pub const fn dropped(&self) -> u64 {
        self.dropped
    }

    fn flush(&mut self, now: Instant) {
        if self.send.pending() > 0 {
            if let Err(e) = self.transport.send(now, &mut self.send) {
                tracing::debug!(error = %e, "client send failed");
            }
        }
    }
}
