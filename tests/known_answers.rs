//! netcode.io 1.02 known-answer vectors (netcode-spec §10), reproduced byte for byte.
//!
//! The inputs are fixed; the expected bytes were generated with the C
//! reference and are the same set the netcode-official crate ships. Large
//! artifacts are compared by SHA-256, small packets in full.

use berth::crypto::{Key, PacketCipher, Random};
use berth::wire::challenge_token::{self, ChallengeToken};
use berth::wire::connect_token::{ConnectToken, PRIVATE_LEN, PrivateToken};
use berth::wire::packet::{self, Body, ConnectionRequest, REQUEST_LEN};
use berth::{ConnectTokenBuilder, wire};
use sha2::{Digest, Sha256};
use std::time::Duration;

const PROTOCOL_ID: u64 = 0x1122_3344_5566_7788;
const CLIENT_ID: u64 = 0x0102_0304_0506_0708;
const CREATE: u64 = 1_720_000_000;
const EXPIRE: u64 = 1_720_000_100;
const CHALLENGE_SEQUENCE: u64 = 1000;
const PACKET_SEQUENCE: u64 = 0x11_2233_4455;
const PRIVATE_KEY: [u8; 32] = [
    0x60, 0x6a, 0xbe, 0x6e, 0xc9, 0x19, 0x10, 0xea, 0x9a, 0x65, 0x62, 0xf6, 0x6f, 0x2b, 0x30, 0xe4,
    0x43, 0x71, 0xd6, 0x2c, 0xd1, 0x99, 0x27, 0x26, 0x6b, 0x3c, 0x60, 0xf4, 0xb7, 0x15, 0xab, 0xa1,
];

fn bytes_from(f: impl Fn(usize) -> u8) -> [u8; 32] {
    std::array::from_fn(f)
}

fn user_data() -> [u8; 256] {
    std::array::from_fn(|i| i as u8)
}

/// Hands out the vector's c2s key, s2c key and token nonce, in the order the builder draws them.
struct Scripted(Vec<u8>);

impl Random for Scripted {
    fn fill(&mut self, buf: &mut [u8]) {
        let rest = self.0.split_off(buf.len());
        buf.copy_from_slice(&self.0);
        self.0 = rest;
    }
}

fn token() -> ConnectToken {
    let mut script: Vec<u8> = (0..32u8).collect();
    script.extend((0..32u8).map(|i| 255 - i));
    script.extend((0..24u8).map(|i| 100 + i));
    ConnectTokenBuilder::new(PROTOCOL_ID, CLIENT_ID)
        .server("127.0.0.1:40000".parse().unwrap())
        .server("[::1]:50000".parse().unwrap())
        .expire_after(Duration::from_secs(EXPIRE - CREATE))
        .timeout(Some(Duration::from_secs(15)))
        .user_data(user_data())
        .build_with(&Key::from_bytes(PRIVATE_KEY), CREATE, &mut Scripted(script))
        .unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn packet_cipher() -> PacketCipher {
    PacketCipher::new(&Key::from_bytes(bytes_from(|i| i as u8 + 17)))
}

fn private_token() -> PrivateToken {
    let token = token();
    PrivateToken::open(
        &token.private,
        &Key::from_bytes(PRIVATE_KEY),
        PROTOCOL_ID,
        EXPIRE,
        &token.nonce,
    )
    .unwrap()
}

#[test]
fn private_token_plaintext() {
    let mut plain = [0u8; PRIVATE_LEN];
    private_token().emit_plain(&mut plain).unwrap();
    // client id, timeout 15, two addresses: 127.0.0.1:40000, then ::1 with
    // each group little-endian (14 zero bytes, `01 00`).
    let expected_head = format!(
        "{}{}{}{}{}{}",
        "0807060504030201",
        "0f000000",
        "02000000",
        "017f000001409c",
        "02",
        "00".repeat(14)
    ) + "0100";
    assert_eq!(hex(&plain[..40]), expected_head);
    assert_eq!(
        sha256_hex(&plain),
        "7b1896a06c8dd0688fece1cfdcfe06c21871d429ef9dee2070ae40e9f8e534bc"
    );
}

#[test]
fn private_token_encrypted() {
    assert_eq!(
        sha256_hex(&token().private),
        "3fc190a87b816c4340e0894a16d5b0d9c55507bab095d77da9c07daf7e3bf98a"
    );
}

#[test]
fn private_token_opens_to_the_inputs() {
    let private = private_token();
    assert_eq!(private.client_id, CLIENT_ID);
    assert_eq!(private.timeout_secs, 15);
    assert_eq!(private.user_data, user_data());
    assert_eq!(
        private.client_to_server_key.as_bytes(),
        &bytes_from(|i| i as u8)
    );
    assert_eq!(
        private.server_to_client_key.as_bytes(),
        &bytes_from(|i| 255 - i as u8)
    );
    assert_eq!(
        private.server_addresses.as_slice(),
        &[
            "127.0.0.1:40000".parse().unwrap(),
            "[::1]:50000".parse().unwrap()
        ]
    );
}

#[test]
fn connect_token_public() {
    let bytes = token().to_bytes();
    assert_eq!(
        sha256_hex(&bytes),
        "12cd58f0e2d17b002b629359f207018eac54e8cff2064382e600df738cfd4410"
    );
    assert_eq!(ConnectToken::parse(&bytes).unwrap(), token());
}

fn challenge_token_sealed() -> [u8; challenge_token::TOKEN_LEN] {
    let challenge_key = PacketCipher::new(&Key::from_bytes(bytes_from(|i| (2 * i) as u8)));
    let mut sealed = [0u8; challenge_token::TOKEN_LEN];
    ChallengeToken {
        client_id: CLIENT_ID,
        user_data: user_data(),
    }
    .seal(&challenge_key, CHALLENGE_SEQUENCE, &mut sealed);
    sealed
}

#[test]
fn challenge_token() {
    let sealed = challenge_token_sealed();
    assert_eq!(
        sha256_hex(&sealed),
        "33c5560aaed4192fc714fbba4910c38f235a4298f9121901c0d47549cc0a62e0"
    );
    let challenge_key = PacketCipher::new(&Key::from_bytes(bytes_from(|i| (2 * i) as u8)));
    let opened = ChallengeToken::open(&sealed, &challenge_key, CHALLENGE_SEQUENCE).unwrap();
    assert_eq!(opened.client_id, CLIENT_ID);
    assert!(ChallengeToken::open(&sealed, &challenge_key, CHALLENGE_SEQUENCE + 1).is_err());
}

#[test]
fn challenge_token_plaintext() {
    let mut plain = [0u8; challenge_token::TOKEN_LEN];
    plain[..8].copy_from_slice(&CLIENT_ID.to_le_bytes());
    plain[8..264].copy_from_slice(&user_data());
    assert_eq!(
        sha256_hex(&plain),
        "15f0bdb63e28418bc44904ffffc5e244fca2295ff62af9257dac6f3b89ecedb9"
    );
}

#[test]
fn request_packet() {
    let token = token();
    let mut buf = [0u8; REQUEST_LEN];
    let len = ConnectionRequest::from_token(&token)
        .emit(&mut buf)
        .unwrap();
    assert_eq!(len, REQUEST_LEN);
    assert_eq!(
        sha256_hex(&buf),
        "fc7d9221a4b2d74dfaa7accd870730d434caa2315724cce1141c91ad47969968"
    );
    let parsed = ConnectionRequest::parse(&buf).unwrap();
    assert_eq!(parsed, ConnectionRequest::from_token(&token));
}

/// Seals `body` with the vector's packet key and sequence, checks the bytes, and opens them again.
fn check_packet(body: Body<'_>, sequence: u64, expected: &str, by_hash: bool) {
    let cipher = packet_cipher();
    let mut buf = [0u8; packet::MAX_ENCRYPTED_LEN];
    let len = packet::seal(&body, sequence, PROTOCOL_ID, &cipher, &mut buf).unwrap();
    let got = if by_hash {
        sha256_hex(&buf[..len])
    } else {
        hex(&buf[..len])
    };
    assert_eq!(got, expected, "{body:?}");
    let header = packet::parse_header(&buf[..len]).unwrap();
    assert_eq!(header.sequence(), sequence);
    let mut copy = buf;
    assert_eq!(
        packet::open(&mut copy[..len], &header, PROTOCOL_ID, &cipher).unwrap(),
        body
    );
}

#[test]
fn challenge_and_response_packets() {
    let token = challenge_token_sealed();
    let challenge = Body::Challenge {
        challenge_sequence: CHALLENGE_SEQUENCE,
        token: &token,
    };
    let response = Body::Response {
        challenge_sequence: CHALLENGE_SEQUENCE,
        token: &token,
    };
    check_packet(
        challenge,
        PACKET_SEQUENCE,
        "22fc408d3ab1e8655d9edf9dd9bdad69b06978ff85323a564c0563fc7dfbf6a7",
        true,
    );
    check_packet(
        response,
        PACKET_SEQUENCE,
        "d7f8965bb2961ae0c355f50ecedc13347575d38832668b6e4b7c5f6ae49973e9",
        true,
    );
}

#[test]
fn payload_packet() {
    let payload: Vec<u8> = (0..1200).map(|i| i as u8).collect();
    check_packet(
        Body::Payload(&payload),
        PACKET_SEQUENCE,
        "e991282ba33dae3d19f4a9ecd0577f876a8175cf399180af5e3b21a33a4c6377",
        true,
    );
}

#[test]
fn small_packets_in_full() {
    let keep_alive = Body::KeepAlive {
        client_index: 7,
        max_clients: 32,
    };
    check_packet(
        Body::Denied,
        PACKET_SEQUENCE,
        "5155443322117d50da833982dbfec854b412fc8a5c84",
        false,
    );
    check_packet(
        keep_alive,
        PACKET_SEQUENCE,
        "54554433221102a85bb8a396ae350caaae147506e5acae951f983789c832",
        false,
    );
    check_packet(
        Body::Disconnect,
        PACKET_SEQUENCE,
        "5655443322111d1a23ccf0be58180af3daa88fd65225",
        false,
    );
    check_packet(
        keep_alive,
        0,
        "1400c428d0e1fe023391b7a8bcaafef790c18aa53ab82046e0cf",
        false,
    );
    check_packet(
        keep_alive,
        1 << 63,
        "840000000000000080ccecf6f1f4c471159827e560dad6dd8b56a0a7372817661c",
        false,
    );
}

#[test]
fn a_packet_from_another_protocol_fails_authentication() {
    let cipher = packet_cipher();
    let mut buf = [0u8; 64];
    let len = packet::seal(&Body::Disconnect, 5, PROTOCOL_ID, &cipher, &mut buf).unwrap();
    let header = packet::parse_header(&buf[..len]).unwrap();
    assert!(matches!(
        packet::open(&mut buf[..len], &header, PROTOCOL_ID ^ 1, &cipher),
        Err(wire::Error::Crypto(_))
    ));
}
