//! Sessions on the fake clock: channel messages through a lossy network,
//! handles that outlive their client, and what each session accepts.

use super::{PRIVATE_KEY, PROTOCOL_ID, Pair, server_addr};
use crate::crypto::Key;
use crate::proto::SendError;
use crate::proto::channel::{ChannelId, ChannelTable, standard};
use crate::proto::server::{ClientIndex, Event, ShardConfig};

fn channel_pair() -> Pair {
    Pair::with_config(
        ShardConfig::new(PROTOCOL_ID, Key::from_bytes(PRIVATE_KEY), server_addr())
            .channels(Some(ChannelTable::standard())),
    )
}

fn connected_index(pair: &Pair, client_id: u64) -> ClientIndex {
    pair.events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Connected {
                client,
                client_id: id,
                ..
            } if *id == client_id => Some(*client),
            _ => None,
        })
        .expect("a connect event")
}

fn message(n: u32) -> Vec<u8> {
    let mut m = vec![0x5a; 40 + (n as usize % 200)];
    m[..4].copy_from_slice(&n.to_le_bytes());
    m
}

#[test]
fn reliable_messages_cross_a_lossy_link_exactly_once_and_in_order_both_ways() {
    const N: u32 = 300;
    let mut pair = channel_pair();
    let token = pair.token(1);
    pair.add_client(token);
    pair.expect_connected(0);
    pair.drive_until(10, |p| !p.events.is_empty());
    let client = connected_index(&pair, 1);
    pair.loss = 0.2;
    let (mut up, mut down) = (0u32, 0u32);
    // Each side queues what its budget takes every step; resends are the
    // sessions' own doing, on the fake clock.
    for _ in 0..20_000 {
        let now = pair.now;
        while up < N {
            let mut out = Vec::new();
            let sent = pair.clients[0].client.send(
                now,
                standard::RELIABLE_ORDERED,
                &message(up),
                &mut out,
            );
            assert!(out.is_empty(), "a channel send only queues");
            match sent {
                Ok(()) => up += 1,
                Err(SendError::QueueFull { .. }) => break,
                Err(e) => panic!("client send: {e}"),
            }
        }
        while down < N {
            let mut out = Vec::new();
            let sent = pair.server.send(
                now,
                client,
                standard::RELIABLE_ORDERED,
                &message(down),
                &mut out,
            );
            assert!(out.is_empty(), "a channel send only queues");
            match sent {
                Ok(()) => down += 1,
                Err(SendError::QueueFull { .. }) => break,
                Err(e) => panic!("server send: {e}"),
            }
        }
        if pair.server_received.len() == N as usize && pair.clients[0].received.len() == N as usize
        {
            break;
        }
        pair.step();
    }
    let upstream: Vec<Vec<u8>> = pair
        .server_received
        .iter()
        .map(|(_, m)| m.clone())
        .collect();
    let expected: Vec<Vec<u8>> = (0..N).map(message).collect();
    assert_eq!(upstream, expected, "client to server");
    assert_eq!(pair.clients[0].received, expected, "server to client");
    assert!(pair.server_received.iter().all(|(c, _)| *c == client));
    let stats = pair.server.client_stats(client).expect("channel stats");
    assert!(
        stats.packets_lost > 0,
        "a 20% loss link lost nothing: {stats:?}"
    );
    assert_eq!(
        pair.server.connected_count(),
        1,
        "the session survived the loss"
    );
}

#[test]
fn a_handle_of_a_client_that_left_reaches_nobody_in_its_slot() {
    let mut pair = channel_pair();
    let first = pair.token(1);
    pair.add_client(first);
    pair.expect_connected(0);
    pair.drive_until(10, |p| !p.events.is_empty());
    let old = connected_index(&pair, 1);
    pair.with_client_out(0, |c, out| c.disconnect(out));
    pair.drive_until(10, |p| p.server.connected_count() == 0);

    let second = pair.token(2);
    pair.add_client(second);
    pair.expect_connected(1);
    pair.drive_until(10, |p| p.server.connected_count() == 1);
    let new = connected_index(&pair, 2);
    assert_eq!(new.get(), old.get(), "the slot is reused");
    assert_ne!(new, old);

    let now = pair.now;
    let mut out = Vec::new();
    assert_eq!(
        pair.server
            .send(now, old, standard::RELIABLE_ORDERED, b"stale", &mut out),
        Err(SendError::NotConnected)
    );
    assert!(!pair.server.is_connected(old));
    assert_eq!(pair.server.client_id(old), None);
    assert_eq!(pair.server.client_stats(old), None);
    pair.with_server_out(|s, out| s.disconnect(old, out));
    assert!(
        pair.server.is_connected(new),
        "a stale disconnect ended the new client"
    );

    pair.server
        .send(now, new, standard::RELIABLE_ORDERED, b"fresh", &mut out)
        .unwrap();
    pair.drive_until(50, |p| !p.clients[1].received.is_empty());
    assert_eq!(pair.clients[1].received, [b"fresh".to_vec()]);
}

#[test]
fn each_session_takes_only_what_its_mode_carries() {
    // Raw: one payload of 1..=1200 bytes on the raw channel.
    let mut raw = Pair::new();
    let token = raw.token(1);
    raw.add_client(token);
    raw.expect_connected(0);
    raw.drive_until(10, |p| !p.events.is_empty());
    let client = connected_index(&raw, 1);
    raw.run(20); // the client confirms with a keep-alive: no keep-alive before payloads
    let now = raw.now;
    let mut out = Vec::new();
    assert_eq!(
        raw.server
            .send(now, client, standard::RELIABLE_ORDERED, b"x", &mut out),
        Err(SendError::UnknownChannel(standard::RELIABLE_ORDERED))
    );
    assert_eq!(
        raw.server.send(now, client, ChannelId::RAW, &[], &mut out),
        Err(SendError::BadLength { len: 0, max: 1200 })
    );
    assert_eq!(
        raw.server
            .send(now, client, ChannelId::RAW, &[1; 1201], &mut out),
        Err(SendError::BadLength {
            len: 1201,
            max: 1200
        })
    );
    assert!(out.is_empty());
    raw.server
        .send(now, client, ChannelId::RAW, &[1; 1200], &mut out)
        .unwrap();
    assert_eq!(out.len(), 1, "a raw send seals at once");

    // Channels: the table decides.
    let mut framed = channel_pair();
    let token = framed.token(1);
    framed.add_client(token);
    framed.expect_connected(0);
    framed.drive_until(10, |p| !p.events.is_empty());
    let client = connected_index(&framed, 1);
    framed.run(20);
    let now = framed.now;
    let mut out = Vec::new();
    assert_eq!(
        framed
            .server
            .send(now, client, ChannelId::RAW, b"x", &mut out),
        Err(SendError::UnknownChannel(ChannelId::RAW))
    );
    framed
        .server
        .send(now, client, standard::UNRELIABLE, b"x", &mut out)
        .unwrap();
    assert!(out.is_empty(), "a channel send waits for poll_transmit");
    framed.server.poll_transmit(now, &mut out);
    assert_eq!(out.len(), 1);
}

#[test]
fn an_owed_ack_that_rides_on_data_leaves_no_deadline_behind() {
    use super::client_addr;
    let mut pair = channel_pair();
    let token = pair.token(1);
    pair.add_client(token);
    pair.expect_connected(0);
    pair.drive_until(10, |p| !p.events.is_empty());
    let client = connected_index(&pair, 1);
    pair.run(30); // past the handshake's packets and first keep-alives
    let now = pair.now;

    // A reliable message from the client: the shard owes an ack within 5 ms.
    let mut from_client = Vec::new();
    let session = &mut pair.clients[0].client;
    session
        .send(now, standard::RELIABLE_ORDERED, b"ping", &mut from_client)
        .unwrap();
    session.poll_transmit(now, &mut from_client);
    let (_, mut datagram) = from_client.pop().expect("the client wrote a packet");
    let mut out = Vec::new();
    let delivered = pair
        .server
        .handle_datagram(now, client_addr(0), &mut datagram, &mut out);
    assert_eq!(delivered, Some(client));
    let ack_by = now + std::time::Duration::from_millis(5);
    assert!(
        pair.server.next_update() <= ack_by,
        "no deadline for the owed ack"
    );

    // The shard answers at once: the ack rides on the reply.
    pair.server
        .send(now, client, standard::RELIABLE_ORDERED, b"pong", &mut out)
        .unwrap();
    pair.server.poll_transmit(now, &mut out);
    assert_eq!(out.len(), 1, "one packet for the reply and the ack");
    assert!(
        pair.server.next_update() > ack_by,
        "a deadline for an ack already sent would wake the caller for nothing"
    );
}
