//! Bytes to typed values and back: the netcode.io 1.02 wire formats.
//!
//! # Contract
//!
//! Every format here is a parse/emit pair (`docs/wire.md` has the byte
//! offsets):
//!
//! - **parse never panics.** Every read goes through the bounded [`Reader`],
//!   which checks the length before it reads; no slice is indexed by a value
//!   from the wire; every length, count and enum is validated before it is
//!   used. A malformed input is an [`Error`], whatever its length or content.
//! - **emit never panics** into a buffer of at least the format's documented
//!   length, and emits only values that parse back equal.
//! - nothing allocates: values borrow from the input, and emit writes into a
//!   caller buffer.
//!
//! This layer knows the layouts and the AEAD framing (through
//! [`crate::crypto`]); it knows nothing of sockets, clocks or connection state.

pub mod address;
pub mod challenge_token;
pub mod connect_token;
pub mod frame;
pub mod frame_body;
pub mod packet;
pub mod prefix;

/// Why bytes from the network were rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before a field that must be there.
    #[error("truncated: needed {needed} more bytes, {remaining} remain")]
    Truncated {
        /// Bytes the next field needs.
        needed: usize,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A buffer given to emit is too small for the value.
    #[error("output buffer too small: needed {needed} bytes, have {available}")]
    BufferTooSmall {
        /// Bytes the value needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// The low nibble of the prefix byte is not a packet type (7..=15).
    #[error("bad packet type {0}")]
    BadPacketType(u8),
    /// The prefix byte's sequence length is over 8.
    #[error("bad sequence length {0}")]
    BadSequenceLen(u8),
    /// The packet's length is wrong for its type.
    #[error("bad length {len} for this packet type")]
    BadLength {
        /// The length seen.
        len: usize,
    },
    /// The version string is not `"NETCODE 1.02\0"`.
    #[error("unsupported protocol version")]
    BadVersion,
    /// An address record's type byte is neither 1 (IPv4) nor 2 (IPv6).
    #[error("bad address type {0}")]
    BadAddressType(u8),
    /// A token names no server, or more than 32.
    #[error("bad server address count {0}")]
    BadAddressCount(u32),
    /// A token's fields overflow their fixed-size region.
    #[error("token fields do not fit in the token")]
    TokenOverflow,
    /// A token's create timestamp is after its expire timestamp.
    #[error("token created after it expires")]
    BadTimestamps,
    /// A two-byte length with its second byte's top bit set, or in two
    /// bytes where one would do.
    #[error("bad varint")]
    BadVarint,
    /// An engine frame of a kind this version does not know.
    #[error("bad engine frame kind {0}")]
    BadFrameKind(u8),
    /// A yes/no byte that is neither 0 nor 1 (each value has one encoding).
    #[error("bad flag byte {0}: must be 0 or 1")]
    BadFlag(u8),
    /// A fragment whose index is not below its count, whose count is under
    /// 2, or that carries no bytes.
    #[error("bad fragment {index} of {count}")]
    BadFragment {
        /// The fragment's index.
        index: u16,
        /// The fragment count it claims.
        count: u16,
    },
    /// AEAD authentication failed.
    #[error("authentication failed")]
    Crypto(#[from] crate::crypto::OpenError),
}

/// A bounded little-endian reader over untrusted bytes.
///
/// Each read checks the remaining length first and returns
/// [`Error::Truncated`] instead of panicking.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts reading `bytes`.
    pub const fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Bytes not read yet.
    pub const fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The unread bytes, consuming the reader.
    pub const fn into_rest(self) -> &'a [u8] {
        self.rest
    }

    /// Reads the next `len` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] when fewer than `len` bytes remain.
    pub fn bytes(&mut self, len: usize) -> Result<&'a [u8], Error> {
        match self.rest.split_at_checked(len) {
            Some((head, tail)) => {
                self.rest = tail;
                Ok(head)
            }
            None => Err(Error::Truncated {
                needed: len,
                remaining: self.rest.len(),
            }),
        }
    }

    /// Reads the next `N` bytes as an array reference.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] when fewer than `N` bytes remain.
    pub fn array<const N: usize>(&mut self) -> Result<&'a [u8; N], Error> {
        match self.rest.split_first_chunk::<N>() {
            Some((head, tail)) => {
                self.rest = tail;
                Ok(head)
            }
            None => Err(Error::Truncated {
                needed: N,
                remaining: self.rest.len(),
            }),
        }
    }

    /// Reads a `u8`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] at the end of input.
    pub fn u8(&mut self) -> Result<u8, Error> {
        self.array::<1>().map(|b| b[0])
    }

    /// Reads a little-endian `u16`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] when fewer than 2 bytes remain.
    pub fn u16(&mut self) -> Result<u16, Error> {
        self.array().map(|b| u16::from_le_bytes(*b))
    }

    /// Reads a little-endian `u32`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] when fewer than 4 bytes remain.
    pub fn u32(&mut self) -> Result<u32, Error> {
        self.array().map(|b| u32::from_le_bytes(*b))
    }

    /// Reads a little-endian `u64`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] when fewer than 8 bytes remain.
    pub fn u64(&mut self) -> Result<u64, Error> {
        self.array().map(|b| u64::from_le_bytes(*b))
    }
}

/// A bounded little-endian writer into a caller buffer.
///
/// Each write checks the space left first and returns
/// [`Error::BufferTooSmall`] instead of panicking.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    /// Starts writing at the beginning of `buf`.
    pub const fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Bytes written so far.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes left in the buffer.
    pub const fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }

    /// Takes the next `len` bytes of the buffer for the caller to fill.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] when fewer than `len` bytes are left.
    pub fn reserve(&mut self, len: usize) -> Result<&mut [u8], Error> {
        let start = self.len;
        let available = self.buf.len();
        match start
            .checked_add(len)
            .and_then(|end| self.buf.get_mut(start..end))
        {
            Some(space) => {
                self.len = start + len;
                Ok(space)
            }
            None => Err(Error::BufferTooSmall {
                needed: start.saturating_add(len),
                available,
            }),
        }
    }

    /// Writes `bytes`.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] when they do not fit.
    pub fn bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.reserve(bytes.len())?.copy_from_slice(bytes);
        Ok(())
    }

    /// Writes a `u8`.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] when it does not fit.
    pub fn u8(&mut self, value: u8) -> Result<(), Error> {
        self.bytes(&[value])
    }

    /// Writes a little-endian `u16`.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] when it does not fit.
    pub fn u16(&mut self, value: u16) -> Result<(), Error> {
        self.bytes(&value.to_le_bytes())
    }

    /// Writes a little-endian `u32`.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] when it does not fit.
    pub fn u32(&mut self, value: u32) -> Result<(), Error> {
        self.bytes(&value.to_le_bytes())
    }

    /// Writes a little-endian `u64`.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] when it does not fit.
    pub fn u64(&mut self, value: u64) -> Result<(), Error> {
        self.bytes(&value.to_le_bytes())
    }

    /// Fills the rest of the buffer with zeros and returns the whole length.
    pub fn zero_pad_to_end(self) -> usize {
        let end = self.buf.len();
        if let Some(rest) = self.buf.get_mut(self.len..) {
            rest.fill(0);
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reports_truncation_instead_of_panicking() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16().unwrap(), 0x0201);
        assert_eq!(
            r.u32(),
            Err(Error::Truncated {
                needed: 4,
                remaining: 1
            })
        );
        assert_eq!(r.u8().unwrap(), 3);
        assert!(r.u8().is_err());
        assert_eq!(
            r.bytes(usize::MAX).unwrap_err(),
            Error::Truncated {
                needed: usize::MAX,
                remaining: 0
            }
        );
    }

    #[test]
    fn writer_reports_overflow_instead_of_panicking() {
        let mut buf = [0xffu8; 6];
        let mut w = Writer::new(&mut buf);
        w.u32(0x0403_0201).unwrap();
        assert_eq!(
            w.u32(1),
            Err(Error::BufferTooSmall {
                needed: 8,
                available: 6
            })
        );
        assert!(w.reserve(usize::MAX).is_err());
        assert_eq!(w.len(), 4);
        assert_eq!(w.zero_pad_to_end(), 6);
        assert_eq!(buf, [1, 2, 3, 4, 0, 0]);
    }
}
