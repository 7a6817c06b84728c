//! Connecting: the handshake, payloads, keep-alives, denied and the address walk.

use super::*;
use crate::proto::server::{ClientIndex, DisconnectReason, DropReason, Event};

#[test]
fn connects_and_exchanges_payloads_of_every_size() {
    let mut pair = Pair::new();
    let token = pair.token(77);
    pair.add_client(token);
    pair.expect_connected(0);
    assert_eq!(pair.client(0).client_index(), 0);
    assert_eq!(pair.client(0).max_clients(), 256);
    assert_eq!(
        pair.events,
        [Event::Connected {
            client: ClientIndex::new(0, 1),
            client_id: 77,
            address: client_addr(0),
        }]
    );
    assert_eq!(
        pair.server.user_data(ClientIndex::new(0, 1)),
        Some(&[0u8; 256])
    );

    for len in [1, 100, 1200] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        pair.client_send(0, &payload);
        pair.server_send(ClientIndex::new(0, 1), &payload);
        pair.run(2);
        assert_eq!(
            pair.server_received.pop(),
            Some((ClientIndex::new(0, 1), payload.clone()))
        );
        assert_eq!(pair.clients[0].received.pop(), Some(payload));
    }
}

#[test]
fn handshake_takes_two_round_trips() {
    let mut pair = Pair::new();
    pair.latency = Duration::from_millis(20);
    let token = pair.token(1);
    pair.add_client(token);
    pair.expect_connected(0);
    // request → challenge → response → keep-alive: 4 × 20 ms, at 10 ms steps.
    let elapsed = pair.now - pair.epoch;
    assert!(elapsed <= Duration::from_millis(100), "took {elapsed:?}");
}

#[test]
fn handshake_completes_under_heavy_loss() {
    let mut pair = Pair::new();
    pair.loss = 0.5;
    let token = pair.token(1);
    pair.add_client(token);
    pair.drive_until(400, |p| p.client(0).state() == ClientState::Connected);
}

#[test]
fn server_sends_keep_alives_at_ten_hertz() {
    let mut pair = Pair::new();
    let token = pair.token(1);
    pair.add_client(token);
    pair.expect_connected(0);
    let before = pair.server_sent_sizes.len();
    pair.run(100); // one second
    let sent = pair.server_sent_sizes.len() - before;
    assert!((9..=11).contains(&sent), "{sent} keep-alives in one second");
    assert_eq!(pair.client(0).state(), ClientState::Connected);
}

#[test]
fn full_server_answers_denied_and_the_client_gives_up() {
    let mut pair = Pair::with_max_clients(1);
    let first = pair.token(1);
    pair.add_client(first);
    pair.expect_connected(0);
    let second = pair.token(2);
    pair.add_client(second);
    pair.drive_until(100, |p| {
        p.client(1).state() == ClientState::ConnectionDenied
    });
    assert_eq!(ClientState::ConnectionDenied.code(), -1);
    assert!(pair.server.stats().denied >= 1);
    assert_eq!(pair.server.connected_count(), 1);
}

#[test]
fn denied_client_walks_to_the_next_server_address() {
    let mut pair = Pair::with_max_clients(1);
    let first = pair.token(1);
    pair.add_client(first);
    pair.expect_connected(0);
    let other: SocketAddr = "127.0.0.9:40001".parse().unwrap();
    let builder = Pair::builder(2).server(other);
    let token = pair.build(&builder);
    pair.add_client(token);
    pair.drive_until(100, |p| p.client(1).server_address() == Some(other));
    assert_eq!(
        pair.client(1).state(),
        ClientState::SendingConnectionRequest
    );
}

#[test]
fn client_walks_past_a_silent_server_to_one_that_answers() {
    let mut pair = Pair::new();
    let silent: SocketAddr = "127.0.0.9:40001".parse().unwrap();
    let builder = ConnectTokenBuilder::new(PROTOCOL_ID, 3)
        .server(silent)
        .server(server_addr())
        .timeout(Some(Duration::from_secs(1)));
    let token = pair.build(&builder);
    pair.add_client(token);
    pair.drive_until(300, |p| p.client(0).state() == ClientState::Connected);
    assert_eq!(pair.client(0).server_address(), Some(server_addr()));
    assert!(pair.now - pair.epoch >= Duration::from_secs(1));
}

#[test]
fn a_second_client_with_the_same_id_is_not_admitted() {
    let mut pair = Pair::new();
    let first = pair.token(5);
    pair.add_client(first);
    pair.expect_connected(0);
    let again = pair.token(5);
    pair.add_client(again);
    pair.run(50);
    assert_eq!(
        pair.client(1).state(),
        ClientState::SendingConnectionRequest
    );
    assert!(pair.server.stats().dropped(DropReason::AlreadyConnected) > 0);
    // Once the first leaves, the id is free again.
    pair.with_client_out(0, |c, out| c.disconnect(out));
    pair.expect_connected(1);
    assert!(pair.events.iter().any(|e| matches!(
        e,
        Event::Disconnected {
            reason: DisconnectReason::ClientDisconnected,
            client_id: 5,
            ..
        }
    )));
}
