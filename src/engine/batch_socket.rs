//! Batched raw UDP, for tools that move many datagrams without the protocol.

use super::batch::{self, RecvBatch, SendBatch, SocketState};
use super::socket;
use crate::proto::Outbox;
use std::io;
use std::net::SocketAddr;

/// A non-blocking UDP socket that sends and receives in batches: many
/// datagrams per syscall where the OS allows (`sendmmsg`/`recvmmsg`, UDP
/// GSO and GRO on Linux), one at a time elsewhere.
///
/// The engine's ports use the same machinery. This handle serves load
/// generators, benchmarks' raw-UDP floors and tools; it does not speak
/// netcode.
///
/// # Examples
///
/// ```
/// use berth::engine::BatchSocket;
///
/// let mut a = BatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
/// let mut b = BatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
/// let to = b.local_addr().unwrap();
/// for i in 0..10u8 {
///     a.queue(to, &[i; 100]);
/// }
/// a.flush().unwrap();
/// let mut got = 0;
/// while got < 10 {
///     b.recv(|_, bytes| { assert_eq!(bytes.len(), 100); got += 1; }).unwrap();
/// }
/// ```
#[derive(Debug)]
pub struct BatchSocket {
    socket: mio::net::UdpSocket,
    state: SocketState,
    recv: RecvBatch,
    send: SendBatch,
    drained: bool,
}

impl BatchSocket {
    /// Binds a non-blocking socket at `addr` with 4 MiB kernel buffers.
    ///
    /// # Errors
    ///
    /// What the OS says when the socket cannot be opened or bound.
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        let socket = socket::bind(addr, 4 << 20)?;
        let state = SocketState::new(&socket);
        Ok(Self {
            socket,
            state,
            recv: RecvBatch::new(),
            send: SendBatch::new(),
            drained: false,
        })
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// As the OS's `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Queues a datagram of at most 1225 bytes for the next [`BatchSocket::flush`];
    /// longer ones are cut to 1225.
    pub fn queue(&mut self, to: SocketAddr, bytes: &[u8]) {
        self.send.push(to, &mut |buf| {
            let len = bytes.len().min(buf.len());
            if let (Some(dst), Some(src)) = (buf.get_mut(..len), bytes.get(..len)) {
                dst.copy_from_slice(src);
            }
            len
        });
    }

    /// Sends queued datagrams until none are left or the socket buffer is
    /// full; returns how many went. The rest stay queued.
    ///
    /// # Errors
    ///
    /// What the OS says, except "would block".
    pub fn flush(&mut self) -> io::Result<u64> {
        if self.send.pending() == 0 {
            return Ok(0);
        }
        batch::send(&self.socket, &self.state, &mut self.send).map(|c| c.datagrams)
    }

    /// Datagrams queued and not yet sent.
    pub fn pending(&self) -> usize {
        self.send.pending()
    }

    /// Receives one batch, handing each datagram to `each`; returns how many
    /// arrived (0 when none were waiting).
    ///
    /// # Errors
    ///
    /// What the OS says, except "would block".
    pub fn recv(&mut self, mut each: impl FnMut(SocketAddr, &mut [u8])) -> io::Result<u64> {
        let count = batch::recv(&self.socket, &self.state, &mut self.recv)?;
        self.drained = count.drained;
        self.recv.for_each(&mut each);
        Ok(count.datagrams)
    }

    /// Whether the last [`BatchSocket::recv`] found the socket's queue empty
    /// before its batch was full, so calling again now would find nothing.
    ///
    /// A loop that sleeps on the socket's readiness (mio, epoll; edge
    /// triggered) can then wait instead of making one more receive syscall
    /// to see "would block", as the engine's ports do. Only Linux's batched
    /// path knows this; elsewhere it is `false`, and a receive returning 0
    /// is the sign.
    pub fn drained(&self) -> bool {
        self.drained
    }
}

/// The socket's descriptor, to register it with a readiness poll (for
/// mio, through `mio::unix::SourceFd`). Receive and send through the
/// [`BatchSocket`] only.
#[cfg(unix)]
impl std::os::fd::AsRawFd for BatchSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.socket.as_raw_fd()
    }
}
