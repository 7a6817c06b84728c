//! Hostile input: garbage, forged and replayed requests, amplification.

use super::*;
use crate::proto::server::DropReason;
use crate::wire::packet::{ConnectionRequest, REQUEST_LEN};

fn request_bytes(token: &ConnectToken) -> Vec<u8> {
    let mut buf = vec![0u8; REQUEST_LEN];
    ConnectionRequest::from_token(token).emit(&mut buf).unwrap();
    buf
}

#[test]
fn random_datagrams_are_counted_and_never_answered() {
    let mut pair = Pair::new();
    let mut rng = SeededRandom::new(1);
    let count = 5_000;
    for i in 0..count {
        let len = (rng.next_u64() % 1300) as usize;
        let mut bytes = vec![0u8; len];
        rng.fill(&mut bytes);
        if i % 4 == 0 {
            // Force the request path for a quarter of them.
            if let Some(b) = bytes.first_mut() {
                *b = 0;
            }
        }
        let mut out = Vec::new();
        let from = client_addr((i % 1000) as u16);
        assert!(
            pair.server
                .handle_datagram(pair.now, from, &mut bytes, &mut out)
                .is_none()
        );
        assert!(out.is_empty(), "answered garbage of {len} bytes");
    }
    assert_eq!(pair.server.stats().dropped_total(), count);
    assert_eq!(pair.server.pending_count(), 0);
}

#[test]
fn every_reply_to_an_unauthenticated_sender_is_smaller_than_its_cause() {
    let mut pair = Pair::with_max_clients(1);
    let first = pair.token(1);
    pair.add_client(first);
    pair.expect_connected(0);
    // A valid request to a server with room → challenge; to a full one → denied.
    for client_id in 2..6 {
        let token = pair.token(client_id);
        let mut bytes = request_bytes(&token);
        let mut out = Vec::new();
        pair.server.handle_datagram(
            pair.now,
            client_addr(client_id as u16),
            &mut bytes,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert!(
            out[0].1.len() < REQUEST_LEN,
            "reply of {} bytes",
            out[0].1.len()
        );
    }
    assert_eq!(pair.server.stats().denied, 4);
}

#[test]
fn a_token_is_bound_to_the_first_address_that_used_it() {
    let mut pair = Pair::new();
    let token = pair.token(1);
    let bytes = request_bytes(&token);
    let mut out = Vec::new();
    pair.server
        .handle_datagram(pair.now, client_addr(0), &mut bytes.clone(), &mut out);
    assert_eq!(out.len(), 1, "first use is challenged");
    out.clear();
    pair.server
        .handle_datagram(pair.now, client_addr(1), &mut bytes.clone(), &mut out);
    assert!(out.is_empty(), "second address is ignored");
    assert_eq!(pair.server.stats().dropped(DropReason::TokenReused), 1);
    // The first address may repeat its request (lost challenge).
    pair.server
        .handle_datagram(pair.now, client_addr(0), &mut bytes.clone(), &mut out);
    assert_eq!(out.len(), 1);
}

#[test]
fn requests_for_another_protocol_or_server_or_key_are_dropped() {
    let mut pair = Pair::new();
    let wrong_protocol = ConnectTokenBuilder::new(PROTOCOL_ID ^ 1, 1).server(server_addr());
    let wrong_server =
        ConnectTokenBuilder::new(PROTOCOL_ID, 1).server("127.0.0.1:40001".parse().unwrap());
    let cases = [
        (wrong_protocol, DropReason::WrongProtocol),
        (wrong_server, DropReason::NotThisServer),
    ];
    for (builder, reason) in cases {
        let token = pair.build(&builder);
        let mut out = Vec::new();
        pair.server.handle_datagram(
            pair.now,
            client_addr(0),
            &mut request_bytes(&token),
            &mut out,
        );
        assert!(out.is_empty());
        assert_eq!(pair.server.stats().dropped(reason), 1, "{reason:?}");
    }
    let other_key = Pair::builder(1)
        .build_with(
            &Key::from_bytes([1; 32]),
            pair.unix_now(),
            &mut SeededRandom::new(3),
        )
        .unwrap();
    let mut out = Vec::new();
    pair.server.handle_datagram(
        pair.now,
        client_addr(0),
        &mut request_bytes(&other_key),
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(pair.server.stats().dropped(DropReason::TokenInvalid), 1);
}

#[test]
fn the_pending_table_is_bounded() {
    let config =
        ShardConfig::new(PROTOCOL_ID, Key::from_bytes(PRIVATE_KEY), server_addr()).max_pending(8);
    let mut pair = Pair::with_config(config);
    for n in 0..20u16 {
        let token = pair.token(u64::from(n));
        let mut out = Vec::new();
        pair.server.handle_datagram(
            pair.now,
            client_addr(n),
            &mut request_bytes(&token),
            &mut out,
        );
    }
    assert_eq!(pair.server.pending_count(), 8);
    assert_eq!(pair.server.stats().dropped(DropReason::PendingFull), 12);
    // Handshakes that never finish expire, and make room.
    pair.run(600);
    let token = pair.token(100);
    let mut out = Vec::new();
    pair.server.handle_datagram(
        pair.now,
        client_addr(100),
        &mut request_bytes(&token),
        &mut out,
    );
    assert_eq!(out.len(), 1);
}

#[test]
fn the_client_ignores_packets_from_other_addresses() {
    let mut pair = Pair::new();
    let token = pair.token(1);
    pair.add_client(token);
    pair.expect_connected(0);
    // Capture a genuine server payload and deliver it from elsewhere.
    let mut out: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
    let now = pair.now;
    pair.server
        .send(
            now,
            crate::proto::server::ClientIndex::new(0, 1),
            crate::proto::channel::ChannelId::RAW,
            b"x",
            &mut out,
        )
        .unwrap();
    let (_, mut bytes) = out.pop().unwrap();
    let stranger: SocketAddr = "127.0.0.7:40000".parse().unwrap();
    let client = &mut pair.clients[0].client;
    assert!(!client.handle_datagram(now, stranger, &mut bytes.clone()));
    assert_eq!(client.recv(), None);
    assert!(client.handle_datagram(now, server_addr(), &mut bytes));
    assert_eq!(client.recv().map(|m| m.bytes), Some(b"x".to_vec()));
}

#[test]
fn requests_over_a_sources_limit_are_dropped_before_their_token_is_opened() {
    let config = ShardConfig::new(PROTOCOL_ID, Key::from_bytes(PRIVATE_KEY), server_addr())
        .requests_per_source(3);
    let mut pair = Pair::with_config(config);
    let token = pair.token(1);
    let (busy, other) = (client_addr(1), client_addr(2));
    let mut answered = 0;
    for _ in 0..5 {
        let mut bytes = request_bytes(&token);
        let mut out = Vec::new();
        pair.server
            .handle_datagram(pair.now, busy, &mut bytes, &mut out);
        answered += out.len();
    }
    // Three are read (one challenge each); two are dropped unread.
    assert_eq!(answered, 3);
    assert_eq!(pair.server.stats().dropped(DropReason::RateLimited), 2);
    // Another source is not held back, and a second later neither is the first.
    let mut out = Vec::new();
    let mut bytes = request_bytes(&pair.token(2));
    pair.server
        .handle_datagram(pair.now, other, &mut bytes, &mut out);
    let later = pair.now + std::time::Duration::from_secs(1);
    let mut bytes = request_bytes(&token);
    pair.server
        .handle_datagram(later, busy, &mut bytes, &mut out);
    assert_eq!(pair.server.stats().dropped(DropReason::RateLimited), 2);
}
