//! The seven netcode.io packet kinds: the plain connection request and six encrypted packets.
//!
//! Connection request, unencrypted, exactly 1078 bytes (netcode-spec §4):
//!
//! | off | len | field |
//! |---|---|---|
//! | 0 | 1 | `0x00` |
//! | 1 | 13 | `VERSION` |
//! | 14 | 8 | protocol id |
//! | 22 | 8 | token expire timestamp |
//! | 30 | 24 | token nonce |
//! | 54 | 1024 | sealed private token |
//!
//! Encrypted packet: `prefix | sequence (0..=8 B) | ciphertext | tag (16)`,
//! sealed with ChaCha20-Poly1305 IETF under the direction's key, nonce
//! `[0; 4] | sequence LE`, AAD `VERSION | protocol id | prefix`. Body sizes
//! are exact: denied 0, challenge and response 308 (`challenge sequence u64 |
//! challenge token 300`), keep-alive 8 (`client index u32 | max clients u32`),
//! payload 1..=1200, disconnect 0.
//!
//! Reading an encrypted packet is two calls, so the caller can run its replay
//! check between them, before spending a decryption (netcode-spec §5):
//! [`parse_header`] checks everything that needs no key, then [`open`]
//! authenticates and decrypts in place and returns the [`Body`] borrowing the
//! datagram.
//!
//! # Security
//!
//! [`parse_header`] reads only the prefix and sequence; the body is
//! untouched until [`open`] has authenticated it.

use super::challenge_token;
use super::connect_token::{ConnectToken, PRIVATE_LEN};
use super::prefix::{Header, PacketType};
use super::{Error, Reader, Writer};
use crate::crypto::{MAC_LEN, PacketCipher, TOKEN_NONCE_LEN, VERSION};

/// Length of a connection request.
pub const REQUEST_LEN: usize = 1 + VERSION.len() + 8 + 8 + TOKEN_NONCE_LEN + PRIVATE_LEN;
/// Largest application payload in one packet.
pub const MAX_PAYLOAD_LEN: usize = 1200;
/// Largest encrypted packet: a full payload with an 8-byte sequence.
pub const MAX_ENCRYPTED_LEN: usize = 1 + 8 + MAX_PAYLOAD_LEN + MAC_LEN;
/// Largest datagram netcode sends: a full payload packet (1225), longer than a request (1078).
pub const MAX_PACKET_LEN: usize = if MAX_ENCRYPTED_LEN > REQUEST_LEN {
    MAX_ENCRYPTED_LEN
} else {
    REQUEST_LEN
};
/// Body length of challenge and response packets.
pub const CHALLENGE_BODY_LEN: usize = 8 + challenge_token::TOKEN_LEN;
/// Body length of keep-alive packets.
pub const KEEP_ALIVE_BODY_LEN: usize = 8;
const AAD_LEN: usize = VERSION.len() + 8 + 1;

/// A connection request: what a client sends first, in the clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionRequest<'a> {
    /// The protocol id from the token.
    pub protocol_id: u64,
    /// The token's expire timestamp, unix seconds.
    pub expire_unix_secs: u64,
    /// The nonce of the sealed private token.
    pub nonce: &'a [u8; TOKEN_NONCE_LEN],
    /// The sealed private token.
    pub private: &'a [u8; PRIVATE_LEN],
}

impl<'a> ConnectionRequest<'a> {
    /// The request a client sends for `token`.
    pub const fn from_token(token: &'a ConnectToken) -> Self {
        Self {
            protocol_id: token.protocol_id,
            expire_unix_secs: token.expire_unix_secs,
            nonce: &token.nonce,
            private: &token.private,
        }
    }

    /// Reads a connection request. Checks layout only: protocol id and expiry are the caller's.
    ///
    /// # Errors
    ///
    /// [`Error::BadLength`] unless exactly 1078 bytes; [`Error::BadPacketType`]
    /// unless the first byte is 0; [`Error::BadVersion`].
    pub fn parse(datagram: &'a [u8]) -> Result<Self, Error> {
        if datagram.len() != REQUEST_LEN {
            return Err(Error::BadLength {
                len: datagram.len(),
            });
        }
        let mut r = Reader::new(datagram);
        let prefix = r.u8()?;
        if prefix != 0 {
            return Err(Error::BadPacketType(prefix & 0x0f));
        }
        if r.array::<13>()? != &VERSION {
            return Err(Error::BadVersion);
        }
        Ok(Self {
            protocol_id: r.u64()?,
            expire_unix_secs: r.u64()?,
            nonce: r.array()?,
            private: r.array()?,
        })
    }

    /// Writes the request into `out`, returning its length (1078).
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] when `out` is shorter than 1078 bytes.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(out);
        w.u8(0)?;
        w.bytes(&VERSION)?;
        w.u64(self.protocol_id)?;
        w.u64(self.expire_unix_secs)?;
        w.bytes(self.nonce)?;
        w.bytes(self.private)?;
        Ok(w.len())
    }
}

/// The decrypted body of an encrypted packet, borrowing the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// The server is full.
    Denied,
    /// The server's challenge.
    Challenge {
        /// Sequence the challenge token was sealed under.
        challenge_sequence: u64,
        /// The sealed challenge token.
        token: &'a [u8; challenge_token::TOKEN_LEN],
    },
    /// The client's echo of a challenge.
    Response {
        /// Sequence the challenge token was sealed under.
        challenge_sequence: u64,
        /// The sealed challenge token.
        token: &'a [u8; challenge_token::TOKEN_LEN],
    },
    /// Keep-alive; from the server it also tells the client its slot.
    KeepAlive {
        /// The client's slot on the server (0 from clients).
        client_index: u32,
        /// The server's slot count (0 from clients).
        max_clients: u32,
    },
    /// Application data, 1..=1200 bytes.
    Payload(&'a [u8]),
    /// The sender is ending the connection.
    Disconnect,
}

impl Body<'_> {
    /// The packet type this body travels as.
    pub const fn packet_type(&self) -> PacketType {
        match self {
            Self::Denied => PacketType::Denied,
            Self::Challenge { .. } => PacketType::Challenge,
            Self::Response { .. } => PacketType::Response,
            Self::KeepAlive { .. } => PacketType::KeepAlive,
            Self::Payload(_) => PacketType::Payload,
            Self::Disconnect => PacketType::Disconnect,
        }
    }

    /// Plaintext length of the body.
    pub const fn encoded_len(&self) -> usize {
        match self {
            Self::Denied | Self::Disconnect => 0,
            Self::Challenge { .. } | Self::Response { .. } => CHALLENGE_BODY_LEN,
            Self::KeepAlive { .. } => KEEP_ALIVE_BODY_LEN,
            Self::Payload(bytes) => bytes.len(),
        }
    }

    fn emit_plain(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        match self {
            Self::Denied | Self::Disconnect => Ok(()),
            Self::Challenge {
                challenge_sequence,
                token,
            }
            | Self::Response {
                challenge_sequence,
                token,
            } => {
                w.u64(*challenge_sequence)?;
                w.bytes(*token)
            }
            Self::KeepAlive {
                client_index,
                max_clients,
            } => {
                w.u32(*client_index)?;
                w.u32(*max_clients)
            }
            Self::Payload(bytes) => {
                if bytes.is_empty() || bytes.len() > MAX_PAYLOAD_LEN {
                    return Err(Error::BadLength { len: bytes.len() });
                }
                w.bytes(bytes)
            }
        }
    }
}

impl<'a> Body<'a> {
    fn parse(packet_type: PacketType, plain: &'a [u8]) -> Result<Self, Error> {
        let len = plain.len();
        let bad = Error::BadLength { len };
        let mut r = Reader::new(plain);
        let body = match packet_type {
            PacketType::Request => return Err(Error::BadPacketType(0)),
            PacketType::Denied if len == 0 => Self::Denied,
            PacketType::Disconnect if len == 0 => Self::Disconnect,
            PacketType::Challenge if len == CHALLENGE_BODY_LEN => Self::Challenge {
                challenge_sequence: r.u64()?,
                token: r.array()?,
            },
            PacketType::Response if len == CHALLENGE_BODY_LEN => Self::Response {
                challenge_sequence: r.u64()?,
                token: r.array()?,
            },
            PacketType::KeepAlive if len == KEEP_ALIVE_BODY_LEN => Self::KeepAlive {
                client_index: r.u32()?,
                max_clients: r.u32()?,
            },
            PacketType::Payload if (1..=MAX_PAYLOAD_LEN).contains(&len) => Self::Payload(plain),
            _ => return Err(bad),
        };
        Ok(body)
    }
}

/// The packet AAD: `VERSION | protocol id | prefix`.
fn aad(protocol_id: u64, prefix: u8) -> [u8; AAD_LEN] {
    let mut aad = [0u8; AAD_LEN];
    let (version, rest) = aad.split_at_mut(VERSION.len());
    version.copy_from_slice(&VERSION);
    let (id, last) = rest.split_at_mut(8);
    id.copy_from_slice(&protocol_id.to_le_bytes());
    last.fill(prefix);
    aad
}

/// Seals `body` as an encrypted packet into `out`, returning the packet's length.
///
/// # Errors
///
/// [`Error::BufferTooSmall`] when `out` cannot hold the packet
/// ([`MAX_ENCRYPTED_LEN`] always can); [`Error::BadLength`] for an empty
/// payload or one over [`MAX_PAYLOAD_LEN`].
pub fn seal(
    body: &Body<'_>,
    sequence: u64,
    protocol_id: u64,
    cipher: &PacketCipher,
    out: &mut [u8],
) -> Result<usize, Error> {
    let header = Header::new(body.packet_type(), sequence);
    let mut w = Writer::new(out);
    header.emit(&mut w)?;
    let body_start = w.len();
    body.emit_plain(&mut w)?;
    let body_end = w.len();
    seal_in_place(&header, protocol_id, cipher, out, body_start, body_end)
}

/// Seals a payload packet whose plaintext `fill` writes straight into
/// `out`, so a channel layer frames messages where they will be encrypted.
/// `fill` gets at most [`MAX_PAYLOAD_LEN`] bytes and returns how many it
/// wrote; 0 means no packet, and `Ok(0)` is returned.
///
/// # Errors
///
/// [`Error::BufferTooSmall`] when `out` cannot hold a full payload packet
/// ([`MAX_ENCRYPTED_LEN`] always can); [`Error::BadLength`] when `fill`
/// claims more bytes than it was given.
pub fn seal_payload_with(
    sequence: u64,
    protocol_id: u64,
    cipher: &PacketCipher,
    out: &mut [u8],
    fill: &mut dyn FnMut(&mut [u8]) -> usize,
) -> Result<usize, Error> {
    let header = Header::new(PacketType::Payload, sequence);
    let mut w = Writer::new(out);
    header.emit(&mut w)?;
    let body_start = w.len();
    let room = w.remaining().saturating_sub(MAC_LEN).min(MAX_PAYLOAD_LEN);
    let len = fill(w.reserve(room)?);
    if len == 0 {
        return Ok(0);
    }
    if len > room {
        return Err(Error::BadLength { len });
    }
    seal_in_place(
        &header,
        protocol_id,
        cipher,
        out,
        body_start,
        body_start + len,
    )
}

/// Encrypts `out[body_start..body_end]` in place and appends the tag.
fn seal_in_place(
    header: &Header,
    protocol_id: u64,
    cipher: &PacketCipher,
    out: &mut [u8],
    body_start: usize,
    body_end: usize,
) -> Result<usize, Error> {
    let available = out.len();
    let (plain, tag_out) = out
        .get_mut(body_start..body_end + MAC_LEN)
        .ok_or(Error::BufferTooSmall {
            needed: body_end + MAC_LEN,
            available,
        })?
        .split_at_mut(body_end - body_start);
    let tag = cipher.seal(header.sequence(), &aad(protocol_id, header.prefix()), plain);
    tag_out.copy_from_slice(&tag);
    Ok(body_end + MAC_LEN)
}

/// Reads the header of an encrypted packet and checks it can hold a tag.
///
/// # Errors
///
/// [`Error::BadPacketType`] for type 0 (a request is not encrypted) or 7..=15;
/// [`Error::BadSequenceLen`]; [`Error::Truncated`] when no room is left for
/// the tag.
pub fn parse_header(datagram: &[u8]) -> Result<Header, Error> {
    let mut r = Reader::new(datagram);
    let header = Header::parse(&mut r)?;
    if header.packet_type() == PacketType::Request {
        return Err(Error::BadPacketType(0));
    }
    if r.remaining() < MAC_LEN {
        return Err(Error::Truncated {
            needed: MAC_LEN,
            remaining: r.remaining(),
        });
    }
    Ok(header)
}

/// Authenticates and decrypts the packet in place; `header` is [`parse_header`]'s result.
///
/// # Errors
///
/// [`Error::Crypto`] when it does not authenticate; [`Error::BadLength`] when
/// the body's size is wrong for its type.
pub fn open<'a>(
    datagram: &'a mut [u8],
    header: &Header,
    protocol_id: u64,
    cipher: &PacketCipher,
) -> Result<Body<'a>, Error> {
    let body = datagram
        .get_mut(header.encoded_len()..)
        .ok_or(Error::Truncated {
            needed: header.encoded_len(),
            remaining: 0,
        })?;
    let plain_len = body.len().checked_sub(MAC_LEN).ok_or(Error::Truncated {
        needed: MAC_LEN,
        remaining: body.len(),
    })?;
    let (plain, tag) = body.split_at_mut(plain_len);
    let tag: &[u8; MAC_LEN] = (&*tag)
        .try_into()
        .map_err(|_| Error::BadLength { len: plain_len })?;
    cipher.open(
        header.sequence(),
        &aad(protocol_id, header.prefix()),
        plain,
        tag,
    )?;
    Body::parse(header.packet_type(), plain)
}
