//! A port's outgoing datagrams: one send batch per transport, and which
//! transport reaches each peer.

use crate::engine::transport::SendBatch;
use crate::proto::Outbox;
use ahash::AHashMap;
use std::net::SocketAddr;

/// The [`Outbox`] a port's shard and channels write into.
///
/// With one transport every datagram goes into its batch. With several, a
/// connected peer's go to the transport its handshake came through, and
/// anything else (a reply to a handshake packet) to the transport whose
/// datagram is being handled. Only connected peers are remembered, so the
/// table is bounded by the port's slots.
#[derive(Debug)]
pub(crate) struct Sends {
    batches: Vec<SendBatch>,
    routes: AHashMap<SocketAddr, usize>,
    /// The transport whose datagram is being handled.
    current: usize,
}

impl Sends {
    /// Empty batches for `transports` transports.
    pub(crate) fn new(transports: usize) -> Self {
        Self {
            batches: (0..transports.max(1)).map(|_| SendBatch::new()).collect(),
            routes: AHashMap::new(),
            current: 0,
        }
    }

    /// Datagrams handled from now on came through transport `index`.
    pub(crate) const fn receiving_from(&mut self, index: usize) {
        self.current = index;
    }

    /// The peer at `address` connected through the current transport.
    pub(crate) fn connected(&mut self, address: SocketAddr) {
        if self.batches.len() > 1 {
            self.routes.insert(address, self.current);
        }
    }

    /// The peer at `address` left.
    pub(crate) fn disconnected(&mut self, address: SocketAddr) {
        self.routes.remove(&address);
    }

    /// Datagrams waiting, over all transports.
    pub(crate) fn pending(&self) -> usize {
        self.batches.iter().map(SendBatch::pending).sum()
    }

    /// The batch of transport `index`.
    pub(crate) fn batch(&mut self, index: usize) -> Option<&mut SendBatch> {
        self.batches.get_mut(index)
    }
}

impl Outbox for Sends {
    fn push(&mut self, destination: SocketAddr, emit: &mut dyn FnMut(&mut [u8]) -> usize) {
        let index = if self.batches.len() == 1 {
            0
        } else {
            self.routes
                .get(&destination)
                .copied()
                .unwrap_or(self.current)
        };
        if let Some(batch) = self.batches.get_mut(index) {
            batch.push(destination, emit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn push(sends: &mut Sends, to: SocketAddr) {
        sends.push(to, &mut |buf| {
            buf[0] = 1;
            1
        });
    }

    #[test]
    fn a_connected_peer_is_reached_through_its_own_transport_whatever_is_being_handled() {
        let mut sends = Sends::new(2);
        let (udp_peer, other_peer) = (addr("10.0.0.1:1"), addr("[fd00::1]:7"));
        sends.receiving_from(1);
        sends.connected(other_peer);
        sends.receiving_from(0);
        sends.connected(udp_peer);
        push(&mut sends, other_peer);
        push(&mut sends, udp_peer);
        push(&mut sends, addr("10.0.0.9:9")); // a handshake reply: current transport
        assert_eq!(sends.batch(0).unwrap().pending(), 2);
        assert_eq!(sends.batch(1).unwrap().pending(), 1);
        sends.disconnected(other_peer);
        push(&mut sends, other_peer);
        assert_eq!(sends.batch(0).unwrap().pending(), 3);
        assert_eq!(sends.pending(), 4);
    }

    #[test]
    fn one_transport_remembers_nobody() {
        let mut sends = Sends::new(1);
        sends.connected(addr("10.0.0.1:1"));
        assert!(sends.routes.is_empty());
        push(&mut sends, addr("10.0.0.1:1"));
        assert_eq!(sends.pending(), 1);
    }
}
