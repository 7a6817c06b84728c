//! One test per rejection rule of netcode-spec §2, §4 and §5, and the
//! tampering a tag must catch.

use crate::fixtures::{
    addr, open_sealed, plain_of, read_packet, request_bytes, sample_packets, sample_private_token,
    sample_token, seal_plain, token_with,
};
use crate::fuzz_bodies::{PRIVATE_KEY, PROTOCOL_ID, packet_aad, packet_cipher};
use berth::crypto::{Key, MAC_LEN, VERSION};
use berth::wire::connect_token::{
    ConnectToken, MAX_SERVERS, PrivateToken, ServerAddresses, TOKEN_LEN,
};
use berth::wire::packet::{
    self, Body, ConnectionRequest, MAX_ENCRYPTED_LEN, MAX_PAYLOAD_LEN, REQUEST_LEN,
};
use berth::wire::prefix::PacketType;
use berth::wire::{Error, address};

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
