//! A socket on an in-memory network as a [`Transport`].

use super::{IoCount, RecvBatch, Registration, SendBatch, Sent, Transport};
use crate::engine::memory::MemorySocket;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

impl Transport for MemorySocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(Self::local_addr(self))
    }

    /// The network wakes the port whenever a datagram becomes this
    /// socket's earliest; [`Transport::next_arrival`] tells the port when
    /// that is for datagrams still delayed.
    fn register(&mut self, registration: &Registration<'_>) -> io::Result<()> {
        self.set_waker(registration.waker());
        Ok(())
    }

    /// # Errors
    ///
    /// When the socket was failed on demand ([`crate::engine::MemoryNetwork::fail`]).
    fn recv(&mut self, now: Instant, into: &mut RecvBatch) -> io::Result<IoCount> {
        into.clear();
        let mut count = IoCount {
            syscalls: 1,
            ..IoCount::default()
        };
        self.recv_each(now, RecvBatch::CAPACITY, |from, bytes| {
            if into.push(from, bytes) {
                count.datagrams += 1;
                count.bytes += bytes.len() as u64;
            }
        })?;
        Ok(count)
    }

    /// The network never pushes back, so the batch is left empty.
    ///
    /// # Errors
    ///
    /// As [`Transport::recv`]; the batch is then left as it was.
    fn send(&mut self, now: Instant, from: &mut SendBatch) -> io::Result<IoCount> {
        let mut count = self.sending(|send| {
            from.drain(|to, bytes| {
                send(now, to, bytes);
                Sent::Sent
            })
        })?;
        count.syscalls = 1;
        Ok(count)
    }

    fn next_arrival(&self) -> Option<Instant> {
        Self::next_arrival(self)
    }
}
