//! The one-time protocol hash.
//!
//! Two builds can talk only if they agree on everything that shapes their
//! bytes: game name, version, channel table. [`ProtocolId`] hashes those
//! facts into the 64-bit netcode protocol id. The id crosses the wire once,
//! in the connection request; after that it is part of every packet's AAD,
//! so a packet from another protocol fails authentication and costs no
//! bytes.
//!
//! The hash is FNV-1a 64: the same id on every platform, Rust version and
//! run. A per-process seeded hasher (std's `RandomState`, ahash's default)
//! would give every process a different id.

/// FNV-1a 64 offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64 prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Builds a 64-bit protocol id from the facts both sides must share.
///
/// Each part is hashed with its length in front, so `("ab", "c")` and
/// `("a", "bc")` give different ids.
///
/// # Examples
///
/// ```
/// use berth::ProtocolId;
///
/// let id = ProtocolId::new("space-duel").version(1, 4).part(b"channels:v2").finish();
/// let again = ProtocolId::new("space-duel").version(1, 4).part(b"channels:v2").finish();
/// assert_eq!(id, again);
/// assert_ne!(id, ProtocolId::new("space-duel").version(1, 5).part(b"channels:v2").finish());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct ProtocolId {
    state: u64,
}

impl ProtocolId {
    /// Starts an id for the game called `game`.
    pub fn new(game: &str) -> Self {
        Self { state: FNV_OFFSET }
            .part(b"berth-protocol-id/1")
            .part(game.as_bytes())
    }

    /// Adds the game's version.
    pub fn version(self, major: u32, minor: u32) -> Self {
        self.part(&major.to_le_bytes()).part(&minor.to_le_bytes())
    }

    /// Adds any bytes both sides must agree on (a channel table, a ruleset hash).
    pub fn part(self, bytes: &[u8]) -> Self {
        let state = fnv1a(self.state, &(bytes.len() as u64).to_le_bytes());
        Self {
            state: fnv1a(state, bytes),
        }
    }

    /// Adds a channel table: builds with different tables get different ids.
    pub fn channels(self, table: &crate::proto::channel::ChannelTable) -> Self {
        self.part(&table.describe())
    }

    /// Adds `table` and keeps it with the id: the [`Protocol`] a game
    /// hands to its server's config, its clients and its token issuer, so
    /// a custom table is written in one place.
    pub fn with_channels(self, table: crate::proto::channel::ChannelTable) -> Protocol {
        Protocol {
            id: self.channels(&table).finish(),
            table,
        }
    }

    /// The 64-bit id for the connect token and every packet's AAD.
    #[must_use]
    pub const fn finish(self) -> u64 {
        self.state
    }
}

/// What every build of a game shares: its protocol id and the channel
/// table that id hashes. Made once with [`ProtocolId::with_channels`], then
/// given to [`crate::engine::ServerConfig::protocol`],
/// [`crate::engine::Client::protocol`] and, as [`Protocol::id`], to the
/// token builder.
///
/// # Examples
///
/// ```
/// use berth::ProtocolId;
/// use berth::engine::{Client, ServerConfig};
/// use berth::proto::channel::{ChannelKind, ChannelTable};
///
/// let protocol = ProtocolId::new("space-duel").version(1, 0).with_channels(
///     ChannelTable::new()
///         .channel(1, ChannelKind::ReliableOrdered)
///         .channel(2, ChannelKind::Unreliable)
///         .build()
///         .unwrap(),
/// );
/// let config = ServerConfig::new("0.0.0.0:40000".parse().unwrap(), 0, berth::Key::from_bytes([1; 32]))
///     .protocol(&protocol);
/// let client = Client::bind("127.0.0.1:0".parse().unwrap()).unwrap().protocol(&protocol);
/// let token = berth::ConnectTokenBuilder::new(protocol.id(), 42);
/// # let _ = (config, client, token);
/// ```
#[derive(Debug, Clone)]
pub struct Protocol {
    id: u64,
    table: crate::proto::channel::ChannelTable,
}

impl Protocol {
    /// The protocol id: for connect tokens, and every packet's AAD.
    pub const fn id(&self) -> u64 {
        self.id
    }

    /// The channel table both sides use.
    pub const fn table(&self) -> &crate::proto::channel::ChannelTable {
        &self.table
    }
}

const fn fnv1a(mut state: u64, mut bytes: &[u8]) -> u64 {
    while let [first, rest @ ..] = bytes {
        state ^= *first as u64;
        state = state.wrapping_mul(FNV_PRIME);
        bytes = rest;
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_published_vectors() {
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn id_is_pinned_across_releases() {
        // A change here breaks every deployed game's id: bump the domain tag
        // in `new` on purpose, never by accident.
        let id = ProtocolId::new("berth-test").version(1, 0).finish();
        assert_eq!(id, ProtocolId::new("berth-test").version(1, 0).finish());
        assert_eq!(id, PINNED);
    }

    const PINNED: u64 = 0xbe953125b76437eb;

    #[test]
    fn parts_are_length_prefixed() {
        let a = ProtocolId::new("g").part(b"ab").part(b"c").finish();
        let b = ProtocolId::new("g").part(b"a").part(b"bc").finish();
        assert_ne!(a, b);
    }
}
