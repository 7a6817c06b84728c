//! After connecting: timeouts, expiry, disconnects, replay, reconnect.

use super::*;
use crate::proto::server::{DisconnectReason, DropReason, Event};
use crate::wire::packet;

fn connected_pair() -> Pair {
    let mut pair = Pair::new();
    let token = pair.token(1);
    pair.add_client(token);
    pair.expect_connected(0);
    pair
}

#[test]
fn client_times_out_when_the_server_goes_silent() {
    let mut pair = connected_pair();
    pair.server_alive = false;
    pair.drive_until(700, |p| {
        p.client(0).state() == ClientState::ConnectionTimedOut
    });
    assert_eq!(ClientState::ConnectionTimedOut.code(), -4);
    // Not before the 5 s timeout.
    assert!(pair.now - pair.epoch >= Duration::from_secs(5));
}

#[test]
fn a_client_woken_only_at_its_next_update_times_out_at_the_deadline() {
    // A driver that sleeps until next_update and runs update then (a timer
    // loop, or a fake clock) must reach the timeout, not wake at the same
    // instant forever.
    let mut pair = connected_pair();
    pair.server_alive = false;
    let mut now = pair.now;
    let mut wakes = 0;
    while pair.client(0).state() == ClientState::Connected {
        now = pair.client(0).next_update(now).max(now);
        pair.with_client_out(0, |client, out| client.update(now, out));
        wakes += 1;
        assert!(wakes < 200, "woken {wakes} times without timing out");
    }
    assert_eq!(pair.client(0).state(), ClientState::ConnectionTimedOut);
}

#[test]
fn server_times_out_a_silent_client_and_frees_its_slot() {
    let mut pair = connected_pair();
    pair.loss = 1.0;
    pair.drive_until(700, |p| p.server.connected_count() == 0);
    assert!(pair.events.iter().any(|e| matches!(
        e,
        Event::Disconnected {
            reason: DisconnectReason::TimedOut,
            ..
        }
    )));
    assert!(pair.now - pair.epoch >= Duration::from_secs(5));
}

#[test]
fn request_times_out_when_no_server_answers() {
    let mut pair = Pair::new();
    let builder = ConnectTokenBuilder::new(PROTOCOL_ID, 1)
        .server("127.0.0.9:1".parse().unwrap())
        .timeout(Some(Duration::from_secs(2)));
    let token = pair.build(&builder);
    pair.add_client(token);
    pair.drive_until(300, |p| {
        p.client(0).state() == ClientState::ConnectionRequestTimedOut
    });
    assert_eq!(ClientState::ConnectionRequestTimedOut.code(), -2);
}

#[test]
fn token_expires_while_no_server_answers() {
    let mut pair = Pair::new();
    let builder = ConnectTokenBuilder::new(PROTOCOL_ID, 1)
        .server("127.0.0.9:1".parse().unwrap())
        .expire_after(Duration::from_secs(3))
        .timeout(None);
    let token = pair.build(&builder);
    pair.add_client(token);
    pair.drive_until(400, |p| {
        p.client(0).state() == ClientState::ConnectTokenExpired
    });
    assert_eq!(ClientState::ConnectTokenExpired.code(), -6);
    assert!(pair.now - pair.epoch >= Duration::from_secs(3));
}

#[test]
fn server_refuses_an_expired_token() {
    let mut pair = Pair::new();
    let builder = Pair::builder(1).expire_after(Duration::from_secs(1));
    let token = pair.build(&builder);
    pair.run(150); // the token expires before the client uses it
    pair.add_client(token);
    pair.run(20);
    assert!(pair.server.stats().dropped(DropReason::TokenExpired) > 0);
    assert_eq!(pair.server.connected_count(), 0);
}

#[test]
fn client_disconnect_frees_the_slot_at_once() {
    let mut pair = connected_pair();
    pair.with_client_out(0, |c, out| c.disconnect(out));
    assert_eq!(pair.client(0).state(), ClientState::Disconnected);
    pair.run(2);
    assert_eq!(pair.server.connected_count(), 0);
    // The other nine disconnect packets are replays or from an unknown source now.
    assert_eq!(pair.server.stats().disconnects, 1);
}

#[test]
fn server_disconnect_reaches_the_client() {
    let mut pair = connected_pair();
    pair.with_server_out(|s, out| s.disconnect(crate::proto::server::ClientIndex::new(0, 1), out));
    pair.drive_until(5, |p| p.client(0).state() == ClientState::Disconnected);
    assert!(matches!(
        pair.events.last(),
        Some(Event::Disconnected {
            reason: DisconnectReason::ServerDisconnected,
            ..
        })
    ));
}

#[test]
fn a_client_reconnects_with_a_new_token() {
    let mut pair = connected_pair();
    pair.with_client_out(0, |c, out| c.disconnect(out));
    pair.run(2);
    let token = pair.token(1);
    let now = pair.now;
    pair.clients[0].client.connect(now, token);
    pair.expect_connected(0);
    pair.client_send(0, b"again");
    pair.run(2);
    assert_eq!(
        pair.server_received.last().map(|(_, b)| b.as_slice()),
        Some(&b"again"[..])
    );
}

#[test]
fn a_replayed_payload_is_dropped() {
    let mut pair = connected_pair();
    let mut out: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
    let now = pair.now;
    pair.clients[0]
        .client
        .send(
            now,
            crate::proto::channel::ChannelId::RAW,
            b"once",
            &mut out,
        )
        .unwrap();
    let (to, bytes) = out.pop().unwrap();
    pair.inject(client_addr(0), to, bytes.clone());
    pair.inject(client_addr(0), to, bytes);
    pair.run(2);
    let copies = pair
        .server_received
        .iter()
        .filter(|(_, b)| b == b"once")
        .count();
    assert_eq!(copies, 1);
    assert_eq!(pair.server.stats().dropped(DropReason::Replayed), 1);
}

#[test]
fn the_server_sends_keep_alive_before_payload_until_confirmed() {
    let mut pair = Pair::new();
    let token = pair.token(1);
    pair.add_client(token);
    pair.drive_until(100, |p| p.server.connected_count() == 1);
    // Connected on the server; the client has not confirmed yet.
    let mut out: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
    let now = pair.now;
    pair.server
        .send(
            now,
            crate::proto::server::ClientIndex::new(0, 1),
            crate::proto::channel::ChannelId::RAW,
            b"hi",
            &mut out,
        )
        .unwrap();
    let kinds: Vec<_> = out
        .iter()
        .map(|(_, b)| packet::parse_header(b).unwrap().packet_type())
        .collect();
    use crate::wire::prefix::PacketType;
    assert_eq!(kinds, [PacketType::KeepAlive, PacketType::Payload]);
}

#[test]
fn an_idle_connection_outlives_its_timeout_on_keep_alives() {
    let mut pair = connected_pair();
    pair.run(1000); // ten seconds, twice the timeout, with nothing to send
    assert_eq!(pair.client(0).state(), ClientState::Connected);
    assert_eq!(pair.server.connected_count(), 1);
}

#[test]
fn a_session_prepares_its_keys_only_while_payloads_flow() {
    let mut pair = connected_pair();
    // Keep-alives alone, both ways, for a few sweeps.
    pair.run(300);
    assert_eq!(pair.server.prepared_sessions(), 0);
    pair.client_send(0, b"payload");
    pair.run(2);
    assert_eq!(
        pair.server_received.last().map(|(_, b)| b.as_slice()),
        Some(&b"payload"[..])
    );
    assert_eq!(pair.server.prepared_sessions(), 1);
    // Two sweep intervals without a payload let them go; the peer stays
    // connected on keep-alives, and its next payload still opens.
    pair.run(250);
    assert_eq!(pair.server.prepared_sessions(), 0);
    assert_eq!(pair.server.connected_count(), 1);
    pair.client_send(0, b"later");
    pair.run(2);
    assert_eq!(
        pair.server_received.last().map(|(_, b)| b.as_slice()),
        Some(&b"later"[..])
    );
    let client = pair.server.client_in(0).expect("still connected");
    pair.server_send(client, b"down");
    pair.run(2);
    assert_eq!(
        pair.clients[0].received.last().map(Vec::as_slice),
        Some(&b"down"[..])
    );
}
