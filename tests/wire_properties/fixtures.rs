//! Sample values and builders: one valid datagram of each kind, sample
//! tokens, and sealing under the fuzz bodies' fixed keys.

use crate::fuzz_bodies::{
    EXPIRE_UNIX_SECS, PRIVATE_KEY, PROTOCOL_ID, TOKEN_NONCE, packet_cipher, token_aad,
};
use berth::crypto::{Key, seal_token};
use berth::wire::Error;
use berth::wire::challenge_token;
use berth::wire::connect_token::{
    ConnectToken, PRIVATE_LEN, PRIVATE_PLAIN_LEN, PrivateToken, ServerAddresses,
};
use berth::wire::packet::{self, Body, ConnectionRequest, MAX_ENCRYPTED_LEN, REQUEST_LEN};
use std::net::SocketAddr;

/// An encrypted packet body that owns its bytes, so strategies can produce it.
#[derive(Debug, Clone)]
pub(crate) enum OwnedBody {
    Denied,
    Challenge(u64, Box<[u8; challenge_token::TOKEN_LEN]>),
    Response(u64, Box<[u8; challenge_token::TOKEN_LEN]>),
    KeepAlive(u32, u32),
    Payload(Vec<u8>),
    Disconnect,
}

impl OwnedBody {
    pub(crate) fn as_body(&self) -> Body<'_> {
        match self {
            Self::Denied => Body::Denied,
            Self::Challenge(challenge_sequence, token) => Body::Challenge {
                challenge_sequence: *challenge_sequence,
                token,
            },
            Self::Response(challenge_sequence, token) => Body::Response {
                challenge_sequence: *challenge_sequence,
                token,
            },
            Self::KeepAlive(client_index, max_clients) => Body::KeepAlive {
                client_index: *client_index,
                max_clients: *max_clients,
            },
            Self::Payload(bytes) => Body::Payload(bytes),
            Self::Disconnect => Body::Disconnect,
        }
    }

    /// One of each kind, with the given payload length.
    pub(crate) fn samples(payload_len: usize) -> [Self; 6] {
        let token = Box::new(std::array::from_fn(|i| i as u8));
        [
            Self::Denied,
            Self::Challenge(1000, token.clone()),
            Self::Response(u64::MAX, token),
            Self::KeepAlive(7, 32),
            Self::Payload((0..payload_len).map(|i| i as u8).collect()),
            Self::Disconnect,
        ]
    }
}

/// `body` sealed under the fuzz bodies' packet key and protocol id.
#[track_caller]
pub(crate) fn seal(body: &Body<'_>, sequence: u64) -> Vec<u8> {
    let mut out = [0u8; MAX_ENCRYPTED_LEN];
    let len = packet::seal(body, sequence, PROTOCOL_ID, &packet_cipher(), &mut out)
        .unwrap_or_else(|e| panic!("seal {body:?}: {e}"));
    out[..len].to_vec()
}

/// Reads a datagram the way a peer holding the fuzz bodies' keys does: a
/// request is parsed and its private token opened; anything else is opened
/// with the packet key.
pub(crate) fn read_packet(datagram: &[u8]) -> Result<(), Error> {
    if datagram.first() == Some(&0) {
        let request = ConnectionRequest::parse(datagram)?;
        PrivateToken::open(
            request.private,
            &Key::from_bytes(PRIVATE_KEY),
            request.protocol_id,
            request.expire_unix_secs,
            request.nonce,
        )?;
        return Ok(());
    }
    let header = packet::parse_header(datagram)?;
    let mut buf = datagram.to_vec();
    packet::open(&mut buf, &header, PROTOCOL_ID, &packet_cipher()).map(|_| ())
}

pub(crate) fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a literal address")
}

pub(crate) fn sample_private_token() -> PrivateToken {
    PrivateToken {
        client_id: 0x0102_0304_0506_0708,
        timeout_secs: 15,
        server_addresses: ServerAddresses::new(&[addr("127.0.0.1:40000"), addr("[::1]:50000")])
            .expect("two addresses"),
        client_to_server_key: Key::from_bytes([1; 32]),
        server_to_client_key: Key::from_bytes([2; 32]),
        user_data: std::array::from_fn(|i| i as u8),
    }
}

/// A private token's plaintext, padded to 1024 bytes.
pub(crate) fn plain_of(token: &PrivateToken) -> [u8; PRIVATE_LEN] {
    let mut plain = [0u8; PRIVATE_LEN];
    token.emit_plain(&mut plain).expect("emit_plain");
    plain
}

/// `plain[..1008]` sealed under the fuzz bodies' private key, nonce and AAD,
/// without going through berth's emitter, so any plaintext can be sealed.
pub(crate) fn seal_plain(plain: &[u8; PRIVATE_LEN]) -> [u8; PRIVATE_LEN] {
    let mut sealed = *plain;
    let (region, tag_out) = sealed.split_at_mut(PRIVATE_PLAIN_LEN);
    let aad = token_aad(PROTOCOL_ID, EXPIRE_UNIX_SECS);
    let tag = seal_token(&Key::from_bytes(PRIVATE_KEY), &TOKEN_NONCE, &aad, region);
    tag_out.copy_from_slice(&tag);
    sealed
}

pub(crate) fn open_sealed(sealed: &[u8; PRIVATE_LEN]) -> Result<PrivateToken, Error> {
    PrivateToken::open(
        sealed,
        &Key::from_bytes(PRIVATE_KEY),
        PROTOCOL_ID,
        EXPIRE_UNIX_SECS,
        &TOKEN_NONCE,
    )
}

/// A connect token whose private part is `private` sealed under the fuzz
/// bodies' private key.
pub(crate) fn token_with(private: &PrivateToken, create: u64, expire: u64) -> ConnectToken {
    let key = Key::from_bytes(PRIVATE_KEY);
    let mut sealed = [0u8; PRIVATE_LEN];
    private
        .seal(&key, PROTOCOL_ID, expire, &TOKEN_NONCE, &mut sealed)
        .expect("seal");
    ConnectToken {
        protocol_id: PROTOCOL_ID,
        create_unix_secs: create,
        expire_unix_secs: expire,
        nonce: TOKEN_NONCE,
        private: sealed,
        timeout_secs: private.timeout_secs,
        server_addresses: private.server_addresses,
        client_to_server_key: private.client_to_server_key.clone(),
        server_to_client_key: private.server_to_client_key.clone(),
    }
}

pub(crate) fn sample_token() -> ConnectToken {
    token_with(
        &sample_private_token(),
        EXPIRE_UNIX_SECS - 100,
        EXPIRE_UNIX_SECS,
    )
}

pub(crate) fn request_bytes(token: &ConnectToken) -> Vec<u8> {
    let mut out = vec![0u8; REQUEST_LEN];
    let len = ConnectionRequest::from_token(token)
        .emit(&mut out)
        .expect("emit request");
    assert_eq!(len, REQUEST_LEN);
    out
}

/// One valid datagram of each of the seven kinds, named.
pub(crate) fn sample_packets(payload_len: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("request".to_owned(), request_bytes(&sample_token()))];
    for body in OwnedBody::samples(payload_len) {
        let body = body.as_body();
        let name = format!("{:?}", body.packet_type());
        out.push((name, seal(&body, 0x11_2233_4455)));
    }
    out
}
