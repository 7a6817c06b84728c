//! Naming a connected peer across the whole server.

use crate::proto::server::ClientIndex;
use std::fmt;

/// A connected peer: which port owns it, its slot there, and which
/// occupant of that slot it is.
///
/// The port makes routing O(1): a message for a peer goes straight to its
/// port's thread. The generation makes a stale id harmless: once a peer
/// leaves, its id never reaches whoever takes the slot next.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId {
    port: u16,
    client: ClientIndex,
}

impl PeerId {
    /// The peer `client` of port `port`.
    pub(crate) const fn of(port: u16, client: ClientIndex) -> Self {
        Self { port, client }
    }

    #[cfg(test)]
    pub(crate) const fn new(port: u16, slot: u32, generation: u32) -> Self {
        Self::of(port, ClientIndex::new(slot, generation))
    }

    /// Index of the port (0 for the first bound port) that owns this peer.
    pub const fn port(self) -> u16 {
        self.port
    }

    /// The peer's slot on its port (its netcode client index).
    pub const fn slot(self) -> u32 {
        self.client.get()
    }

    /// The peer's handle on its port's shard.
    pub(crate) const fn client(self) -> ClientIndex {
        self.client
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PeerId({}:{}#{})",
            self.port,
            self.client.get(),
            self.client.generation()
        )
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.port, self.client.get())
    }
}
