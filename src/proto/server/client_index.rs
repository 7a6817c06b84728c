//! The handle that names a connected client on a shard.

/// A connected client's handle: its slot on the shard, and which of the
/// slot's occupants it is.
///
/// A slot is reused once its client leaves; the handle of the earlier
/// client then names nobody, so a late send or disconnect cannot reach the
/// next one. Handles come from [`super::Event::Connected`] and
/// [`super::Shard::client_in`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientIndex {
    slot: u32,
    generation: u32,
}

impl ClientIndex {
    pub(crate) const fn new(slot: u32, generation: u32) -> Self {
        Self { slot, generation }
    }

    /// The slot number, as the client learns it in its first keep-alive.
    pub const fn get(self) -> u32 {
        self.slot
    }

    /// Which occupant of the slot this is: it changes each time the slot is
    /// taken.
    pub const fn generation(self) -> u32 {
        self.generation
    }

    pub(crate) const fn slot(self) -> usize {
        self.slot as usize
    }
}
