//! Frame bodies: what follows a frame header, by channel kind.
//!
//! | kind | body |
//! |---|---|
//! | engine (channel 0) | `kind: u8`, then for an ack (kind 0): `largest: u32`, `bits: u32` |
//! | unreliable | the message itself |
//! | unreliable-sequenced | `sequence: u16`, then the message |
//! | reliable, whole messages | `head: u16` (top bit 0: the first message's 15-bit id), then per message `len: varint`, `bytes` (ids count up from the first) |
//! | reliable, one fragment | `head: u16` (top bit 1, then the message id), `index: u16`, `count: u16`, then the fragment's bytes |
//!
//! All little-endian; see `docs/wire.md`, "Channel frames".

use super::frame::{emit_varint, parse_varint, varint_len};
use super::{Error, Reader, Writer};

/// Engine frame kind: an ack.
pub const ACK_KIND: u8 = 0;
/// Bytes of an ack frame's body.
pub const ACK_BODY_LEN: usize = 9;
/// Bytes of a reliable body's head (the whole-messages form).
pub const RELIABLE_HEAD_LEN: usize = 2;
/// Bytes of a fragment body's fixed part: head, index, count.
pub const FRAGMENT_HEAD_LEN: usize = 6;
/// Bytes of a sequenced body's fixed part.
pub const SEQUENCED_HEAD_LEN: usize = 2;
/// The flag in a reliable head that marks a fragment.
const FRAGMENT_FLAG: u16 = 0x8000;

/// A reliable message's id: 15 bits, counting up and wrapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MessageId(u16);

impl MessageId {
    /// Ids wrap at this many.
    pub const SPACE: u16 = 0x8000;

    /// The id `id` modulo [`MessageId::SPACE`].
    pub const fn wrapping(id: u16) -> Self {
        Self(id % Self::SPACE)
    }

    /// The id as a number below [`MessageId::SPACE`].
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The id `n` after this one.
    pub const fn add(self, n: u16) -> Self {
        Self::wrapping(self.0.wrapping_add(n))
    }

    /// How far `self` is ahead of `base`, modulo the id space.
    pub const fn since(self, base: Self) -> u16 {
        self.0.wrapping_sub(base.0) % Self::SPACE
    }
}

/// Which packets arrived: the newest one's number (its low 32 bits) and the
/// 32 before it as a bitmap, bit `i` for number `largest - 1 - i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// Low 32 bits of the largest packet number received.
    pub largest: u32,
    /// Bit `i` set: packet `largest - 1 - i` was received.
    pub bits: u32,
}

impl Ack {
    /// Reads an engine frame's body.
    ///
    /// # Errors
    ///
    /// [`Error::BadFrameKind`] for a kind other than [`ACK_KIND`];
    /// [`Error::BadLength`] when bytes follow the ack; [`Error::Truncated`].
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let kind = r.u8()?;
        if kind != ACK_KIND {
            return Err(Error::BadFrameKind(kind));
        }
        let ack = Self {
            largest: r.u32()?,
            bits: r.u32()?,
        };
        if r.remaining() != 0 {
            return Err(Error::BadLength { len: body.len() });
        }
        Ok(ack)
    }

    /// Writes the body ([`ACK_BODY_LEN`] bytes).
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`].
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u8(ACK_KIND)?;
        w.u32(self.largest)?;
        w.u32(self.bits)
    }
}

/// An unreliable-sequenced message: its channel sequence and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequencedBody<'a> {
    /// Counts up per channel, wrapping at 2^16.
    pub sequence: u16,
    /// The message.
    pub message: &'a [u8],
}

impl<'a> SequencedBody<'a> {
    /// Reads the body.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] below 2 bytes.
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let sequence = r.u16()?;
        Ok(Self {
            sequence,
            message: r.into_rest(),
        })
    }

    /// Writes the body.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`].
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u16(self.sequence)?;
        w.bytes(self.message)
    }
}

/// One fragment of a reliable message too big for a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentBody<'a> {
    /// The message it belongs to.
    pub id: MessageId,
    /// Its place, below `count`.
    pub index: u16,
    /// How many fragments the message has, at least 2.
    pub count: u16,
    /// Its bytes, at least one.
    pub data: &'a [u8],
}

/// A reliable channel's frame body.
#[derive(Debug, Clone)]
pub enum ReliableBody<'a> {
    /// Whole messages with consecutive ids from `first`.
    Messages {
        /// The first message's id.
        first: MessageId,
        /// The messages, in id order.
        messages: Messages<'a>,
    },
    /// One fragment of a large message.
    Fragment(FragmentBody<'a>),
}

impl<'a> ReliableBody<'a> {
    /// Reads the body. Whole messages are read lazily through
    /// [`Messages`], which yields an error for a bad one.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`]; [`Error::BadFragment`] for a fragment with a
    /// count under 2, an index not below its count, or no bytes.
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let head = r.u16()?;
        let id = MessageId::wrapping(head);
        if head & FRAGMENT_FLAG == 0 {
            if r.remaining() == 0 {
                return Err(Error::Truncated {
                    needed: 1,
                    remaining: 0,
                });
            }
            return Ok(Self::Messages {
                first: id,
                messages: Messages { reader: r },
            });
        }
        let index = r.u16()?;
        let count = r.u16()?;
        let data = r.into_rest();
        if count < 2 || index >= count || data.is_empty() {
            return Err(Error::BadFragment { index, count });
        }
        Ok(Self::Fragment(FragmentBody {
            id,
            index,
            count,
            data,
        }))
    }

    /// Writes the head of a whole-messages body; each message follows
    /// through [`emit_message`].
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`].
    pub fn emit_messages_head(first: MessageId, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u16(first.get())
    }

    /// Writes a fragment body.
    ///
    /// # Errors
    ///
    /// [`Error::BadFragment`] for the shapes [`ReliableBody::parse`]
    /// rejects; [`Error::BufferTooSmall`].
    pub fn emit_fragment(fragment: &FragmentBody<'_>, w: &mut Writer<'_>) -> Result<(), Error> {
        let FragmentBody {
            id,
            index,
            count,
            data,
        } = *fragment;
        if count < 2 || index >= count || data.is_empty() {
            return Err(Error::BadFragment { index, count });
        }
        w.u16(id.get() | FRAGMENT_FLAG)?;
        w.u16(index)?;
        w.u16(count)?;
        w.bytes(data)
    }
}

/// Writes one message of a whole-messages body: its length, then its bytes.
///
/// # Errors
///
/// [`Error::BadLength`] over the varint's range; [`Error::BufferTooSmall`].
pub fn emit_message(message: &[u8], w: &mut Writer<'_>) -> Result<(), Error> {
    emit_varint(message.len(), w)?;
    w.bytes(message)
}

/// Bytes [`emit_message`] writes for a message of `len` bytes.
pub const fn message_len(len: usize) -> usize {
    varint_len(len) + len
}

/// The messages of a whole-messages body, in id order.
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    reader: Reader<'a>,
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<&'a [u8], Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.reader.remaining() == 0 {
            return None;
        }
        let message = parse_varint(&mut self.reader).and_then(|len| self.reader.bytes(len));
        if message.is_err() {
            // Nothing after a bad length can be trusted.
            self.reader = Reader::new(&[]);
        }
        Some(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emitted(f: impl FnOnce(&mut Writer<'_>) -> Result<(), Error>) -> Vec<u8> {
        let mut buf = [0u8; 512];
        let mut w = Writer::new(&mut buf);
        f(&mut w).unwrap();
        let len = w.len();
        buf[..len].to_vec()
    }

    #[test]
    fn an_ack_is_nine_bytes_and_round_trips() {
        let ack = Ack {
            largest: 0x0102_0304,
            bits: 0xf0f0_0001,
        };
        let bytes = emitted(|w| ack.emit(w));
        assert_eq!(bytes, [0, 4, 3, 2, 1, 1, 0, 0xf0, 0xf0]);
        assert_eq!(bytes.len(), ACK_BODY_LEN);
        assert_eq!(Ack::parse(&bytes), Ok(ack));
        assert_eq!(Ack::parse(&[9; 9]), Err(Error::BadFrameKind(9)));
        assert_eq!(Ack::parse(&[0; 10]), Err(Error::BadLength { len: 10 }));
    }

    #[test]
    fn whole_messages_read_back_in_order() {
        let bytes = emitted(|w| {
            ReliableBody::emit_messages_head(MessageId::wrapping(0x7fff), w)?;
            emit_message(b"a", w)?;
            emit_message(b"", w)?;
            emit_message(&[7; 200], w)
        });
        let ReliableBody::Messages { first, messages } = ReliableBody::parse(&bytes).unwrap()
        else {
            panic!("not messages")
        };
        assert_eq!(first.get(), 0x7fff);
        assert_eq!(first.add(1).get(), 0);
        let all: Vec<_> = messages.collect::<Result<_, _>>().unwrap();
        assert_eq!(all, [&b"a"[..], b"", &[7; 200]]);
    }

    #[test]
    fn a_message_running_past_its_body_ends_the_walk() {
        let mut messages = match ReliableBody::parse(&[1, 0, 9, 1]).unwrap() {
            ReliableBody::Messages { messages, .. } => messages,
            ReliableBody::Fragment(_) => panic!("not a fragment"),
        };
        assert!(matches!(
            messages.next(),
            Some(Err(Error::Truncated { .. }))
        ));
        assert_eq!(messages.next(), None);
    }

    #[test]
    fn fragments_round_trip_and_bad_shapes_are_rejected() {
        let fragment = FragmentBody {
            id: MessageId::wrapping(5),
            index: 2,
            count: 3,
            data: b"xyz",
        };
        let bytes = emitted(|w| ReliableBody::emit_fragment(&fragment, w));
        assert_eq!(&bytes[..FRAGMENT_HEAD_LEN], [5, 0x80, 2, 0, 3, 0]);
        assert!(matches!(
            ReliableBody::parse(&bytes),
            Ok(ReliableBody::Fragment(f)) if f == fragment
        ));
        for (index, count, data) in [(0u16, 1u16, 1usize), (3, 3, 1), (9, 3, 1), (0, 2, 0)] {
            let mut body = vec![5, 0x80];
            body.extend_from_slice(&index.to_le_bytes());
            body.extend_from_slice(&count.to_le_bytes());
            body.extend(std::iter::repeat_n(1, data));
            assert_eq!(
                ReliableBody::parse(&body).err(),
                Some(Error::BadFragment { index, count })
            );
        }
    }

    #[test]
    fn an_empty_messages_body_is_truncated() {
        assert!(matches!(
            ReliableBody::parse(&[3, 0]),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn message_ids_wrap_at_fifteen_bits() {
        let last = MessageId::wrapping(MessageId::SPACE - 1);
        assert_eq!(last.add(1), MessageId::wrapping(0));
        assert_eq!(MessageId::wrapping(3).since(last), 4);
        assert_eq!(MessageId::wrapping(0x8003), MessageId::wrapping(3));
    }
}
