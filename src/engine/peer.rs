//! Naming a connected peer across the whole server.

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
    slot: u32,
    generation: u32,
}

impl PeerId {
    pub(crate) const fn new(port: u16, slot: u32, generation: u32) -> Self {
        Self {
            port,
            slot,
            generation,
        }
    }

    /// Index of the port (0 for the first bound port) that owns this peer.
    pub const fn port(self) -> u16 {
        self.port
    }

    /// The peer's slot on its port (its netcode client index).
    pub const fn slot(self) -> u32 {
        self.slot
    }

    pub(crate) const fn generation(self) -> u32 {
        self.generation
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({}:{}#{})", self.port, self.slot, self.generation)
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.port, self.slot)
    }
}
