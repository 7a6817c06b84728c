//! What a port or client sends through: a UDP socket, or an in-memory one.

use super::batch::{self, IoCount, RecvBatch, SendBatch, SocketState};
use super::memory::MemorySocket;
use crate::sync::Arc;
use mio::{Interest, Registry, Token};
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

/// A port's or client's datagram endpoint.
#[derive(Debug)]
pub(crate) enum Transport {
    /// A kernel UDP socket, with what the kernel can batch for it.
    Udp {
        socket: mio::net::UdpSocket,
        state: SocketState,
    },
    /// A socket on a [`crate::engine::MemoryNetwork`].
    Memory(MemorySocket),
}

impl Transport {
    /// A UDP transport, probing the kernel's batching features.
    pub(crate) fn udp(socket: mio::net::UdpSocket) -> Self {
        let state = SocketState::new(&socket);
        Self::Udp { socket, state }
    }

    /// Has the kernel stamp each arriving datagram, so that receives report
    /// when it arrived ([`RecvBatch::arrivals`]). Returns whether it is on:
    /// UDP on Linux only.
    pub(crate) fn enable_arrival_times(&mut self) -> bool {
        match self {
            Self::Udp { socket, state } => state.enable_arrival_times(socket),
            Self::Memory(_) => false,
        }
    }

    /// Makes `poll` wake for arriving datagrams: the socket is registered as
    /// `token`, a memory socket rings `waker` instead.
    pub(crate) fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        waker: &Arc<mio::Waker>,
    ) -> io::Result<()> {
        match self {
            Self::Udp { socket, .. } => registry.register(socket, token, Interest::READABLE),
            Self::Memory(socket) => {
                socket.set_waker(waker.clone());
                Ok(())
            }
        }
    }

    /// Asks `poll` to wake also when the socket becomes writable (`on`), or
    /// only for arrivals. Writability is wanted only while sends are held
    /// back: otherwise every send's buffer release raises a WRITABLE edge
    /// and an idle wake.
    pub(crate) fn want_writable(
        &mut self,
        registry: &Registry,
        token: Token,
        on: bool,
    ) -> io::Result<()> {
        match self {
            Self::Udp { socket, .. } => {
                let interest = if on {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                registry.reregister(socket, token, interest)
            }
            Self::Memory(_) => Ok(()),
        }
    }

    /// Receives one batch of what has arrived by `now`.
    ///
    /// # Errors
    ///
    /// Only when the transport cannot go on (its socket is broken, or a
    /// memory socket was failed on demand). A receive error the socket
    /// recovers from is logged and reads as an empty batch.
    pub(crate) fn recv(&self, now: Instant, into: &mut RecvBatch) -> io::Result<IoCount> {
        match self {
            Self::Udp { socket, state } => match batch::recv(socket, state, into) {
                Err(e) if !batch::is_socket_broken(&e) => {
                    tracing::debug!(error = %e, "receive failed");
                    Ok(IoCount::default())
                }
                result => result,
            },
            Self::Memory(socket) => batch::memory::recv(socket, now, into),
        }
    }

    /// Sends what `from` holds; what the socket would not take stays queued.
    ///
    /// # Errors
    ///
    /// Only when the transport cannot go on, as [`Transport::recv`]; a
    /// datagram the OS refuses is dropped and counted instead.
    pub(crate) fn send(&self, now: Instant, from: &mut SendBatch) -> io::Result<IoCount> {
        match self {
            Self::Udp { socket, state } => batch::send(socket, state, from),
            Self::Memory(socket) => batch::memory::send(socket, now, from),
        }
    }

    /// When a datagram still on its way arrives (memory only: the kernel
    /// wakes the poll for a UDP socket).
    pub(crate) fn next_arrival(&self) -> Option<Instant> {
        match self {
            Self::Udp { .. } => None,
            Self::Memory(socket) => socket.next_arrival(),
        }
    }

    /// The address the transport is bound to.
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Self::Udp { socket, .. } => socket.local_addr(),
            Self::Memory(socket) => Ok(socket.local_addr()),
        }
    }
}
