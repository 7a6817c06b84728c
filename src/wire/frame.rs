//! Channel frames: the layout inside a payload packet's plaintext in channel mode.
//!
//! A payload's plaintext is a run of frames, back to back, filling it:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 3 | channel id, little-endian (24 bits) |
//! | 3 | 1 or 2 | body length *n*, a [`varint`](emit_varint) (< 16384) |
//! | 4 or 5 | *n* | body: its layout depends on the channel's kind ([`super::frame_body`]) |
//!
//! Channel 0 is the engine's own ([`ChannelId::ENGINE`]: acks); the block
//! from [`ChannelId::RESERVED_FIRST`] to the top is reserved for protocols
//! berth layers on top of channels; everything between belongs to the
//! application. An unreliable
//! message of under 128 bytes costs 4 bytes of framing, any other at most 5.
//! See `docs/wire.md`, "Channel frames".

use super::{Error, Reader, Writer};

/// Bytes of a channel id on the wire.
pub const CHANNEL_ID_LEN: usize = 3;
/// The largest value a [`varint`](emit_varint) holds: 14 bits.
pub const MAX_VARINT: usize = (1 << 14) - 1;
/// The most bytes a frame header takes (channel id and a 2-byte length).
pub const MAX_FRAME_HEADER_LEN: usize = CHANNEL_ID_LEN + 2;

/// A 24-bit channel id.
///
/// # Examples
///
/// ```
/// use berth::wire::frame::ChannelId;
///
/// let chat = ChannelId::new(7).unwrap();
/// assert!(chat.is_application());
/// assert!(ChannelId::new(1 << 24).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelId(u32);

impl ChannelId {
    /// The engine's channel: acks.
    pub const ENGINE: Self = Self(0);
    /// What raw-mode messages (plain netcode payloads) carry as their
    /// channel: the engine's id, which no application channel can have.
    pub const RAW: Self = Self::ENGINE;
    /// The first id of the block reserved for protocols berth layers on
    /// top of channels (they declare theirs with
    /// `TableBuilder::reserved_channel`); no application channel is in it.
    pub const RESERVED_FIRST: Self = Self(0xFF_0000);
    /// The largest id: 24 bits.
    pub const MAX: Self = Self(0xFF_FFFF);

    /// A channel id from 16 bits, which always fit.
    pub const fn from_u16(id: u16) -> Self {
        Self(id as u32)
    }

    /// The channel `id`, or `None` when it does not fit in 24 bits.
    pub const fn new(id: u32) -> Option<Self> {
        if id <= Self::MAX.0 {
            Some(Self(id))
        } else {
            None
        }
    }

    /// The id as a number.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Whether the application may use this id (not the engine's, not in
    /// the reserved block).
    pub const fn is_application(self) -> bool {
        self.0 != Self::ENGINE.0 && self.0 < Self::RESERVED_FIRST.0
    }

    /// Whether this id is in the reserved block.
    pub const fn is_reserved(self) -> bool {
        self.0 >= Self::RESERVED_FIRST.0
    }

    /// Reads 3 little-endian bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`].
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let [a, b, c] = *r.array::<CHANNEL_ID_LEN>()?;
        Ok(Self(u32::from_le_bytes([a, b, c, 0])))
    }

    /// Writes 3 little-endian bytes.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`].
    pub fn emit(self, w: &mut Writer<'_>) -> Result<(), Error> {
        let [a, b, c, _] = self.0.to_le_bytes();
        w.bytes(&[a, b, c])
    }
}

impl std::fmt::Display for ChannelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "channel {:#08x}", self.0)
    }
}

/// Bytes [`emit_varint`] writes for `value`.
pub const fn varint_len(value: usize) -> usize {
    if value < 0x80 { 1 } else { 2 }
}

/// Writes a length of up to [`MAX_VARINT`]: one byte below 128; else the
/// low 7 bits with the top bit set, then the high 7 bits.
///
/// # Errors
///
/// [`Error::BadLength`] above [`MAX_VARINT`]; [`Error::BufferTooSmall`].
pub fn emit_varint(value: usize, w: &mut Writer<'_>) -> Result<(), Error> {
    match value {
        0..0x80 => w.u8(value as u8),
        0x80..=MAX_VARINT => w.bytes(&[0x80 | (value & 0x7f) as u8, (value >> 7) as u8]),
        _ => Err(Error::BadLength { len: value }),
    }
}

/// Reads what [`emit_varint`] writes.
///
/// # Errors
///
/// [`Error::Truncated`]; [`Error::BadVarint`] for a second byte with its
/// top bit set, or a two-byte form of a value under 128 (each value has one
/// encoding).
pub fn parse_varint(r: &mut Reader<'_>) -> Result<usize, Error> {
    let first = r.u8()?;
    if first < 0x80 {
        return Ok(usize::from(first));
    }
    let second = r.u8()?;
    if second >= 0x80 || second == 0 {
        return Err(Error::BadVarint);
    }
    Ok(usize::from(first & 0x7f) | (usize::from(second) << 7))
}

/// One frame: a channel and the body it carries, borrowed from the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The channel the body belongs to.
    pub channel: ChannelId,
    /// The body, laid out by the channel's kind.
    pub body: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Reads one frame.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] when the header or body runs past the input;
    /// [`Error::BadVarint`].
    pub fn parse(r: &mut Reader<'a>) -> Result<Self, Error> {
        let channel = ChannelId::parse(r)?;
        let len = parse_varint(r)?;
        Ok(Self {
            channel,
            body: r.bytes(len)?,
        })
    }

    /// Writes the frame.
    ///
    /// # Errors
    ///
    /// [`Error::BadLength`] for a body over [`MAX_VARINT`] bytes;
    /// [`Error::BufferTooSmall`].
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        emit_header(self.channel, self.body.len(), w)?;
        w.bytes(self.body)
    }

    /// Bytes the frame takes on the wire.
    pub const fn encoded_len(&self) -> usize {
        header_len(self.body.len()) + self.body.len()
    }
}

/// Bytes of a frame header for a body of `body_len` bytes.
pub const fn header_len(body_len: usize) -> usize {
    CHANNEL_ID_LEN + varint_len(body_len)
}

/// Writes a frame header; the caller writes `body_len` bytes of body next.
///
/// # Errors
///
/// As [`Frame::emit`].
pub fn emit_header(channel: ChannelId, body_len: usize, w: &mut Writer<'_>) -> Result<(), Error> {
    if body_len > MAX_VARINT {
        return Err(Error::BadLength { len: body_len });
    }
    channel.emit(w)?;
    emit_varint(body_len, w)
}

/// The frames of a plaintext, in order; stops after the first error.
///
/// # Examples
///
/// ```
/// use berth::wire::Writer;
/// use berth::wire::frame::{ChannelId, Frame, Frames};
///
/// let mut buf = [0u8; 32];
/// let mut w = Writer::new(&mut buf);
/// let frame = Frame { channel: ChannelId::new(5).unwrap(), body: b"hi" };
/// frame.emit(&mut w).unwrap();
/// let len = w.len();
/// assert_eq!(len, 6); // 3-byte channel, 1-byte length, 2-byte body
/// let frames: Vec<_> = Frames::new(&buf[..len]).collect();
/// assert_eq!(frames, [Ok(frame)]);
/// ```
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    reader: Reader<'a>,
    failed: bool,
}

impl<'a> Frames<'a> {
    /// Starts reading the frames of `plaintext`.
    pub const fn new(plaintext: &'a [u8]) -> Self {
        Self {
            reader: Reader::new(plaintext),
            failed: false,
        }
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.reader.remaining() == 0 {
            return None;
        }
        let frame = Frame::parse(&mut self.reader);
        self.failed = frame.is_err();
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint_bytes(value: usize) -> Vec<u8> {
        let mut buf = [0u8; 2];
        let mut w = Writer::new(&mut buf);
        emit_varint(value, &mut w).unwrap();
        let len = w.len();
        buf[..len].to_vec()
    }

    #[test]
    fn varints_round_trip_at_their_edges() {
        for value in [0, 1, 127, 128, 300, 1200, MAX_VARINT] {
            let bytes = varint_bytes(value);
            assert_eq!(bytes.len(), varint_len(value));
            assert_eq!(parse_varint(&mut Reader::new(&bytes)), Ok(value));
        }
        assert_eq!(varint_bytes(128), [0x80, 0x01]);
        let mut buf = [0u8; 2];
        assert_eq!(
            emit_varint(MAX_VARINT + 1, &mut Writer::new(&mut buf)),
            Err(Error::BadLength {
                len: MAX_VARINT + 1
            })
        );
    }

    #[test]
    fn varints_have_one_encoding() {
        // 5 as two bytes, and a third byte promised.
        assert_eq!(
            parse_varint(&mut Reader::new(&[0x85, 0x00])),
            Err(Error::BadVarint)
        );
        assert_eq!(
            parse_varint(&mut Reader::new(&[0x85, 0x80])),
            Err(Error::BadVarint)
        );
        assert!(matches!(
            parse_varint(&mut Reader::new(&[0x85])),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn channel_ids_are_24_bits_little_endian() {
        let id = ChannelId::new(0x12_3456).unwrap();
        let mut buf = [0u8; 3];
        id.emit(&mut Writer::new(&mut buf)).unwrap();
        assert_eq!(buf, [0x56, 0x34, 0x12]);
        assert_eq!(ChannelId::parse(&mut Reader::new(&buf)), Ok(id));
        assert!(!ChannelId::ENGINE.is_application());
        let first = ChannelId::RESERVED_FIRST;
        assert!(first.is_reserved() && !first.is_application());
        assert!(ChannelId::new(0xFE_FFFF).unwrap().is_application());
    }

    #[test]
    fn small_frames_cost_at_most_five_bytes() {
        assert_eq!(header_len(127), 4);
        assert_eq!(header_len(1200), 5);
    }

    #[test]
    fn a_frame_running_past_the_packet_is_an_error_and_stops_the_walk() {
        // channel 1, length 5, but only 2 body bytes; then more bytes.
        let bytes = [1, 0, 0, 5, 0xaa, 0xbb];
        let mut frames = Frames::new(&bytes);
        assert!(matches!(frames.next(), Some(Err(Error::Truncated { .. }))));
        assert_eq!(frames.next(), None);
    }
}
