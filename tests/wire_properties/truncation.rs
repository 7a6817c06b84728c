//! Every strict prefix of a valid packet or token is an error.

use crate::fixtures::{
    open_sealed, plain_of, read_packet, sample_packets, sample_private_token, sample_token, seal,
};
use crate::fuzz_bodies::{PROTOCOL_ID, packet_cipher};
use berth::wire::Error;
use berth::wire::connect_token::{ConnectToken, PRIVATE_LEN, PRIVATE_PLAIN_LEN, PrivateToken};
use berth::wire::packet::{self, MAX_PAYLOAD_LEN};

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
