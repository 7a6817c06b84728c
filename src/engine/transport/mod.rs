//! What a port or client sends through: the [`Transport`] trait, and its
//! two built-in implementations, [`UdpTransport`] (a kernel UDP socket,
//! batched) and [`MemorySocket`] (a socket on a
//! [`crate::engine::MemoryNetwork`]).
//!
//! A transport moves netcode datagrams, byte for byte what UDP carries,
//! and names each peer by a [`SocketAddr`]: the address its datagrams come
//! from, which the port's protocol shard keys its connections on. One port
//! thread may serve several transports at once
//! ([`crate::engine::ServerConfig::add_transport`]); they share the port's
//! shard, its peers and its placement, and each peer's replies leave
//! through the transport its handshake came in on.
//!
//! # Implementing a transport
//!
//! The port calls [`Transport::register`] once, before the server starts,
//! then on every wake [`Transport::recv`] until it reports
//! [`IoCount::drained`] (or a batch comes back empty), and
//! [`Transport::send`] with what the port has to send. A transport over a
//! file descriptor registers it with the port's poll; any other (a queue
//! filled by another thread, a QUIC session's datagrams) keeps the
//! [`PortWaker`] and wakes the port when datagrams arrive.
//!
//! The in-memory socket is the smallest complete example: it fills the
//! receive batch with [`RecvBatch::push`], empties the send batch with
//! [`SendBatch::drain`], and wakes the port through its network:
//!
//! ```
//! use berth::engine::transport::{IoCount, PortWaker, RecvBatch, Registration, SendBatch, Sent, Transport};
//! use std::collections::VecDeque;
//! use std::net::SocketAddr;
//! use std::sync::{Arc, Mutex};
//! use std::time::Instant;
//!
//! /// Datagrams that another thread (a QUIC or WebSocket task, say) queues.
//! #[derive(Debug, Default)]
//! struct Queues {
//!     inbound: VecDeque<(SocketAddr, Vec<u8>)>,
//!     outbound: Vec<(SocketAddr, Vec<u8>)>,
//!     waker: Option<PortWaker>,
//! }
//!
//! #[derive(Debug)]
//! struct QueueTransport {
//!     addr: SocketAddr,
//!     queues: Arc<Mutex<Queues>>,
//! }
//!
//! impl Transport for QueueTransport {
//!     fn local_addr(&self) -> std::io::Result<SocketAddr> {
//!         Ok(self.addr)
//!     }
//!
//!     fn register(&mut self, registration: &Registration<'_>) -> std::io::Result<()> {
//!         // The other thread calls `wake()` after queueing inbound datagrams.
//!         self.queues.lock().unwrap().waker = Some(registration.waker());
//!         Ok(())
//!     }
//!
//!     fn recv(&mut self, _now: Instant, into: &mut RecvBatch) -> std::io::Result<IoCount> {
//!         into.clear();
//!         let mut count = IoCount::default();
//!         count.syscalls = 1;
//!         let mut queues = self.queues.lock().unwrap();
//!         while into.len() < RecvBatch::CAPACITY {
//!             let Some((from, bytes)) = queues.inbound.pop_front() else { break };
//!             into.push(from, &bytes);
//!             count.datagrams += 1;
//!             count.bytes += bytes.len() as u64;
//!         }
//!         count.drained = queues.inbound.is_empty();
//!         Ok(count)
//!     }
//!
//!     fn send(&mut self, _now: Instant, from: &mut SendBatch) -> std::io::Result<IoCount> {
//!         let mut queues = self.queues.lock().unwrap();
//!         let mut count = from.drain(|to, bytes| {
//!             queues.outbound.push((to, bytes.to_vec()));
//!             Sent::Sent
//!         });
//!         count.syscalls = 1;
//!         Ok(count)
//!     }
//! }
//! # let _ = QueueTransport { addr: "10.9.0.1:1".parse().unwrap(), queues: Arc::default() };
//! ```

mod memory;
mod udp;

pub use super::batch::{IoCount, RecvBatch, SendBatch, Sent};
pub use super::memory::MemorySocket;
/// The mio berth builds on, for transports to register with
/// [`Registration::registry`] in the same version.
pub use mio;
pub use udp::UdpTransport;

use crate::sync::Arc;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

/// A datagram endpoint a port's thread (or a [`crate::engine::Client`])
/// sends and receives through. See the [module docs](self) for the
/// contract and an example.
///
/// `Sync` too, so a client or server holding one can sit where shared data
/// must (a game engine's resources); the engine still calls it from one
/// thread at a time, the port's, and calls never block: a transport
/// that cannot take more datagrams now leaves them queued in the batch
/// ([`Sent::Later`]), and one with nothing to hand over returns an empty
/// batch.
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// The address the transport is bound to: what tokens name for it,
    /// unless the server is configured with a public address.
    ///
    /// # Errors
    ///
    /// When the OS cannot say (a closed socket).
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// Makes the port's poll wake when datagrams arrive: a file descriptor
    /// is registered with [`Registration::registry`] under
    /// [`Registration::token`]; anything else keeps
    /// [`Registration::waker`]. Called once, before the server's `bind`
    /// returns, so an error here is `bind`'s.
    ///
    /// # Errors
    ///
    /// When the registration fails.
    fn register(&mut self, registration: &Registration<'_>) -> io::Result<()>;

    /// Replaces what `into` holds with what has arrived by `now`, at most
    /// [`RecvBatch::CAPACITY`] datagrams, each with the address of the
    /// peer that sent it.
    ///
    /// # Errors
    ///
    /// Only when the transport cannot go on: the port then stops and
    /// disconnects its peers. A failure a later call may not see (an ICMP
    /// error, a lack of buffers) is logged and reads as an empty batch.
    fn recv(&mut self, now: Instant, into: &mut RecvBatch) -> io::Result<IoCount>;

    /// Sends what `from` holds as of `now`; what the transport cannot take
    /// now stays queued for the next call.
    ///
    /// # Errors
    ///
    /// Only when the transport cannot go on, as [`Transport::recv`]; a
    /// datagram refused on its own is dropped and counted instead.
    fn send(&mut self, now: Instant, from: &mut SendBatch) -> io::Result<IoCount>;

    /// Asks the poll to wake also when the transport can take datagrams
    /// again (`on`), or only for arrivals. The port turns it on only while
    /// sends are held back. Default: nothing to do.
    ///
    /// # Errors
    ///
    /// When the registration cannot be changed.
    fn want_writable(&mut self, registration: &Registration<'_>, on: bool) -> io::Result<()> {
        let _ = (registration, on);
        Ok(())
    }

    /// When a datagram still on its way becomes receivable, for a
    /// transport that knows (the in-memory network's delays). Default:
    /// `None`, the transport wakes the port itself.
    fn next_arrival(&self) -> Option<Instant> {
        None
    }

    /// Has each received datagram stamped with its arrival time (for
    /// [`crate::engine::PortStats::dwell`]); returns whether it is on.
    /// Default: off.
    fn enable_arrival_times(&mut self) -> bool {
        false
    }
}

/// What a transport registers with: the port's poll and its waker.
#[derive(Debug)]
pub struct Registration<'a> {
    registry: &'a mio::Registry,
    token: mio::Token,
    waker: &'a Arc<mio::Waker>,
}

impl<'a> Registration<'a> {
    /// What a transport registers with: `registry` under `token`, and
    /// `waker` for transports without a file descriptor.
    pub const fn new(
        registry: &'a mio::Registry,
        token: mio::Token,
        waker: &'a Arc<mio::Waker>,
    ) -> Self {
        Self {
            registry,
            token,
            waker,
        }
    }

    /// The port's poll, to register a file descriptor with.
    pub const fn registry(&self) -> &mio::Registry {
        self.registry
    }

    /// The token to register under.
    pub const fn token(&self) -> mio::Token {
        self.token
    }

    /// A handle that wakes the port's thread, for a transport whose
    /// datagrams arrive some way the poll cannot see.
    pub fn waker(&self) -> PortWaker {
        PortWaker(self.waker.clone())
    }
}

/// Wakes a port's thread so that it calls [`Transport::recv`]; cheap to
/// clone, and usable from any thread.
#[derive(Debug, Clone)]
pub struct PortWaker(Arc<mio::Waker>);

impl PortWaker {
    /// Wakes the port. A failure (the port's poll is gone: the server has
    /// stopped) is ignored.
    pub fn wake(&self) {
        if let Err(e) = self.0.wake() {
            tracing::trace!(error = %e, "port wake failed");
        }
    }
}
