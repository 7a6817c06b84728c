//! parse(emit(x)) == x for arbitrary values of every wire format.

use crate::config;
use crate::fixtures::{plain_of, seal};
use crate::fuzz_bodies::{PROTOCOL_ID, packet_cipher};
use crate::strategies::{
    byte_array, connect_token, owned_body, private_token, sequence, socket_addr,
};
use berth::crypto::{Key, MAC_LEN, TOKEN_NONCE_LEN};
use berth::wire::challenge_token::{self, ChallengeToken};
use berth::wire::connect_token::{ConnectToken, PRIVATE_LEN, PrivateToken, USER_DATA_LEN};
use berth::wire::packet::{self, ConnectionRequest, MAX_ENCRYPTED_LEN, REQUEST_LEN};
use berth::wire::prefix::{Header, PacketType};
use berth::wire::{Error, Reader, Writer, address};
use proptest::prelude::*;

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
