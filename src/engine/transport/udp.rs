//! The kernel UDP socket as a [`Transport`], batched.

use super::{IoCount, RecvBatch, Registration, SendBatch, Transport};
use crate::engine::batch::{self, SocketState};
use crate::engine::socket;
use mio::Interest;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

/// A non-blocking UDP socket with what the kernel can batch for it
/// (`recvmmsg`/`sendmmsg`, GSO and GRO on Linux, learned at run time).
///
/// What every port serves unless the server runs in memory; add more with
/// [`crate::engine::ServerConfig::add_transport`] (say, a second address
/// family).
#[derive(Debug)]
pub struct UdpTransport {
    socket: mio::net::UdpSocket,
    state: SocketState,
}

impl UdpTransport {
    /// Binds a non-blocking socket at `addr` with `buffer_len`-byte kernel
    /// send and receive buffers (the OS may cap them), and probes its
    /// batching features.
    ///
    /// # Errors
    ///
    /// What the OS says when the socket cannot be opened or bound.
    pub fn bind(addr: SocketAddr, buffer_len: usize) -> io::Result<Self> {
        Ok(Self::new(socket::bind(addr, buffer_len)?))
    }

    pub(crate) fn new(socket: mio::net::UdpSocket) -> Self {
        let state = SocketState::new(&socket);
        Self { socket, state }
    }
}

impl Transport for UdpTransport {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    fn register(&mut self, registration: &Registration<'_>) -> io::Result<()> {
        registration
            .registry()
            .register(&mut self.socket, registration.token(), Interest::READABLE)
    }

    fn recv(&mut self, _now: Instant, into: &mut RecvBatch) -> io::Result<IoCount> {
        match batch::recv(&self.socket, &self.state, into) {
            Err(e) if !batch::is_socket_broken(&e) => {
                tracing::debug!(error = %e, "receive failed");
                Ok(IoCount::default())
            }
            result => result,
        }
    }

    fn send(&mut self, _now: Instant, from: &mut SendBatch) -> io::Result<IoCount> {
        batch::send(&self.socket, &self.state, from)
    }

    /// Writability is wanted only while sends are held back: otherwise
    /// every send's buffer release raises a WRITABLE edge and an idle wake.
    fn want_writable(&mut self, registration: &Registration<'_>, on: bool) -> io::Result<()> {
        let interest = if on {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        registration
            .registry()
            .reregister(&mut self.socket, registration.token(), interest)
    }

    fn enable_arrival_times(&mut self) -> bool {
        self.state.enable_arrival_times(&self.socket)
    }
}
