//! Direct play on the wire: the consent and introduction messages the relay
//! carries, and the datagrams players send each other (`docs/wire.md`,
//! "Direct play").

use crate::wire::{Error, Reader, Writer, address};
use std::net::SocketAddr;

/// Most LAN addresses a player may report with its consent.
pub const MAX_LAN_CANDIDATES: usize = 4;
/// Most candidate addresses in an introduction: the observed one, then LAN ones.
pub const MAX_CANDIDATES: usize = 1 + MAX_LAN_CANDIDATES;
/// Bytes of the key two introduced players share.
pub const PAIR_KEY_LEN: usize = 32;
/// First byte of every direct datagram. Its low nibble, 7, is no netcode
/// packet type, so a direct datagram can never pass for a netcode packet.
pub const DIRECT_MARKER: u8 = 0xB7;
/// Bytes before the sealed part of a direct datagram: marker, sender's
/// index, sequence.
pub const DIRECT_HEADER_LEN: usize = 2 + 4;
/// Set in the sequence of the pair member with the higher index, so the
/// two directions never share a nonce under the pair key.
pub const DIRECTION_BIT: u32 = 1 << 31;

/// First byte of an address check: the datagram a consenting player sends
/// to a second relay port, so the relay can compare where it sees the
/// player from there with where it sees it on its own port. Low nibble 8:
/// no netcode packet type either.
pub const ADDRESS_CHECK_MARKER: u8 = 0xB8;
/// Bytes of an address-check ticket: the player's port (`u16`), slot
/// (`u32`) and generation (`u32`) on the relay, then a 16-byte tag only the
/// relay can make.
pub const CHECK_TICKET_LEN: usize = 2 + 4 + 4 + 16;
/// Bytes of an address-check datagram: the marker and the ticket.
pub const ADDRESS_CHECK_LEN: usize = 1 + CHECK_TICKET_LEN;

/// The relay's introduction of one player to another who both consented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introduction {
    /// The other player's index in the room.
    pub peer: u8,
    /// A fresh key for this pair only, which seals everything the two send
    /// each other.
    pub key: [u8; PAIR_KEY_LEN],
    /// How long to wait before the first probe, so that both sides start
    /// together: half the difference of the two players' round trips to
    /// the relay, for the nearer one; 0 for the other.
    pub delay_ms: u16,
    /// Where the other player may be reached: the address the relay sees
    /// first, then the LAN addresses it reported. 1..=[`MAX_CANDIDATES`].
    pub candidates: Vec<SocketAddr>,
}

impl Introduction {
    /// Reads the body of an introduction.
    pub(super) fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let peer = r.u8()?;
        let key = *r.array::<PAIR_KEY_LEN>()?;
        let delay_ms = r.u16()?;
        let candidates = parse_addresses(r, MAX_CANDIDATES)?;
        if candidates.is_empty() {
            return Err(Error::BadLength { len: 0 });
        }
        Ok(Self {
            peer,
            key,
            delay_ms,
            candidates,
        })
    }

    /// Writes the body of an introduction.
    pub(super) fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u8(self.peer)?;
        w.bytes(&self.key)?;
        w.u16(self.delay_ms)?;
        emit_addresses(&self.candidates, MAX_CANDIDATES, w)
    }

    /// Bytes [`Introduction::emit`] writes.
    pub(super) fn encoded_len(&self) -> usize {
        3 + PAIR_KEY_LEN + addresses_len(&self.candidates)
    }
}

/// Reads a count byte and that many address records, at most `max`.
pub(super) fn parse_addresses(r: &mut Reader<'_>, max: usize) -> Result<Vec<SocketAddr>, Error> {
    let count = usize::from(r.u8()?);
    if count > max {
        return Err(Error::BadLength { len: count });
    }
    let mut addresses = Vec::with_capacity(count);
    for _ in 0..count {
        addresses.push(address::parse(r)?);
    }
    Ok(addresses)
}

/// Writes a count byte and the address records, refusing more than `max`.
pub(super) fn emit_addresses(
    addresses: &[SocketAddr],
    max: usize,
    w: &mut Writer<'_>,
) -> Result<(), Error> {
    if addresses.len() > max {
        return Err(Error::BadLength {
            len: addresses.len(),
        });
    }
    w.u8(addresses.len() as u8)?;
    addresses.iter().try_for_each(|a| address::emit(a, w))
}

/// Bytes [`emit_addresses`] writes.
pub(super) fn addresses_len(addresses: &[SocketAddr]) -> usize {
    1 + addresses.iter().map(address::encoded_len).sum::<usize>()
}

/// The clear header of a direct datagram. The AEAD's nonce is the
/// sequence; its associated data binds the marker, the sender and the
/// receiver (which is not sent: only the receiver's index opens it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectHeader {
    /// The sender's index in the room.
    pub from: u8,
    /// Never repeats under one pair key: it counts up from 0, with
    /// [`DIRECTION_BIT`] set by the member with the higher index. A pair
    /// member that reaches the bit stops sending (2^31 datagrams: 24 days
    /// at 1,000 a second).
    pub sequence: u32,
}

impl DirectHeader {
    /// Reads the header of `datagram`; the rest is the sealed part.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`]; [`Error::BadFrameKind`] when the first byte is
    /// not [`DIRECT_MARKER`].
    pub fn parse(datagram: &[u8]) -> Result<(Self, &[u8]), Error> {
        let mut r = Reader::new(datagram);
        let marker = r.u8()?;
        if marker != DIRECT_MARKER {
            return Err(Error::BadFrameKind(marker));
        }
        let header = Self {
            from: r.u8()?,
            sequence: r.u32()?,
        };
        Ok((header, r.into_rest()))
    }

    /// Writes the header.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`].
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u8(DIRECT_MARKER)?;
        w.u8(self.from)?;
        w.u32(self.sequence)
    }

    /// The associated data the AEAD binds: marker, sender, receiver `to`.
    pub const fn associated_data(&self, to: u8) -> [u8; 3] {
        [DIRECT_MARKER, self.from, to]
    }
}
