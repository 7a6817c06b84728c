//! The channel table a game declares once: each channel's id and kind,
//! and the limits both sides must share.

use crate::wire::frame::ChannelId;
use std::sync::Arc;

/// How a channel delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelKind {
    /// Sent once; may be lost, duplicated away or arrive out of order.
    /// Inputs, voice.
    Unreliable,
    /// Sent once; a message older than one already delivered is dropped.
    /// State snapshots where only the newest matters.
    UnreliableSequenced,
    /// Resent until acked; each message delivered exactly once, in any order.
    ReliableUnordered,
    /// Resent until acked; delivered exactly once, in send order. Chat,
    /// commands, level data.
    ReliableOrdered,
}

impl ChannelKind {
    /// Whether messages are resent until acked (and may be fragmented).
    pub const fn is_reliable(self) -> bool {
        matches!(self, Self::ReliableUnordered | Self::ReliableOrdered)
    }

    const fn code(self) -> u8 {
        match self {
            Self::Unreliable => 0,
            Self::UnreliableSequenced => 1,
            Self::ReliableUnordered => 2,
            Self::ReliableOrdered => 3,
        }
    }
}

/// Why a channel table was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The id is the engine's (0) or in the reserved block; or, for
    /// [`TableBuilder::reserved_channel`], outside it.
    #[error("{0} is reserved; application channels are 1..0xff0000")]
    Reserved(ChannelId),
    /// Two channels share an id.
    #[error("{0} is declared twice")]
    Duplicate(ChannelId),
    /// More channels than [`MAX_CHANNELS`].
    #[error("{0} channels; at most {MAX_CHANNELS}")]
    TooMany(usize),
    /// A limit is out of its documented range.
    #[error("{what} is {value}; allowed {min}..={max}")]
    Limit {
        /// Which limit.
        what: &'static str,
        /// The value given.
        value: usize,
        /// Smallest allowed.
        min: usize,
        /// Largest allowed.
        max: usize,
    },
}

/// Most channels in a table.
pub const MAX_CHANNELS: usize = 256;
/// Default largest reliable message: 256 KiB.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 256 * 1024;
/// Largest reliable message a table may allow: 16 MiB.
pub const MAX_MESSAGE_LEN_LIMIT: usize = 16 * 1024 * 1024;
/// Default bytes a peer may have queued and unacked: 1 MiB.
pub const DEFAULT_SEND_BUDGET: usize = 1024 * 1024;

/// Every channel of a game, with their kinds and shared limits.
///
/// Both sides must declare the same table: feed it to
/// [`crate::ProtocolId::channels`] and builds with different tables get
/// different protocol ids, so they cannot connect.
///
/// # Examples
///
/// ```
/// use berth::proto::channel::{ChannelKind, ChannelTable};
/// use berth::ProtocolId;
///
/// let table = ChannelTable::new()
///     .channel(1, ChannelKind::Unreliable)
///     .channel(2, ChannelKind::UnreliableSequenced)
///     .channel(3, ChannelKind::ReliableOrdered)
///     .build()
///     .unwrap();
/// let protocol_id = ProtocolId::new("my-game").version(1, 0).channels(&table).finish();
/// # let _ = protocol_id;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelTable {
    /// Sorted by id, for binary search on receive. Shared: every
    /// connection holds the table, and a clone allocates nothing.
    channels: Arc<[(ChannelId, ChannelKind)]>,
    max_message_len: usize,
    send_budget: usize,
}

/// A [`ChannelTable`] being declared; [`TableBuilder::build`] checks it.
#[derive(Debug, Clone)]
#[must_use]
pub struct TableBuilder {
    channels: Vec<(u32, ChannelKind)>,
    /// Channels from the reserved block.
    reserved: Vec<(ChannelId, ChannelKind)>,
    max_message_len: usize,
    send_budget: usize,
}

/// The channels of [`ChannelTable::standard`], one of each kind.
pub mod standard {
    use super::ChannelId;

    /// Channel 1: unreliable.
    pub const UNRELIABLE: ChannelId = ChannelId::from_u16(1);
    /// Channel 2: unreliable-sequenced.
    pub const SEQUENCED: ChannelId = ChannelId::from_u16(2);
    /// Channel 3: reliable-unordered.
    pub const RELIABLE_UNORDERED: ChannelId = ChannelId::from_u16(3);
    /// Channel 4: reliable-ordered.
    pub const RELIABLE_ORDERED: ChannelId = ChannelId::from_u16(4);
}

impl Default for ChannelTable {
    fn default() -> Self {
        Self::standard()
    }
}

impl ChannelTable {
    /// One channel of each kind ([`standard`]) with the default limits:
    /// what the engine uses unless told otherwise.
    pub fn standard() -> Self {
        let channel = |id: ChannelId, kind| (id, kind);
        Self {
            channels: Arc::new([
                channel(standard::UNRELIABLE, ChannelKind::Unreliable),
                channel(standard::SEQUENCED, ChannelKind::UnreliableSequenced),
                channel(standard::RELIABLE_UNORDERED, ChannelKind::ReliableUnordered),
                channel(standard::RELIABLE_ORDERED, ChannelKind::ReliableOrdered),
            ]),
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            send_budget: DEFAULT_SEND_BUDGET,
        }
    }

    /// Starts declaring a table.
    #[allow(clippy::new_ret_no_self)] // The builder is the table's constructor.
    pub fn new() -> TableBuilder {
        TableBuilder {
            channels: Vec::new(),
            reserved: Vec::new(),
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            send_budget: DEFAULT_SEND_BUDGET,
        }
    }

    /// The channels, sorted by id.
    pub fn channels(&self) -> &[(ChannelId, ChannelKind)] {
        &self.channels
    }

    /// The position of `channel` in [`ChannelTable::channels`].
    pub fn index_of(&self, channel: ChannelId) -> Option<usize> {
        self.channels
            .binary_search_by_key(&channel, |(id, _)| *id)
            .ok()
    }

    /// Largest reliable message, in bytes.
    pub const fn max_message_len(&self) -> usize {
        self.max_message_len
    }

    /// Bytes a peer may hold queued and unacked before sends fail.
    pub const fn send_budget(&self) -> usize {
        self.send_budget
    }

    /// The bytes [`crate::ProtocolId::channels`] hashes: every channel's id
    /// and kind, then the limits.
    pub fn describe(&self) -> Vec<u8> {
        let mut bytes = b"berth-channels/1".to_vec();
        for (id, kind) in self.channels.iter() {
            bytes.extend_from_slice(&id.get().to_le_bytes());
            bytes.push(kind.code());
        }
        bytes.extend_from_slice(&(self.max_message_len as u64).to_le_bytes());
        bytes.extend_from_slice(&(self.send_budget as u64).to_le_bytes());
        bytes
    }
}

impl TableBuilder {
    /// Declares channel `id` (1..0xff0000) of `kind`.
    pub fn channel(mut self, id: u32, kind: ChannelKind) -> Self {
        self.channels.push((id, kind));
        self
    }

    /// Declares channel `id` of `kind` from the reserved block
    /// ([`ChannelId::RESERVED_FIRST`] and up), for a protocol berth layers
    /// on top of channels (the relay declares its two here).
    pub fn reserved_channel(mut self, id: ChannelId, kind: ChannelKind) -> Self {
        self.reserved.push((id, kind));
        self
    }

    /// Largest reliable message, in bytes: 1..=16 MiB, default 256 KiB.
    /// Larger messages are fragmented; the receiver holds at most this much
    /// of one message while it reassembles.
    pub const fn max_message_len(mut self, len: usize) -> Self {
        self.max_message_len = len;
        self
    }

    /// Bytes a peer may hold queued and unacked (reliable messages until
    /// acked, unreliable until sent) before `send` fails with `QueueFull`.
    /// At least the largest message; default 1 MiB. The receiver holds at
    /// most twice this per peer.
    pub const fn send_budget(mut self, bytes: usize) -> Self {
        self.send_budget = bytes;
        self
    }

    /// Checks and finishes the table.
    ///
    /// # Errors
    ///
    /// [`TableError`] for a reserved or repeated id, too many channels, or
    /// a limit out of range.
    pub fn build(self) -> Result<ChannelTable, TableError> {
        if self.channels.len() > MAX_CHANNELS {
            return Err(TableError::TooMany(self.channels.len()));
        }
        let mut channels = Vec::with_capacity(self.channels.len());
        for (id, kind) in self.channels {
            let channel =
                ChannelId::new(id)
                    .filter(|c| c.is_application())
                    .ok_or(TableError::Reserved(
                        ChannelId::new(id).unwrap_or(ChannelId::MAX),
                    ))?;
            channels.push((channel, kind));
        }
        for (id, kind) in self.reserved {
            if !id.is_reserved() {
                return Err(TableError::Reserved(id));
            }
            channels.push((id, kind));
        }
        channels.sort_by_key(|(id, _)| *id);
        if let Some(pair) = channels
            .windows(2)
            .find(|w| w.first().map(|a| a.0) == w.get(1).map(|b| b.0))
        {
            if let Some((id, _)) = pair.first() {
                return Err(TableError::Duplicate(*id));
            }
        }
        check(
            "max_message_len",
            self.max_message_len,
            1,
            MAX_MESSAGE_LEN_LIMIT,
        )?;
        check(
            "send_budget",
            self.send_budget,
            self.max_message_len,
            4 * MAX_MESSAGE_LEN_LIMIT,
        )?;
        Ok(ChannelTable {
            channels: channels.into(),
            max_message_len: self.max_message_len,
            send_budget: self.send_budget,
        })
    }
}

fn check(what: &'static str, value: usize, min: usize, max: usize) -> Result<(), TableError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(TableError::Limit {
            what,
            value,
            min,
            max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_repeated_and_oversized_tables_are_refused() {
        let reserved = ChannelTable::new()
            .channel(0, ChannelKind::Unreliable)
            .build();
        assert_eq!(reserved, Err(TableError::Reserved(ChannelId::ENGINE)));
        let in_the_block = ChannelTable::new()
            .channel(0xff_0001, ChannelKind::Unreliable)
            .build();
        assert!(matches!(in_the_block, Err(TableError::Reserved(_))));
        let seven = ChannelId::new(7).unwrap();
        let outside_the_block = ChannelTable::new()
            .reserved_channel(seven, ChannelKind::Unreliable)
            .build();
        assert_eq!(outside_the_block, Err(TableError::Reserved(seven)));
        let layered = ChannelTable::new()
            .reserved_channel(ChannelId::RESERVED_FIRST, ChannelKind::ReliableOrdered)
            .build()
            .unwrap();
        assert_eq!(layered.index_of(ChannelId::RESERVED_FIRST), Some(0));
        let too_wide = ChannelTable::new()
            .channel(1 << 24, ChannelKind::Unreliable)
            .build();
        assert!(matches!(too_wide, Err(TableError::Reserved(_))));
        let twice = ChannelTable::new()
            .channel(4, ChannelKind::Unreliable)
            .channel(4, ChannelKind::ReliableOrdered)
            .build();
        assert_eq!(
            twice,
            Err(TableError::Duplicate(ChannelId::new(4).unwrap()))
        );
        let budget = ChannelTable::new()
            .max_message_len(1000)
            .send_budget(999)
            .build();
        assert!(matches!(
            budget,
            Err(TableError::Limit {
                what: "send_budget",
                ..
            })
        ));
    }

    #[test]
    fn the_description_changes_with_any_channel_or_limit() {
        let base = || ChannelTable::new().channel(1, ChannelKind::ReliableOrdered);
        let a = base().build().unwrap().describe();
        assert_eq!(a, base().build().unwrap().describe());
        let other_kind = ChannelTable::new().channel(1, ChannelKind::ReliableUnordered);
        assert_ne!(a, other_kind.build().unwrap().describe());
        assert_ne!(
            a,
            base()
                .channel(2, ChannelKind::Unreliable)
                .build()
                .unwrap()
                .describe()
        );
        assert_ne!(a, base().max_message_len(1000).build().unwrap().describe());
    }

    #[test]
    fn the_standard_table_is_what_the_builder_makes() {
        let built = ChannelTable::new()
            .channel(1, ChannelKind::Unreliable)
            .channel(2, ChannelKind::UnreliableSequenced)
            .channel(3, ChannelKind::ReliableUnordered)
            .channel(4, ChannelKind::ReliableOrdered)
            .build()
            .unwrap();
        assert_eq!(ChannelTable::standard(), built);
    }

    #[test]
    fn lookup_finds_declared_channels_only() {
        let table = ChannelTable::new()
            .channel(9, ChannelKind::Unreliable)
            .channel(3, ChannelKind::ReliableOrdered)
            .build()
            .unwrap();
        assert_eq!(table.index_of(ChannelId::new(3).unwrap()), Some(0));
        assert_eq!(table.index_of(ChannelId::new(9).unwrap()), Some(1));
        assert_eq!(table.index_of(ChannelId::new(4).unwrap()), None);
    }
}
