//! The threaded engine end to end over loopback UDP: placement, echo across
//! ports, a standard netcode client on any port, handlers on port threads.

mod common;

use berth::engine::{Client, Context, Handler, PeerId, Server, ServerEvent};
use berth::proto::channel::ChannelId;
use berth::proto::server::DisconnectReason;
use berth::{ConnectToken, Key};
use common::engine::*;
use common::{DEADLINE, PRIVATE_KEY, PROTOCOL_ID, drive};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn a_thousand_clients_spread_evenly_over_four_ports() {
    let server = Server::bind(config(4).max_clients_per_port(512)).unwrap();
    let mut clients = clients(&server, 1000);
    connect_all(&mut clients);
    let mut per_port = [0usize; 4];
    for client in &clients {
        let addr = client.server_addr().unwrap();
        let port = server
            .local_addrs()
            .iter()
            .position(|a| *a == addr)
            .unwrap();
        per_port[port] += 1;
    }
    let (min, max) = (
        per_port.iter().min().unwrap(),
        per_port.iter().max().unwrap(),
    );
    assert!(max - min <= 1, "peers per port {per_port:?}");
    // The server sees the same: every reservation became a connection.
    assert_eq!(server.loads(), per_port.to_vec());
    drive("stats catch up", || {
        server.stats().iter().map(|s| s.peers).sum::<usize>() == 1000
    });
    // Each peer's counters are published once, in order, and found by id
    // (a binary search).
    drive("every peer's counters are published", || {
        server
            .stats()
            .iter()
            .map(|s| s.peer_channels.len())
            .sum::<usize>()
            == 1000
    });
    for port in server.stats() {
        let ids: Vec<PeerId> = port.peer_channels.iter().map(|(id, _)| *id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "not in order");
        assert!(ids.iter().all(|id| server.peer_stats(*id).is_some()));
    }
}

#[test]
fn ten_thousand_echoes_across_four_ports_none_lost() {
    let server = Server::bind(config(4)).unwrap();
    let echo = echo_events(&server);
    let mut clients = clients(&server, 40);
    connect_all(&mut clients);
    echo_round(&mut clients, 250, 8, 100);
    let stats = server.shutdown();
    echo.join().unwrap();
    assert!(stats.iter().all(|s| s.messages_in >= 2000), "{stats:#?}");
    assert_eq!(stats.iter().map(|s| s.messages_in).sum::<u64>(), 10_000);
}

#[test]
fn a_netcode_official_client_with_its_own_token_connects_to_any_port() {
    let server = Server::bind(config(4).raw()).unwrap();
    let echo = echo_events(&server);
    for (i, addr) in server.public_addrs().to_vec().into_iter().enumerate() {
        let token = netcode::generate_connect_token(
            &[addr],
            &[addr],
            30,
            5,
            100 + i as u64,
            PROTOCOL_ID,
            &PRIVATE_KEY,
            &[0; 256],
        )
        .unwrap();
        let mut theirs = netcode::Client::new("127.0.0.1:0".parse().unwrap(), 0.0).unwrap();
        theirs.connect(&token).unwrap();
        let start = Instant::now();
        let mut sent = false;
        let mut echoed = None;
        drive("their client connects and gets an echo", || {
            theirs.update(start.elapsed().as_secs_f64());
            if theirs.state() == netcode::ClientState::Connected && !sent {
                theirs.send_packet(b"ping from netcode-official").unwrap();
                sent = true;
            }
            if let Some((bytes, _)) = theirs.receive_packet() {
                echoed = Some(bytes);
            }
            echoed.is_some()
        });
        assert_eq!(echoed.as_deref(), Some(&b"ping from netcode-official"[..]));
        assert_eq!(theirs.server_address(), Some(addr));
    }
    drop(server);
    echo.join().unwrap();
}

#[test]
fn events_report_connect_message_and_disconnect_with_user_data() {
    let server = Server::bind(config(2)).unwrap();
    let token = server.issue_token(7, [3; 256]).unwrap();
    let mut client = Client::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    client.connect(Instant::now(), token);
    let mut clients = [client];
    connect_all(&mut clients);
    let peer = match server
        .events()
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
    {
        ServerEvent::Connected {
            peer,
            client_id: 7,
            user_data,
        } => {
            assert_eq!(*user_data, [3; 256]);
            peer
        }
        other => panic!("unexpected {other:?}"),
    };
    clients[0].send(Instant::now(), CHANNEL, b"hello").unwrap();
    clients[0].flush(Instant::now());
    assert_eq!(
        server
            .events()
            .recv_timeout(Duration::from_secs(5))
            .unwrap(),
        ServerEvent::Message {
            peer,
            channel: CHANNEL,
            bytes: b"hello".to_vec()
        }
    );
    clients[0].disconnect(Instant::now());
    match server
        .events()
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
    {
        ServerEvent::Disconnected { peer: gone, .. } => assert_eq!(gone, peer),
        other => panic!("unexpected {other:?}"),
    }
    // A dead id is refused on its port, not delivered to the next occupant.
    let next = server.issue_token(8, [0; 256]).unwrap();
    let mut again = Client::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    again.connect(Instant::now(), next);
    let mut clients = [again];
    connect_all(&mut clients);
    server.send(peer, CHANNEL, b"to the old peer").unwrap();
    server.send(peer, CHANNEL, b"still the old peer").unwrap();
    let newcomer = loop {
        if let ServerEvent::Connected { peer, .. } = server
            .events()
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
        {
            break peer;
        }
    };
    server.send(newcomer, CHANNEL, b"to the new peer").unwrap();
    drive_clients(
        "the new peer's message arrives",
        &mut clients,
        |cs| match cs[0].recv() {
            Some(m) => {
                assert_eq!(
                    m.bytes, b"to the new peer",
                    "a stale id reached the new peer"
                );
                true
            }
            None => false,
        },
    );
}

/// Forwards every message to every other peer, on whatever port it is.
struct Broadcast {
    peers: Arc<Mutex<Vec<PeerId>>>,
}

impl Handler for Broadcast {
    fn connected(&mut self, _: &mut Context<'_>, peer: PeerId, _: u64, _: &[u8; 256]) {
        self.peers.lock().unwrap().push(peer);
    }

    fn message(&mut self, ctx: &mut Context<'_>, from: PeerId, channel: ChannelId, bytes: &[u8]) {
        let peers = self.peers.lock().unwrap().clone();
        for peer in peers.into_iter().filter(|&p| p != from) {
            ctx.send(peer, channel, bytes).unwrap();
        }
    }
}

#[test]
fn a_handler_reaches_peers_on_its_own_port_and_on_others() {
    let peers = Arc::new(Mutex::new(Vec::new()));
    let shared = peers.clone();
    let server = Server::bind_with_handler(config(2), move |_| Broadcast {
        peers: shared.clone(),
    })
    .unwrap();
    // Four clients over two ports: each sender has one peer on its own port and two on the other.
    let mut clients = clients(&server, 4);
    connect_all(&mut clients);
    drive("the handler saw every peer", || {
        peers.lock().unwrap().len() == 4
    });
    let ports: Vec<u16> = peers.lock().unwrap().iter().map(|p| p.port()).collect();
    assert_eq!(ports.iter().filter(|&&p| p == 0).count(), 2, "{ports:?}");
    for sender in 0..4 {
        let m = message(sender, 0, 32);
        clients[sender].send(Instant::now(), CHANNEL, &m).unwrap();
        let mut arrived = [false; 4];
        arrived[sender] = true;
        drive_clients(
            "the broadcast arrives at the other three",
            &mut clients,
            |cs| {
                for (i, c) in cs.iter_mut().enumerate() {
                    if let Some(got) = c.recv() {
                        assert_eq!(got.bytes, m, "client {i}");
                        assert!(!arrived[i], "client {i} got it twice");
                        arrived[i] = true;
                    }
                }
                arrived.iter().all(|&a| a)
            },
        );
    }
}

#[test]
fn tokens_name_every_port_least_loaded_first() {
    let server = Server::bind(config(3)).unwrap();
    let first = server.issue_token(1, [0; 256]).unwrap();
    let second = server.issue_token(2, [0; 256]).unwrap();
    let addrs = server.public_addrs();
    assert_eq!(first.server_addresses.as_slice().len(), 3);
    assert_eq!(first.server_addresses.as_slice()[0], addrs[0]);
    assert_eq!(second.server_addresses.as_slice()[0], addrs[1]);
    assert_eq!(server.loads(), [1, 1, 0]);
    let bytes = second.to_bytes();
    assert_eq!(ConnectToken::parse(&bytes).unwrap(), second);
    let _ = Key::from_bytes(PRIVATE_KEY);
}

#[test]
fn serves_ipv6_clients() {
    let config = berth::engine::ServerConfig::new(
        "[::1]:0".parse().unwrap(),
        PROTOCOL_ID,
        Key::from_bytes(PRIVATE_KEY),
    )
    .ports(2);
    let server = Server::bind(config).unwrap();
    assert!(server.local_addrs().iter().all(|a| a.is_ipv6()));
    let echo = echo_events(&server);
    let mut clients: Vec<Client> = (0..2)
        .map(|i| {
            let mut client = Client::bind("[::1]:0".parse().unwrap()).unwrap();
            client.connect(Instant::now(), server.issue_token(i + 1, [0; 256]).unwrap());
            client
        })
        .collect();
    connect_all(&mut clients);
    echo_round(&mut clients, 100, 8, 1200);
    drop(server);
    echo.join().unwrap();
}

#[test]
fn peers_past_the_per_address_cap_are_turned_away_unseen() {
    use berth::proto::client::ClientState;
    let server = Server::bind(config(2).max_peers_per_ip(2)).unwrap();
    let mut clients = clients(&server, 3);
    // All three are on 127.0.0.1: two stay, one hears a disconnect.
    drive_clients("two connect, one is turned away", &mut clients, |cs| {
        let connected = cs.iter().filter(|c| c.is_connected()).count();
        let refused = cs
            .iter()
            .filter(|c| c.state() == ClientState::Disconnected)
            .count();
        connected == 2 && refused == 1
    });
    let events = server.events().clone();
    let stats = server.shutdown();
    let (mut connects, mut disconnects) = (0, 0);
    while let Ok(event) = events.try_recv() {
        match event {
            ServerEvent::Connected { .. } => connects += 1,
            ServerEvent::Disconnected { .. } => disconnects += 1,
            _ => {}
        }
    }
    // Only the two admitted peers were ever announced, coming and going.
    assert_eq!((connects, disconnects), (2, 2));
    assert_eq!(stats.iter().map(|s| s.ip_limited).sum::<u64>(), 1);
}

/// A message that holds its port's thread in the handler until released.
const HOLD: [u8; 16] = [0xee; 16];

/// Sends every message it gets 64 times over, as messages the peers must
/// not miss, to each peer on another port; notes why peers leave. A
/// [`HOLD`] message instead parks the port's thread until `release` says
/// go, having said so on `held`, so the other port's flood finds this
/// port's queue full however fast the machine is.
struct Flood {
    peers: Arc<Mutex<Vec<PeerId>>>,
    left: Arc<Mutex<Vec<(PeerId, DisconnectReason)>>>,
    held: crossbeam_channel::Sender<()>,
    release: crossbeam_channel::Receiver<()>,
}

impl Handler for Flood {
    fn connected(&mut self, _: &mut Context<'_>, peer: PeerId, _: u64, _: &[u8; 256]) {
        self.peers.lock().unwrap().push(peer);
    }

    fn message(&mut self, ctx: &mut Context<'_>, from: PeerId, channel: ChannelId, bytes: &[u8]) {
        if bytes == HOLD {
            self.held.send(()).unwrap();
            self.release.recv_timeout(DEADLINE).unwrap();
            return;
        }
        let peers = self.peers.lock().unwrap().clone();
        for peer in peers.into_iter().filter(|p| p.port() != from.port()) {
            for _ in 0..64 {
                ctx.send_or_disconnect(peer, channel, bytes).unwrap();
            }
        }
    }

    fn disconnected(&mut self, _: &mut Context<'_>, peer: PeerId, reason: DisconnectReason) {
        self.left.lock().unwrap().push((peer, reason));
    }
}

/// A port whose queue is too full for a message its peer must not miss
/// does not lose it silently: that peer is disconnected as too slow.
#[test]
fn a_must_arrive_message_that_finds_the_other_port_full_disconnects_its_peer() {
    let peers = Arc::new(Mutex::new(Vec::new()));
    let left = Arc::new(Mutex::new(Vec::new()));
    let (shared_peers, shared_left) = (peers.clone(), left.clone());
    let (held_tx, held) = crossbeam_channel::unbounded();
    let (release, release_rx) = crossbeam_channel::unbounded();
    let server = Server::bind_with_handler(config(2).queue_len(4), move |_| Flood {
        peers: shared_peers.clone(),
        left: shared_left.clone(),
        held: held_tx.clone(),
        release: release_rx.clone(),
    })
    .unwrap();
    let mut clients = clients(&server, 2);
    connect_all(&mut clients);
    drive("the handler saw both peers", || {
        peers.lock().unwrap().len() == 2
    });
    let both = peers.lock().unwrap().clone();
    assert_ne!(both[0].port(), both[1].port(), "one peer per port");
    // Park the second peer's port, then flood it from the first's: its
    // queue of 4 cannot take 64, whatever the scheduler does.
    clients[1].send(Instant::now(), CHANNEL, &HOLD).unwrap();
    drive_clients("the second port is held", &mut clients, |_| {
        held.try_recv().is_ok()
    });
    clients[0]
        .send(Instant::now(), CHANNEL, &message(0, 0, 16))
        .unwrap();
    drive_clients(
        "the flood overflows the held port's queue",
        &mut clients,
        |_| {
            server
                .stats()
                .iter()
                .map(|p| p.cross_port_dropped)
                .sum::<u64>()
                > 0
        },
    );
    release.send(()).unwrap();
    drive_clients("someone is dropped as too slow", &mut clients, |_| {
        !left.lock().unwrap().is_empty()
    });
    let dropped = left.lock().unwrap().clone();
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    let (peer, reason) = dropped[0];
    assert_eq!(reason, DisconnectReason::TooSlow);
    assert!(both.contains(&peer));
    // It is the flooded peer, not the sender.
    drive_clients("the flooded client hears it", &mut clients, |cs| {
        !cs[1].is_connected()
    });
    assert!(clients[0].is_connected());
}

#[test]
fn a_protocol_made_once_gives_server_client_and_tokens_the_same_table() {
    use berth::ProtocolId;
    use berth::proto::channel::{ChannelKind, ChannelTable};
    let protocol = ProtocolId::new("table-once").version(1, 0).with_channels(
        ChannelTable::new()
            .channel(7, ChannelKind::ReliableOrdered)
            .channel(9, ChannelKind::Unreliable)
            .build()
            .unwrap(),
    );
    let server = Server::bind(config(1).protocol(&protocol)).unwrap();
    let token = server.issue_token(1, [0; 256]).unwrap();
    assert_eq!(
        token.protocol_id,
        protocol.id(),
        "tokens carry the protocol's id"
    );
    let echo = echo_events(&server);
    let mut client = Client::bind("127.0.0.1:0".parse().unwrap())
        .unwrap()
        .protocol(&protocol);
    client.connect(Instant::now(), token);
    let mut clients = [client];
    drive_clients("the client connects", &mut clients, |cs| {
        cs[0].is_connected()
    });
    let seven = ChannelId::new(7).unwrap();
    clients[0].send(Instant::now(), seven, b"on seven").unwrap();
    assert!(
        clients[0]
            .send(Instant::now(), ChannelId::new(8).unwrap(), b"x")
            .is_err(),
        "a channel the protocol does not have"
    );
    let mut echoed = None;
    drive_clients("the echo comes back on its channel", &mut clients, |cs| {
        if let Some(m) = cs[0].recv() {
            echoed = Some((m.channel, m.bytes));
        }
        echoed.is_some()
    });
    assert_eq!(echoed, Some((seven, b"on seven".to_vec())));
    drop(clients);
    server.shutdown();
    let _ = echo.join();
}
