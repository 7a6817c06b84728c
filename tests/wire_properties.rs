//! Properties of the wire layer (STYLE.md §5 "Wire" and "Fuzz").
//!
//! - The fuzz bodies of `fuzz_bodies/mod.rs` under proptest: on arbitrary
//!   bytes, and on valid packets and tokens with a few bytes changed, so the
//!   paths past parsing and authentication are reached on stable `cargo test`.
//! - smoltcp's set per format: parse(emit(x)) == x for arbitrary values;
//!   every strict prefix of a valid packet or token is an `Err`.
//! - One test per rejection rule of netcode-spec §2, §4 and §5.

pub mod fuzz_bodies;

use berth::crypto::{Key, MAC_LEN, TOKEN_NONCE_LEN, VERSION, seal_token};
use berth::wire::challenge_token::{self, ChallengeToken};
use berth::wire::connect_token::{
    ConnectToken, MAX_SERVERS, PRIVATE_LEN, PRIVATE_PLAIN_LEN, PrivateToken, ServerAddresses,
    TOKEN_LEN, USER_DATA_LEN,
};
use berth::wire::packet::{
    self, Body, CHALLENGE_BODY_LEN, ConnectionRequest, MAX_ENCRYPTED_LEN, MAX_PAYLOAD_LEN,
    REQUEST_LEN,
};
use berth::wire::prefix::{Header, PacketType};
use berth::wire::{Error, Reader, Writer, address};
use fuzz_bodies::{
    EXPIRE_UNIX_SECS, PRIVATE_KEY, PROTOCOL_ID, TOKEN_NONCE, packet_aad, packet_cipher, token_aad,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use std::net::{Ipv6Addr, SocketAddr};

// ---------------------------------------------------------------------------
// Values and builders

/// An encrypted packet body that owns its bytes, so strategies can produce it.
#[derive(Debug, Clone)]
enum OwnedBody {
    Denied,
    Challenge(u64, Box<[u8; challenge_token::TOKEN_LEN]>),
    Response(u64, Box<[u8; challenge_token::TOKEN_LEN]>),
    KeepAlive(u32, u32),
    Payload(Vec<u8>),
    Disconnect,
}

impl OwnedBody {
    fn as_body(&self) -> Body<'_> {
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
    fn samples(payload_len: usize) -> [Self; 6] {
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
fn seal(body: &Body<'_>, sequence: u64) -> Vec<u8> {
    let mut out = [0u8; MAX_ENCRYPTED_LEN];
    let len = packet::seal(body, sequence, PROTOCOL_ID, &packet_cipher(), &mut out)
        .unwrap_or_else(|e| panic!("seal {body:?}: {e}"));
    out[..len].to_vec()
}

/// Reads a datagram the way a peer holding the fuzz bodies' keys does: a
/// request is parsed and its private token opened; anything else is opened
/// with the packet key.
fn read_packet(datagram: &[u8]) -> Result<(), Error> {
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

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a literal address")
}

fn sample_private_token() -> PrivateToken {
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
fn plain_of(token: &PrivateToken) -> [u8; PRIVATE_LEN] {
    let mut plain = [0u8; PRIVATE_LEN];
    token.emit_plain(&mut plain).expect("emit_plain");
    plain
}

/// `plain[..1008]` sealed under the fuzz bodies' private key, nonce and AAD,
/// without going through berth's emitter, so any plaintext can be sealed.
fn seal_plain(plain: &[u8; PRIVATE_LEN]) -> [u8; PRIVATE_LEN] {
    let mut sealed = *plain;
    let (region, tag_out) = sealed.split_at_mut(PRIVATE_PLAIN_LEN);
    let aad = token_aad(PROTOCOL_ID, EXPIRE_UNIX_SECS);
    let tag = seal_token(&Key::from_bytes(PRIVATE_KEY), &TOKEN_NONCE, &aad, region);
    tag_out.copy_from_slice(&tag);
    sealed
}

fn open_sealed(sealed: &[u8; PRIVATE_LEN]) -> Result<PrivateToken, Error> {
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
fn token_with(private: &PrivateToken, create: u64, expire: u64) -> ConnectToken {
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

fn sample_token() -> ConnectToken {
    token_with(
        &sample_private_token(),
        EXPIRE_UNIX_SECS - 100,
        EXPIRE_UNIX_SECS,
    )
}

fn request_bytes(token: &ConnectToken) -> Vec<u8> {
    let mut out = vec![0u8; REQUEST_LEN];
    let len = ConnectionRequest::from_token(token)
        .emit(&mut out)
        .expect("emit request");
    assert_eq!(len, REQUEST_LEN);
    out
}

/// One valid datagram of each of the seven kinds, named.
fn sample_packets(payload_len: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("request".to_owned(), request_bytes(&sample_token()))];
    for body in OwnedBody::samples(payload_len) {
        let body = body.as_body();
        let name = format!("{:?}", body.packet_type());
        out.push((name, seal(&body, 0x11_2233_4455)));
    }
    out
}

// ---------------------------------------------------------------------------
// Strategies

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(SocketAddr::from),
        (any::<[u16; 8]>(), any::<u16>())
            .prop_map(|(groups, port)| SocketAddr::from((Ipv6Addr::from(groups), port))),
    ]
}

fn server_addresses() -> impl Strategy<Value = ServerAddresses> {
    vec(socket_addr(), 1..=MAX_SERVERS)
        .prop_map(|addrs| ServerAddresses::new(&addrs).expect("1..=32 addresses"))
}

fn key() -> impl Strategy<Value = Key> {
    any::<[u8; 32]>().prop_map(Key::from_bytes)
}

fn byte_array<const N: usize>() -> impl Strategy<Value = [u8; N]> {
    vec(any::<u8>(), N).prop_map(|v| v.try_into().expect("N bytes"))
}

fn private_token() -> impl Strategy<Value = PrivateToken> {
    (
        any::<u64>(),
        any::<i32>(),
        server_addresses(),
        key(),
        key(),
        byte_array::<USER_DATA_LEN>(),
    )
        .prop_map(
            |(client_id, timeout_secs, server_addresses, c2s, s2c, user_data)| PrivateToken {
                client_id,
                timeout_secs,
                server_addresses,
                client_to_server_key: c2s,
                server_to_client_key: s2c,
                user_data,
            },
        )
}

/// Two timestamps with create <= expire.
fn timestamps() -> impl Strategy<Value = (u64, u64)> {
    (any::<u64>(), any::<u64>()).prop_map(|(a, b)| (a.min(b), a.max(b)))
}

/// Connect tokens whose public and private fields are all arbitrary; the
/// private part is arbitrary bytes, not a sealed token.
fn connect_token() -> impl Strategy<Value = ConnectToken> {
    (
        any::<u64>(),
        timestamps(),
        any::<[u8; TOKEN_NONCE_LEN]>(),
        byte_array::<PRIVATE_LEN>(),
        any::<i32>(),
        server_addresses(),
        key(),
        key(),
    )
        .prop_map(
            |(protocol_id, (create, expire), nonce, private, timeout_secs, addrs, c2s, s2c)| {
                ConnectToken {
                    protocol_id,
                    create_unix_secs: create,
                    expire_unix_secs: expire,
                    nonce,
                    private,
                    timeout_secs,
                    server_addresses: addrs,
                    client_to_server_key: c2s,
                    server_to_client_key: s2c,
                }
            },
        )
}

/// Connect tokens a server holding the fuzz bodies' private key can open.
fn openable_token() -> impl Strategy<Value = ConnectToken> {
    (private_token(), timestamps())
        .prop_map(|(private, (create, expire))| token_with(&private, create, expire))
}

fn owned_body() -> impl Strategy<Value = OwnedBody> {
    let token = || byte_array::<{ challenge_token::TOKEN_LEN }>().prop_map(Box::new);
    prop_oneof![
        Just(OwnedBody::Denied),
        (any::<u64>(), token()).prop_map(|(s, t)| OwnedBody::Challenge(s, t)),
        (any::<u64>(), token()).prop_map(|(s, t)| OwnedBody::Response(s, t)),
        (any::<u32>(), any::<u32>()).prop_map(|(i, m)| OwnedBody::KeepAlive(i, m)),
        vec(any::<u8>(), 1..=MAX_PAYLOAD_LEN).prop_map(OwnedBody::Payload),
        Just(OwnedBody::Disconnect),
    ]
}

/// Sequences spread over every encoded length 1..=8.
fn sequence() -> impl Strategy<Value = u64> {
    (any::<u64>(), 0..64u32).prop_map(|(s, shift)| s >> shift)
}

/// Valid datagrams of all seven kinds, under the fuzz bodies' keys.
fn valid_datagram() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => openable_token().prop_map(|token| request_bytes(&token)),
        6 => (owned_body(), sequence()).prop_map(|(body, s)| seal(&body.as_body(), s)),
    ]
}

/// `base` with up to 7 bytes XORed (XOR with 0 keeps some inputs valid),
/// then sometimes cut or extended.
fn mutated(base: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (
        base,
        vec((any::<Index>(), any::<u8>()), 0..8),
        prop_oneof![
            3 => Just(None),
            1 => any::<Index>().prop_map(Some),
        ],
        vec(any::<u8>(), 0..3),
    )
        .prop_map(|(mut bytes, edits, cut, extra)| {
            if !bytes.is_empty() {
                for (at, x) in edits {
                    let at = at.index(bytes.len());
                    bytes[at] ^= x;
                }
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes.extend(extra);
            bytes
        })
}

/// Inputs for `packet_sealed_plain` whose prefix is valid and whose body
/// length sits on or next to each size the standard allows.
fn sealed_plain_input() -> impl Strategy<Value = Vec<u8>> {
    let len = prop_oneof![
        Just(0usize),
        Just(1),
        7..=9usize,
        CHALLENGE_BODY_LEN - 1..=CHALLENGE_BODY_LEN + 1,
        MAX_PAYLOAD_LEN - 1..=MAX_PAYLOAD_LEN + 1,
        0..MAX_PAYLOAD_LEN,
    ];
    (1..=6u8, 0..=8u8, any::<[u8; 8]>(), len, any::<u8>()).prop_map(
        |(packet_type, seq_len, seq, len, fill)| {
            let mut bytes = vec![packet_type | (seq_len << 4)];
            bytes.extend_from_slice(&seq[..usize::from(seq_len)]);
            bytes.extend((0..len).map(|i| fill.wrapping_add(i as u8)));
            bytes
        },
    )
}

// ---------------------------------------------------------------------------
// The fuzz bodies under proptest

/// `cases` per property, unless `PROPTEST_CASES` asks for more (or fewer):
/// debug-build crypto costs milliseconds per kilobyte, and the file should
/// run in a few seconds.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig::with_cases(cases)
}

fn all_bodies(data: &[u8]) {
    fuzz_bodies::packet_parse(data);
    fuzz_bodies::packet_sealed_plain(data);
    fuzz_bodies::header_parse(data);
    fuzz_bodies::address_parse(data);
    fuzz_bodies::connect_token_parse(data);
    fuzz_bodies::private_token_open(data);
    fuzz_bodies::private_token_plain(data);
    fuzz_bodies::private_token_sealed_plain(data);
    fuzz_bodies::challenge_token_open(data);
    fuzz_bodies::challenge_token_sealed_plain(data);
}

#[test]
fn every_body_accepts_valid_inputs() {
    // Deterministic coverage of the paths past authentication.
    for (name, bytes) in sample_packets(100) {
        fuzz_bodies::packet_parse(&bytes);
        fuzz_bodies::private_token_open(&bytes);
        assert_eq!(read_packet(&bytes), Ok(()), "{name}");
    }
    let token = sample_token();
    fuzz_bodies::connect_token_parse(&token.to_bytes());
    fuzz_bodies::connect_token_parse(&token.to_bytes()[VERSION.len()..]);
    let plain = plain_of(&sample_private_token());
    fuzz_bodies::private_token_plain(&plain);
    fuzz_bodies::private_token_sealed_plain(&plain);
    let mut challenge_input = 1000u64.to_le_bytes().to_vec();
    challenge_input.extend_from_slice(&[9; 284]);
    fuzz_bodies::challenge_token_sealed_plain(&challenge_input);
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn bodies_never_panic_on_arbitrary_bytes(data in vec(any::<u8>(), 0..2100)) {
        all_bodies(&data);
    }

    #[test]
    fn bodies_never_panic_on_short_arbitrary_bytes(data in vec(any::<u8>(), 0..48)) {
        all_bodies(&data);
    }

}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn bodies_hold_on_mutated_packets(data in mutated(valid_datagram())) {
        fuzz_bodies::packet_parse(&data);
        fuzz_bodies::packet_sealed_plain(&data);
        fuzz_bodies::private_token_open(&data);
    }

    #[test]
    fn bodies_hold_on_mutated_tokens(
        data in mutated(openable_token().prop_map(|t| t.to_bytes().to_vec()))
    ) {
        fuzz_bodies::connect_token_parse(&data);
        fuzz_bodies::connect_token_parse(data.get(VERSION.len()..).unwrap_or(&[]));
        let mut sealed_input = data.get(61..61 + PRIVATE_LEN).unwrap_or(&[]).to_vec();
        sealed_input.extend_from_slice(data.get(37..61).unwrap_or(&[]));
        sealed_input.extend_from_slice(data.get(29..37).unwrap_or(&[]));
        sealed_input.extend_from_slice(data.get(13..21).unwrap_or(&[]));
        fuzz_bodies::private_token_open(&sealed_input);
    }

    #[test]
    fn bodies_hold_on_mutated_private_plaintexts(
        data in mutated(private_token().prop_map(|t| plain_of(&t).to_vec()))
    ) {
        fuzz_bodies::private_token_plain(&data);
        fuzz_bodies::private_token_sealed_plain(&data);
    }

    #[test]
    fn bodies_hold_on_sealed_plain_packets(data in sealed_plain_input()) {
        fuzz_bodies::packet_sealed_plain(&data);
    }

    #[test]
    fn bodies_hold_on_mutated_challenge_tokens(
        sequence in any::<u64>(),
        client_id in any::<u64>(),
        user_data in byte_array::<USER_DATA_LEN>(),
        edits in vec((any::<Index>(), any::<u8>()), 0..3),
    ) {
        let mut sealed = [0u8; challenge_token::TOKEN_LEN];
        ChallengeToken { client_id, user_data }
            .seal(&fuzz_bodies::challenge_cipher(), sequence, &mut sealed);
        for (at, x) in edits {
            sealed[at.index(sealed.len())] ^= x;
        }
        let mut data = sealed.to_vec();
        data.extend_from_slice(&sequence.to_le_bytes());
        fuzz_bodies::challenge_token_open(&data);
    }
}

// ---------------------------------------------------------------------------
// parse(emit(x)) == x

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn connect_token_round_trips(token in connect_token()) {
        let bytes = token.to_bytes();
        prop_assert_eq!(ConnectToken::parse(&bytes), Ok(token.clone()));
        prop_assert!(bytes[token.encoded_len()..].iter().all(|&b| b == 0));
    }

    #[test]
    fn private_token_round_trips(
        token in private_token(),
        private_key in any::<[u8; 32]>(),
        protocol_id in any::<u64>(),
        expire in any::<u64>(),
        nonce in any::<[u8; TOKEN_NONCE_LEN]>(),
    ) {
        let key = Key::from_bytes(private_key);
        let mut sealed = [0u8; PRIVATE_LEN];
        token.seal(&key, protocol_id, expire, &nonce, &mut sealed).expect("seal");
        prop_assert_eq!(
            PrivateToken::open(&sealed, &key, protocol_id, expire, &nonce),
            Ok(token.clone())
        );
        prop_assert_eq!(PrivateToken::parse_plain(&plain_of(&token)), Ok(token));
    }

    #[test]
    fn challenge_token_round_trips(
        client_id in any::<u64>(),
        user_data in byte_array::<USER_DATA_LEN>(),
        challenge_key in any::<[u8; 32]>(),
        sequence in any::<u64>(),
    ) {
        let cipher = berth::crypto::PacketCipher::new(&Key::from_bytes(challenge_key));
        let token = ChallengeToken { client_id, user_data };
        let mut sealed = [0u8; challenge_token::TOKEN_LEN];
        token.seal(&cipher, sequence, &mut sealed);
        prop_assert_eq!(ChallengeToken::open(&sealed, &cipher, sequence), Ok(token));
    }

    #[test]
    fn connection_request_round_trips(
        protocol_id in any::<u64>(),
        expire_unix_secs in any::<u64>(),
        nonce in any::<[u8; TOKEN_NONCE_LEN]>(),
        private in byte_array::<PRIVATE_LEN>(),
    ) {
        let request = ConnectionRequest {
            protocol_id,
            expire_unix_secs,
            nonce: &nonce,
            private: &private,
        };
        let mut out = [0u8; REQUEST_LEN];
        prop_assert_eq!(request.emit(&mut out), Ok(REQUEST_LEN));
        prop_assert_eq!(ConnectionRequest::parse(&out), Ok(request));
        prop_assert!(request.emit(&mut out[..REQUEST_LEN - 1]).is_err());
    }

    #[test]
    fn encrypted_packets_round_trip(body in owned_body(), sequence in sequence()) {
        let body = body.as_body();
        let mut bytes = seal(&body, sequence);
        let header = packet::parse_header(&bytes).expect("header");
        prop_assert_eq!(header, Header::new(body.packet_type(), sequence));
        prop_assert_eq!(bytes.len(), header.encoded_len() + body.encoded_len() + MAC_LEN);
        let short = bytes.len() - 1;
        let mut out = [0u8; MAX_ENCRYPTED_LEN];
        let too_small = matches!(
            packet::seal(&body, sequence, PROTOCOL_ID, &packet_cipher(), &mut out[..short]),
            Err(Error::BufferTooSmall { .. })
        );
        prop_assert!(too_small);
        let opened = packet::open(&mut bytes, &header, PROTOCOL_ID, &packet_cipher());
        prop_assert_eq!(opened, Ok(body));
    }

    #[test]
    fn headers_round_trip(packet_type in 0..=6u8, sequence in sequence()) {
        let packet_type = PacketType::from_prefix(packet_type).expect("0..=6");
        let header = Header::new(packet_type, sequence);
        let mut buf = [0u8; 9];
        let mut w = Writer::new(&mut buf);
        header.emit(&mut w).expect("9 bytes hold a header");
        let len = w.len();
        prop_assert_eq!(len, header.encoded_len());
        prop_assert_eq!(Header::parse(&mut Reader::new(&buf[..len])), Ok(header));
    }

    #[test]
    fn addresses_round_trip(addr in socket_addr()) {
        let mut buf = [0u8; address::IPV6_LEN];
        let mut w = Writer::new(&mut buf);
        address::emit(&addr, &mut w).expect("19 bytes hold a record");
        let len = w.len();
        prop_assert_eq!(len, address::encoded_len(&addr));
        prop_assert_eq!(address::parse(&mut Reader::new(&buf[..len])), Ok(addr));
    }
}

// ---------------------------------------------------------------------------
// Every truncation is an error

#[test]
fn every_truncation_of_each_packet_kind_is_an_error() {
    for sequence in [0, 0x11_2233_4455, u64::MAX] {
        for (name, bytes) in sample_packets(40)
            .into_iter()
            .chain(sample_packets(MAX_PAYLOAD_LEN).into_iter().skip(5).take(1))
        {
            let mut bytes = bytes;
            if name == "request" && sequence != 0 {
                continue;
            }
            if name != "request" {
                // Reseal under this sequence, so every sequence length is cut.
                let header = packet::parse_header(&bytes).expect("header");
                let body =
                    packet::open(&mut bytes, &header, PROTOCOL_ID, &packet_cipher()).expect("open");
                bytes = seal(&body, sequence);
            }
            assert_eq!(read_packet(&bytes), Ok(()), "{name}");
            for len in 0..bytes.len() {
                assert!(
                    read_packet(&bytes[..len]).is_err(),
                    "{name} cut to {len} of {} bytes was read",
                    bytes.len()
                );
            }
        }
    }
}

#[test]
fn every_truncation_of_a_connect_token_is_an_error() {
    let bytes = sample_token().to_bytes();
    assert!(ConnectToken::parse(&bytes).is_ok());
    for len in 0..bytes.len() {
        assert_eq!(
            ConnectToken::parse(&bytes[..len]),
            Err(Error::BadLength { len })
        );
    }
}

#[test]
fn every_truncation_of_a_sealed_private_token_is_an_error() {
    let token = sample_private_token();
    let plain = plain_of(&token);
    let sealed = sample_token().private;
    assert_eq!(open_sealed(&sealed), Ok(token));
    for len in 0..PRIVATE_LEN {
        // The sealed part has a fixed size: a short one can only arrive
        // padded (here with zeros) or as a short plaintext.
        let mut cut = [0u8; PRIVATE_LEN];
        cut[..len].copy_from_slice(&sealed[..len]);
        assert!(
            matches!(open_sealed(&cut), Err(Error::Crypto(_))),
            "sealed part cut to {len} opened"
        );
        if len < PRIVATE_PLAIN_LEN {
            assert!(matches!(
                PrivateToken::parse_plain(&plain[..len]),
                Err(Error::Truncated { .. })
            ));
        }
    }
}

// ---------------------------------------------------------------------------
// One test per rejection rule

#[test]
fn sequence_lengths_9_to_15_are_rejected() {
    for packet_type in 1..=6u8 {
        for seq_len in 9..=15u8 {
            let mut datagram = vec![packet_type | (seq_len << 4)];
            datagram.extend_from_slice(&[0; 15 + MAC_LEN + 8]);
            assert_eq!(
                packet::parse_header(&datagram),
                Err(Error::BadSequenceLen(seq_len))
            );
        }
    }
}

#[test]
fn packet_types_7_to_15_are_rejected() {
    for packet_type in 7..=15u8 {
        for seq_len in 0..=15u8 {
            let mut datagram = vec![packet_type | (seq_len << 4)];
            datagram.extend_from_slice(&[0; 100]);
            assert_eq!(
                packet::parse_header(&datagram),
                Err(Error::BadPacketType(packet_type))
            );
        }
        let mut request = request_bytes(&sample_token());
        request[0] = packet_type;
        assert_eq!(
            ConnectionRequest::parse(&request),
            Err(Error::BadPacketType(packet_type))
        );
    }
    // Type 0 is the unencrypted request: never an encrypted header.
    let request = request_bytes(&sample_token());
    assert_eq!(packet::parse_header(&request), Err(Error::BadPacketType(0)));
}

#[test]
fn requests_of_1077_and_1079_bytes_are_rejected() {
    let mut request = request_bytes(&sample_token());
    assert!(ConnectionRequest::parse(&request).is_ok());
    assert_eq!(
        ConnectionRequest::parse(&request[..REQUEST_LEN - 1]),
        Err(Error::BadLength { len: 1077 })
    );
    request.push(0);
    assert_eq!(
        ConnectionRequest::parse(&request),
        Err(Error::BadLength { len: 1079 })
    );
}

#[test]
fn wrong_version_in_a_request_is_rejected() {
    let request = request_bytes(&sample_token());
    for at in 1..=VERSION.len() {
        let mut bad = request.clone();
        bad[at] ^= 0x01;
        assert_eq!(ConnectionRequest::parse(&bad), Err(Error::BadVersion));
    }
    let mut old = request;
    old[1..14].copy_from_slice(b"NETCODE 1.01\0");
    assert_eq!(ConnectionRequest::parse(&old), Err(Error::BadVersion));
}

#[test]
fn wrong_version_in_a_token_is_rejected() {
    let token = sample_token().to_bytes();
    for at in 0..VERSION.len() {
        let mut bad = token;
        bad[at] ^= 0x01;
        assert_eq!(ConnectToken::parse(&bad), Err(Error::BadVersion));
    }
    let mut old = token;
    old[..13].copy_from_slice(b"NETCODE 1.01\0");
    assert_eq!(ConnectToken::parse(&old), Err(Error::BadVersion));
}

/// Offset of the address count in the public token and in the private plaintext.
const PUBLIC_COUNT_AT: usize = 1089;
const PRIVATE_COUNT_AT: usize = 12;

/// Writes `value` at `at` in the public token, the private plaintext (then
/// sealed), and checks all three readers give `expected`.
#[track_caller]
fn assert_token_rejects(public_at: usize, private_at: usize, value: &[u8], expected: Error) {
    let mut public = sample_token().to_bytes();
    public[public_at..public_at + value.len()].copy_from_slice(value);
    assert_eq!(ConnectToken::parse(&public), Err(expected), "public token");

    let mut plain = plain_of(&sample_private_token());
    plain[private_at..private_at + value.len()].copy_from_slice(value);
    assert_eq!(
        PrivateToken::parse_plain(&plain),
        Err(expected),
        "private plaintext"
    );
    assert_eq!(open_sealed(&seal_plain(&plain)), Err(expected), "sealed");
}

#[test]
fn address_types_0_and_3_are_rejected() {
    // The sample's first address record starts right after the count.
    for bad in [0u8, 3] {
        assert_token_rejects(
            PUBLIC_COUNT_AT + 4,
            PRIVATE_COUNT_AT + 4,
            &[bad],
            Error::BadAddressType(bad),
        );
        // The second record, after a 7-byte IPv4 record.
        assert_token_rejects(
            PUBLIC_COUNT_AT + 4 + address::IPV4_LEN,
            PRIVATE_COUNT_AT + 4 + address::IPV4_LEN,
            &[bad],
            Error::BadAddressType(bad),
        );
    }
}

#[test]
fn address_counts_0_and_33_are_rejected() {
    for count in [0u32, 33, u32::MAX] {
        assert_token_rejects(
            PUBLIC_COUNT_AT,
            PRIVATE_COUNT_AT,
            &count.to_le_bytes(),
            Error::BadAddressCount(count),
        );
    }
    assert_eq!(
        ServerAddresses::new(&[]).map(|_| ()),
        Err(Error::BadAddressCount(0))
    );
    let many = vec![addr("127.0.0.1:1"); MAX_SERVERS + 1];
    assert_eq!(
        ServerAddresses::new(&many).map(|_| ()),
        Err(Error::BadAddressCount(33))
    );
    assert!(ServerAddresses::new(&many[..MAX_SERVERS]).is_ok());
}

#[test]
fn create_after_expire_is_rejected() {
    let private = sample_private_token();
    let late = token_with(&private, 101, 100);
    assert_eq!(
        ConnectToken::parse(&late.to_bytes()),
        Err(Error::BadTimestamps)
    );
    let same = token_with(&private, 100, 100);
    assert_eq!(ConnectToken::parse(&same.to_bytes()), Ok(same));
}

#[test]
fn tokens_of_2047_and_2049_bytes_are_rejected() {
    let mut bytes = sample_token().to_bytes().to_vec();
    assert_eq!(
        ConnectToken::parse(&bytes[..TOKEN_LEN - 1]),
        Err(Error::BadLength { len: 2047 })
    );
    bytes.push(0);
    assert_eq!(
        ConnectToken::parse(&bytes),
        Err(Error::BadLength { len: 2049 })
    );
}

#[test]
fn seal_rejects_empty_and_1201_byte_payloads() {
    let mut out = [0u8; 2 * MAX_ENCRYPTED_LEN];
    for len in [0, MAX_PAYLOAD_LEN + 1] {
        let payload = vec![7u8; len];
        assert_eq!(
            packet::seal(
                &Body::Payload(&payload),
                1,
                PROTOCOL_ID,
                &packet_cipher(),
                &mut out
            ),
            Err(Error::BadLength { len })
        );
    }
}

#[test]
fn authenticated_bodies_of_the_wrong_size_are_rejected() {
    let cipher = packet_cipher();
    let cases: [(u8, &[usize]); 6] = [
        (1, &[1, 8, 308]),
        (2, &[0, 8, 307, 309]),
        (3, &[0, 8, 307, 309]),
        (4, &[0, 7, 9, 308]),
        (5, &[0, MAX_PAYLOAD_LEN + 1]),
        (6, &[1, 8, 308]),
    ];
    for (packet_type, lens) in cases {
        for &len in lens {
            let prefix = packet_type | 0x10;
            let mut datagram = vec![prefix, 9];
            datagram.extend(std::iter::repeat_n(0xab, len));
            let tag = cipher.seal(9, &packet_aad(PROTOCOL_ID, prefix), &mut datagram[2..]);
            datagram.extend_from_slice(&tag);
            let header = packet::parse_header(&datagram).expect("header");
            assert_eq!(
                packet::open(&mut datagram, &header, PROTOCOL_ID, &cipher),
                Err(Error::BadLength { len }),
                "type {packet_type} with a {len}-byte body"
            );
        }
    }
}

#[test]
fn a_header_without_room_for_a_tag_is_rejected() {
    for seq_len in 0..=8u8 {
        let mut datagram = vec![0x04 | (seq_len << 4)];
        datagram.extend(std::iter::repeat_n(0, usize::from(seq_len) + MAC_LEN));
        assert!(packet::parse_header(&datagram).is_ok());
        datagram.pop();
        assert!(matches!(
            packet::parse_header(&datagram),
            Err(Error::Truncated { .. })
        ));
    }
}

/// STYLE.md §5: the C reference drops a sequence length of 0, renetcode
/// sends it for sequence 0. berth reads it as sequence 0 (see
/// `wire/prefix.rs`); this pins the decision.
#[test]
fn sequence_length_0_reads_as_sequence_0() {
    let cipher = packet_cipher();
    let prefix = PacketType::KeepAlive as u8;
    let mut datagram = vec![prefix];
    datagram.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
    let tag = cipher.seal(0, &packet_aad(PROTOCOL_ID, prefix), &mut datagram[1..]);
    datagram.extend_from_slice(&tag);
    let header = packet::parse_header(&datagram).expect("header");
    assert_eq!(header.sequence(), 0);
    assert_eq!(header.encoded_len(), 1);
    assert_eq!(
        packet::open(&mut datagram, &header, PROTOCOL_ID, &cipher),
        Ok(Body::KeepAlive {
            client_index: 1,
            max_clients: 2
        })
    );
}

#[test]
fn a_flipped_bit_anywhere_in_an_encrypted_packet_fails_to_open() {
    for (name, bytes) in sample_packets(40).into_iter().skip(1) {
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(
                read_packet(&flipped).is_err(),
                "{name} with bit {bit} flipped was read"
            );
        }
    }
}

#[test]
fn a_flipped_byte_anywhere_in_a_request_fails_to_open() {
    let request = request_bytes(&sample_token());
    for at in 0..request.len() {
        let mut flipped = request.clone();
        flipped[at] ^= 1 << (at % 8);
        assert!(read_packet(&flipped).is_err(), "byte {at} flipped");
    }
}

#[test]
fn a_packet_opened_with_the_wrong_protocol_id_fails() {
    for (name, bytes) in sample_packets(40).into_iter().skip(1) {
        let header = packet::parse_header(&bytes).expect("header");
        for wrong in [PROTOCOL_ID ^ 1, PROTOCOL_ID ^ (1 << 63), 0] {
            let mut copy = bytes.clone();
            assert!(
                matches!(
                    packet::open(&mut copy, &header, wrong, &packet_cipher()),
                    Err(Error::Crypto(_))
                ),
                "{name}"
            );
        }
    }
    // And a private token under the wrong protocol id.
    let token = sample_token();
    assert!(matches!(
        PrivateToken::open(
            &token.private,
            &Key::from_bytes(PRIVATE_KEY),
            PROTOCOL_ID ^ 1,
            token.expire_unix_secs,
            &token.nonce,
        ),
        Err(Error::Crypto(_))
    ));
}

// ---------------------------------------------------------------------------
// Seed corpus for the cargo-fuzz targets

/// Writes valid inputs for each fuzz target under `$BERTH_FUZZ_SEEDS/<target>/`.
///
/// `BERTH_FUZZ_SEEDS=$PWD/fuzz/corpus cargo test --test wire_properties -- --ignored`
#[test]
#[ignore = "writes the fuzz seed corpus; set BERTH_FUZZ_SEEDS"]
fn write_fuzz_seeds() {
    let Some(root) = std::env::var_os("BERTH_FUZZ_SEEDS") else {
        return;
    };
    let root = std::path::PathBuf::from(root);
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        std::fs::write(dir.join(name), bytes).expect("write seed");
    };
    for (name, bytes) in sample_packets(100) {
        write("packet", &format!("seed-{name}"), &bytes);
    }
    for (i, body) in OwnedBody::samples(100).iter().enumerate() {
        // packet_sealed_plain input: prefix, sequence byte, body plaintext.
        let body = body.as_body();
        let prefix = body.packet_type() as u8 | 0x10;
        let mut plain = vec![prefix, 5];
        let sealed = seal(&body, 5);
        let header = packet::parse_header(&sealed).expect("header");
        let mut copy = sealed.clone();
        let _ = packet::open(&mut copy, &header, PROTOCOL_ID, &packet_cipher());
        plain.extend_from_slice(&copy[header.encoded_len()..copy.len() - MAC_LEN]);
        write("packet", &format!("seed-plain-{i}"), &plain);
    }
    let token = sample_token();
    write("connect_token", "seed-token", &token.to_bytes());
    write(
        "connect_token",
        "seed-token-unversioned",
        &token.to_bytes()[VERSION.len()..],
    );
    let plain = plain_of(&sample_private_token());
    write("private_token", "seed-plain", &plain[..PRIVATE_PLAIN_LEN]);
    write("private_token", "seed-request", &request_bytes(&token));
}
