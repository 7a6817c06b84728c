//! The slot number that names a client on a shard.

/// A client's slot on a shard, stable for the life of its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientIndex(u32);

impl ClientIndex {
    /// A slot number.
    pub const fn new(index: u32) -> Self {
        Self(index)
    }

    /// The slot number, as the client learns it in its first keep-alive.
    pub const fn get(self) -> u32 {
        self.0
    }

    pub(crate) const fn slot(self) -> usize {
        self.0 as usize
    }
}
