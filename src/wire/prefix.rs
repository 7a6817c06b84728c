//! The prefix byte and the variable-length sequence of encrypted packets.
//!
//! ```text
//!  bit 7..4          bit 3..0
//! +-----------------+-----------+---------------------------+
//! | sequence bytes  | type 1..6 | sequence, LSB first (n B) |
//! +-----------------+-----------+---------------------------+
//! ```
//!
//! Emit writes the fewest bytes that hold the sequence, never fewer than one
//! (sequence 0 is `0x1T 0x00`), as the C reference does.
//!
//! # A sequence-byte count of 0
//!
//! The C reference drops such packets; renetcode emits one for sequence 0.
//! berth reads a count of 0 as sequence 0 with no sequence bytes: it is the
//! only reading the sender can mean, and the count is inside the AAD (the
//! prefix byte), so the reading cannot be forged into anything else.
//! Accepting it lets renetcode peers connect; berth never emits it. A count
//! over 8 is [`Error::BadSequenceLen`].

use super::{Error, Reader, Writer};

/// Largest number of sequence bytes.
pub const MAX_SEQUENCE_LEN: u8 = 8;

/// The seven netcode packet types (low nibble of the prefix byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// Unencrypted connection request from a client (type 0).
    Request = 0,
    /// The server is full (type 1).
    Denied = 1,
    /// The server's challenge to a requesting client (type 2).
    Challenge = 2,
    /// The client's echo of the challenge (type 3).
    Response = 3,
    /// Keeps a connection alive; confirms a new one (type 4).
    KeepAlive = 4,
    /// Application data (type 5).
    Payload = 5,
    /// Ends a connection (type 6).
    Disconnect = 6,
}

impl PacketType {
    /// The type in the low nibble of `prefix`.
    ///
    /// # Errors
    ///
    /// [`Error::BadPacketType`] for 7..=15.
    pub const fn from_prefix(prefix: u8) -> Result<Self, Error> {
        Ok(match prefix & 0x0f {
            0 => Self::Request,
            1 => Self::Denied,
            2 => Self::Challenge,
            3 => Self::Response,
            4 => Self::KeepAlive,
            5 => Self::Payload,
            6 => Self::Disconnect,
            other => return Err(Error::BadPacketType(other)),
        })
    }
}

/// The number of bytes emit uses for `sequence`: 1..=8.
pub const fn sequence_len(sequence: u64) -> u8 {
    let significant = 8 - (sequence.leading_zeros() / 8) as u8;
    if significant == 0 { 1 } else { significant }
}

/// The header of an encrypted packet: type and sequence, with the prefix byte kept for the AAD.
///
/// The fields are private so that a header is always consistent: built by
/// [`Header::new`] (minimal sequence length) or read by [`Header::parse`]
/// (the length the sender chose, 0..=8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    prefix: u8,
    packet_type: PacketType,
    sequence: u64,
}

impl Header {
    /// A header for `packet_type` and `sequence`, with the minimal sequence length.
    pub const fn new(packet_type: PacketType, sequence: u64) -> Self {
        Self {
            prefix: packet_type as u8 | (sequence_len(sequence) << 4),
            packet_type,
            sequence,
        }
    }

    /// The prefix byte, as on the wire; part of the packet's AAD.
    pub const fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The packet type.
    pub const fn packet_type(&self) -> PacketType {
        self.packet_type
    }

    /// The packet sequence number.
    pub const fn sequence(&self) -> u64 {
        self.sequence
    }

    /// Number of sequence bytes, from the prefix.
    pub const fn sequence_len(&self) -> usize {
        (self.prefix >> 4) as usize
    }

    /// Encoded length: prefix plus sequence bytes.
    pub const fn encoded_len(&self) -> usize {
        1 + self.sequence_len()
    }

    /// Reads the prefix byte and sequence.
    ///
    /// # Errors
    ///
    /// [`Error::BadPacketType`], [`Error::BadSequenceLen`], [`Error::Truncated`].
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let prefix = r.u8()?;
        let packet_type = PacketType::from_prefix(prefix)?;
        let len = prefix >> 4;
        if len > MAX_SEQUENCE_LEN {
            return Err(Error::BadSequenceLen(len));
        }
        let mut le = [0u8; 8];
        let bytes = r.bytes(len as usize)?;
        for (dst, src) in le.iter_mut().zip(bytes) {
            *dst = *src;
        }
        Ok(Self {
            prefix,
            packet_type,
            sequence: u64::from_le_bytes(le),
        })
    }

    /// Writes the prefix byte and sequence.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`].
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u8(self.prefix)?;
        let le = self.sequence.to_le_bytes();
        w.bytes(le.get(..self.sequence_len()).unwrap_or(&le))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emit(header: Header) -> Vec<u8> {
        let mut buf = [0u8; 9];
        let mut w = Writer::new(&mut buf);
        header.emit(&mut w).unwrap();
        let len = w.len();
        buf[..len].to_vec()
    }

    #[test]
    fn emits_minimal_sequence_bytes_least_significant_first() {
        assert_eq!(emit(Header::new(PacketType::KeepAlive, 0)), [0x14, 0x00]);
        assert_eq!(emit(Header::new(PacketType::Payload, 0xff)), [0x15, 0xff]);
        assert_eq!(
            emit(Header::new(PacketType::Payload, 0x100)),
            [0x25, 0x00, 0x01]
        );
        assert_eq!(
            emit(Header::new(PacketType::Denied, 0x11_2233_4455)),
            [0x51, 0x55, 0x44, 0x33, 0x22, 0x11]
        );
        assert_eq!(
            emit(Header::new(PacketType::Disconnect, u64::MAX)),
            [0x86, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn sequence_len_zero_reads_as_sequence_zero() {
        let header = Header::parse(&mut Reader::new(&[0x04])).unwrap();
        assert_eq!(header.sequence, 0);
        assert_eq!(header.packet_type, PacketType::KeepAlive);
        assert_eq!(header.encoded_len(), 1);
    }

    #[test]
    fn rejects_sequence_len_over_eight() {
        for len in 9..=15u8 {
            let bytes = [(len << 4) | 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            assert_eq!(
                Header::parse(&mut Reader::new(&bytes)),
                Err(Error::BadSequenceLen(len))
            );
        }
    }

    #[test]
    fn rejects_bad_type() {
        for t in 7..=15u8 {
            assert_eq!(
                Header::parse(&mut Reader::new(&[0x10 | t, 0])),
                Err(Error::BadPacketType(t))
            );
        }
    }

    #[test]
    fn parse_inverts_emit_for_every_length() {
        for shift in 0..64 {
            let sequence = (1u64 << shift) | 1;
            let header = Header::new(PacketType::Payload, sequence);
            let bytes = emit(header);
            assert_eq!(Header::parse(&mut Reader::new(&bytes)).unwrap(), header);
            for cut in 0..bytes.len() {
                assert!(Header::parse(&mut Reader::new(&bytes[..cut])).is_err());
            }
        }
    }
}
