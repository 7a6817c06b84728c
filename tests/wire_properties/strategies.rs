//! Proptest strategies for wire values: addresses, tokens, packet bodies,
//! valid datagrams and mutations of them.

use crate::fixtures::{OwnedBody, request_bytes, seal, token_with};
use berth::crypto::{Key, TOKEN_NONCE_LEN};
use berth::wire::challenge_token;
use berth::wire::connect_token::{
    ConnectToken, MAX_SERVERS, PRIVATE_LEN, PrivateToken, ServerAddresses, USER_DATA_LEN,
};
use berth::wire::packet::{CHALLENGE_BODY_LEN, MAX_PAYLOAD_LEN};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use std::net::{Ipv6Addr, SocketAddr};

pub(crate) fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(SocketAddr::from),
        (any::<[u16; 8]>(), any::<u16>())
            .prop_map(|(groups, port)| SocketAddr::from((Ipv6Addr::from(groups), port))),
    ]
}

pub(crate) fn server_addresses() -> impl Strategy<Value = ServerAddresses> {
    vec(socket_addr(), 1..=MAX_SERVERS)
        .prop_map(|addrs| ServerAddresses::new(&addrs).expect("1..=32 addresses"))
}

pub(crate) fn key() -> impl Strategy<Value = Key> {
    any::<[u8; 32]>().prop_map(Key::from_bytes)
}

pub(crate) fn byte_array<const N: usize>() -> impl Strategy<Value = [u8; N]> {
    vec(any::<u8>(), N).prop_map(|v| v.try_into().expect("N bytes"))
}

pub(crate) fn private_token() -> impl Strategy<Value = PrivateToken> {
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
pub(crate) fn timestamps() -> impl Strategy<Value = (u64, u64)> {
    (any::<u64>(), any::<u64>()).prop_map(|(a, b)| (a.min(b), a.max(b)))
}

/// Connect tokens whose public and private fields are all arbitrary; the
/// private part is arbitrary bytes, not a sealed token.
pub(crate) fn connect_token() -> impl Strategy<Value = ConnectToken> {
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
pub(crate) fn openable_token() -> impl Strategy<Value = ConnectToken> {
    (private_token(), timestamps())
        .prop_map(|(private, (create, expire))| token_with(&private, create, expire))
}

pub(crate) fn owned_body() -> impl Strategy<Value = OwnedBody> {
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
pub(crate) fn sequence() -> impl Strategy<Value = u64> {
    (any::<u64>(), 0..64u32).prop_map(|(s, shift)| s >> shift)
}

/// Valid datagrams of all seven kinds, under the fuzz bodies' keys.
pub(crate) fn valid_datagram() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => openable_token().prop_map(|token| request_bytes(&token)),
        6 => (owned_body(), sequence()).prop_map(|(body, s)| seal(&body.as_body(), s)),
    ]
}

/// `base` with up to 7 bytes XORed (XOR with 0 keeps some inputs valid),
/// then sometimes cut or extended.
pub(crate) fn mutated(base: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
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
pub(crate) fn sealed_plain_input() -> impl Strategy<Value = Vec<u8>> {
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
