//! Connect tokens: the 2048-byte public token and its 1024-byte sealed private part.
//!
//! Public token (`docs/wire.md`, netcode-spec §2):
//!
//! | off | len | field |
//! |---|---|---|
//! | 0 | 13 | `VERSION` |
//! | 13 | 8 | protocol id |
//! | 21 | 8 | create timestamp, unix seconds |
//! | 29 | 8 | expire timestamp, unix seconds |
//! | 37 | 24 | nonce of the private part |
//! | 61 | 1024 | sealed private part |
//! | 1085 | 4 | timeout seconds (`i32`, negative: none) |
//! | 1089 | 4 | server address count, 1..=32 |
//! | 1093 | 7/19 each | address records the client sends to |
//! | .. | 32 | client-to-server key |
//! | .. | 32 | server-to-client key |
//! | .. | to 2048 | zeros |
//!
//! Private part, before sealing (netcode-spec §1): client id `u64`, timeout
//! `i32`, address count `u32`, address records (the addresses each server
//! compares with its own), both keys, 256 bytes of user data, zeros to byte
//! 1008. XChaCha20-Poly1305 seals bytes 0..1008 with the private key, the
//! token nonce and AAD `VERSION | protocol id | expire timestamp`; the tag
//! fills bytes 1008..1024.
//!
//! # Security
//!
//! The private part is opened only with the server's private key; nothing in
//! it is read before authentication. The public part is read only by the
//! client it was issued to.

use super::{Error, Reader, Writer, address};
use crate::crypto::{self, KEY_LEN, Key, MAC_LEN, TOKEN_NONCE_LEN, VERSION};
use std::net::SocketAddr;

/// Length of a connect token.
pub const TOKEN_LEN: usize = 2048;
/// Length of the sealed private part, tag included.
pub const PRIVATE_LEN: usize = 1024;
/// Length of the private part's plaintext region (the rest is the tag).
pub const PRIVATE_PLAIN_LEN: usize = PRIVATE_LEN - MAC_LEN;
/// Length of the application's user data.
pub const USER_DATA_LEN: usize = 256;
/// Most server addresses a token may carry.
pub const MAX_SERVERS: usize = 32;
/// Length of the token AAD: version, protocol id, expire timestamp.
const AAD_LEN: usize = VERSION.len() + 8 + 8;

/// Opaque application data carried from the token issuer to the server.
pub type UserData = [u8; USER_DATA_LEN];

/// One to 32 server addresses, stored inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ServerAddresses {
    addrs: [SocketAddr; MAX_SERVERS],
    len: u8,
}

impl ServerAddresses {
    /// Copies `addrs`, cleared of IPv6 flow info and scope id (see [`address::normalize`]).
    ///
    /// # Errors
    ///
    /// [`Error::BadAddressCount`] for an empty list or one over 32.
    pub fn new(addrs: &[SocketAddr]) -> Result<Self, Error> {
        let len = addrs.len();
        if len == 0 || len > MAX_SERVERS {
            return Err(Error::BadAddressCount(
                u32::try_from(len).unwrap_or(u32::MAX),
            ));
        }
        let mut out = Self::empty();
        for (dst, src) in out.addrs.iter_mut().zip(addrs) {
            *dst = address::normalize(*src);
        }
        out.len = len as u8;
        Ok(out)
    }

    const fn empty() -> Self {
        Self {
            addrs: [SocketAddr::V4(std::net::SocketAddrV4::new(
                std::net::Ipv4Addr::UNSPECIFIED,
                0,
            )); MAX_SERVERS],
            len: 0,
        }
    }

    /// The addresses in token order.
    pub fn as_slice(&self) -> &[SocketAddr] {
        self.addrs.get(..self.len as usize).unwrap_or(&[])
    }

    fn encoded_len(&self) -> usize {
        4 + self
            .as_slice()
            .iter()
            .map(address::encoded_len)
            .sum::<usize>()
    }

    fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let count = r.u32()?;
        if count == 0 || count as usize > MAX_SERVERS {
            return Err(Error::BadAddressCount(count));
        }
        let mut out = Self::empty();
        for slot in out.addrs.iter_mut().take(count as usize) {
            *slot = address::parse(r)?;
        }
        out.len = count as u8;
        Ok(out)
    }

    fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u32(u32::from(self.len))?;
        for addr in self.as_slice() {
            address::emit(addr, w)?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for ServerAddresses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// The private part of a connect token, as the server reads it after opening.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PrivateToken {
    /// The client's id, unique among connected clients.
    pub client_id: u64,
    /// Seconds without packets before the connection times out; negative: never.
    pub timeout_secs: i32,
    /// The addresses the server compares with its own.
    pub server_addresses: ServerAddresses,
    /// Key for packets from the client.
    pub client_to_server_key: Key,
    /// Key for packets to the client.
    pub server_to_client_key: Key,
    /// Application data for the server.
    pub user_data: UserData,
}

impl PrivateToken {
    /// Writes the plaintext into `buf[..1008]` and zeros the rest.
    ///
    /// # Errors
    ///
    /// [`Error::TokenOverflow`] never happens with at most 32 addresses; it is
    /// kept so that a change of layout cannot write past the region.
    pub fn emit_plain(&self, buf: &mut [u8; PRIVATE_LEN]) -> Result<(), Error> {
        let (plain, tag) = buf.split_at_mut(PRIVATE_PLAIN_LEN);
        tag.fill(0);
        let mut w = Writer::new(plain);
        self.emit_fields(&mut w).map_err(|_| Error::TokenOverflow)?;
        w.zero_pad_to_end();
        Ok(())
    }

    fn emit_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u64(self.client_id)?;
        w.u32(self.timeout_secs as u32)?;
        self.server_addresses.emit(w)?;
        w.bytes(self.client_to_server_key.as_bytes())?;
        w.bytes(self.server_to_client_key.as_bytes())?;
        w.bytes(&self.user_data)
    }

    /// Reads the plaintext of an opened private part.
    ///
    /// # Errors
    ///
    /// [`Error::BadAddressCount`], [`Error::BadAddressType`], or
    /// [`Error::Truncated`] when the fields overrun the region.
    pub fn parse_plain(plain: &[u8]) -> Result<Self, Error> {
        let region = plain.get(..PRIVATE_PLAIN_LEN).ok_or(Error::Truncated {
            needed: PRIVATE_PLAIN_LEN,
            remaining: plain.len(),
        })?;
        let mut r = Reader::new(region);
        Ok(Self {
            client_id: r.u64()?,
            timeout_secs: r.u32()? as i32,
            server_addresses: ServerAddresses::parse(&mut r)?,
            client_to_server_key: Key::from_bytes(*r.array::<KEY_LEN>()?),
            server_to_client_key: Key::from_bytes(*r.array::<KEY_LEN>()?),
            user_data: *r.array::<USER_DATA_LEN>()?,
        })
    }

    /// Writes and seals this private part into `out`.
    ///
    /// # Errors
    ///
    /// As [`PrivateToken::emit_plain`].
    pub fn seal(
        &self,
        key: &Key,
        protocol_id: u64,
        expire_unix_secs: u64,
        nonce: &[u8; TOKEN_NONCE_LEN],
        out: &mut [u8; PRIVATE_LEN],
    ) -> Result<(), Error> {
        self.emit_plain(out)?;
        let (plain, tag_out) = out.split_at_mut(PRIVATE_PLAIN_LEN);
        let tag = crypto::seal_token(key, nonce, &aad(protocol_id, expire_unix_secs), plain);
        tag_out.copy_from_slice(&tag);
        Ok(())
    }

    /// Opens and reads a sealed private part.
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] when it does not authenticate under `key`, the
    /// protocol id and expire timestamp; then the parse errors of
    /// [`PrivateToken::parse_plain`].
    pub fn open(
        sealed: &[u8; PRIVATE_LEN],
        key: &Key,
        protocol_id: u64,
        expire_unix_secs: u64,
        nonce: &[u8; TOKEN_NONCE_LEN],
    ) -> Result<Self, Error> {
        let mut buf = *sealed;
        let (plain, tag) = buf.split_at_mut(PRIVATE_PLAIN_LEN);
        let tag: [u8; MAC_LEN] = tag.try_into().map_err(|_| Error::TokenOverflow)?;
        crypto::open_token(key, nonce, &aad(protocol_id, expire_unix_secs), plain, &tag)?;
        Self::parse_plain(plain)
    }
}

/// The token AAD: `VERSION | protocol id | expire timestamp`.
fn aad(protocol_id: u64, expire_unix_secs: u64) -> [u8; AAD_LEN] {
    let mut aad = [0u8; AAD_LEN];
    let mut w = Writer::new(&mut aad);
    // 29 bytes into a 29-byte array cannot fail.
    let _ = w.bytes(&VERSION);
    let _ = w.u64(protocol_id);
    let _ = w.u64(expire_unix_secs);
    aad
}

/// A connect token as the client holds it.
///
/// Build one with [`crate::ConnectTokenBuilder`]; read one a web backend sent
/// with [`ConnectToken::parse`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ConnectToken {
    /// The game's protocol id.
    pub protocol_id: u64,
    /// When the token was made, unix seconds.
    pub create_unix_secs: u64,
    /// When the token stops being accepted, unix seconds.
    pub expire_unix_secs: u64,
    /// Nonce of the sealed private part.
    pub nonce: [u8; TOKEN_NONCE_LEN],
    /// The sealed private part, opaque to the client.
    pub private: [u8; PRIVATE_LEN],
    /// Seconds without packets before the connection times out; negative: never.
    pub timeout_secs: i32,
    /// The addresses the client tries, in order.
    pub server_addresses: ServerAddresses,
    /// Key for packets to the server.
    pub client_to_server_key: Key,
    /// Key for packets from the server.
    pub server_to_client_key: Key,
}

impl ConnectToken {
    /// Reads a 2048-byte token.
    ///
    /// # Errors
    ///
    /// [`Error::BadLength`] unless `bytes` is 2048 long; [`Error::BadVersion`];
    /// [`Error::BadTimestamps`] when created after it expires; the address
    /// errors.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != TOKEN_LEN {
            return Err(Error::BadLength { len: bytes.len() });
        }
        let mut r = Reader::new(bytes);
        if r.array::<13>()? != &VERSION {
            return Err(Error::BadVersion);
        }
        let token = Self {
            protocol_id: r.u64()?,
            create_unix_secs: r.u64()?,
            expire_unix_secs: r.u64()?,
            nonce: *r.array()?,
            private: *r.array()?,
            timeout_secs: r.u32()? as i32,
            server_addresses: ServerAddresses::parse(&mut r)?,
            client_to_server_key: Key::from_bytes(*r.array()?),
            server_to_client_key: Key::from_bytes(*r.array()?),
        };
        if token.create_unix_secs > token.expire_unix_secs {
            return Err(Error::BadTimestamps);
        }
        Ok(token)
    }

    /// Writes the 2048-byte token.
    pub fn emit(&self, out: &mut [u8; TOKEN_LEN]) {
        let mut w = Writer::new(out);
        // The fixed fields plus 32 IPv6 records take 1829 of 2048 bytes, and
        // `ServerAddresses` holds at most 32: the writes cannot fail.
        let _ = w.bytes(&VERSION);
        let _ = w.u64(self.protocol_id);
        let _ = w.u64(self.create_unix_secs);
        let _ = w.u64(self.expire_unix_secs);
        let _ = w.bytes(&self.nonce);
        let _ = w.bytes(&self.private);
        let _ = w.u32(self.timeout_secs as u32);
        let _ = self.server_addresses.emit(&mut w);
        let _ = w.bytes(self.client_to_server_key.as_bytes());
        let _ = w.bytes(self.server_to_client_key.as_bytes());
        w.zero_pad_to_end();
    }

    /// The token as 2048 bytes.
    pub fn to_bytes(&self) -> [u8; TOKEN_LEN] {
        let mut out = [0u8; TOKEN_LEN];
        self.emit(&mut out);
        out
    }

    /// Bytes of the public fields, without padding.
    pub fn encoded_len(&self) -> usize {
        61 + PRIVATE_LEN + 4 + self.server_addresses.encoded_len() + 2 * KEY_LEN
    }
}
