//! The engine over the in-memory transport: host mode (server and clients
//! in one process, no sockets), faults on the link, and a fake-clock run of
//! the protocol state machines that replays exactly from its seed.

mod common;

use berth::engine::{
    Client, Faults, MemoryNetwork, MemorySocket, PeerId, SendError, Server, ServerConfig,
    ServerEvent,
};
use berth::proto::WallClock;
use berth::proto::channel::ChannelId;
use berth::proto::channel::standard;
use berth::proto::client::{ClientSession, ClientState};
use berth::proto::server::{Event, Shard, ShardConfig};
use berth::{ConnectTokenBuilder, Key, OsRandom};
use common::engine::{drive_clients, echo_events, echo_round, expect_port_failure, message};
use common::{PRIVATE_KEY, PROTOCOL_ID};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn memory_config(network: &MemoryNetwork, ports: u16) -> ServerConfig {
    ServerConfig::new(
        "10.0.0.1:40000".parse().unwrap(),
        PROTOCOL_ID,
        Key::from_bytes(PRIVATE_KEY),
    )
    .ports(ports)
    .in_memory(network)
}

fn memory_clients(server: &Server, network: &MemoryNetwork, n: usize, raw: bool) -> Vec<Client> {
    (0..n)
        .map(|i| {
            let token = server.issue_token(i as u64 + 1, [0; 256]).unwrap();
            let bind: SocketAddr = format!("10.0.1.{}:0", i + 1).parse().unwrap();
            let mut client = Client::bind_in_memory(network, bind).unwrap();
            if raw {
                client = client.raw();
            }
            client.connect(Instant::now(), token);
            client
        })
        .collect()
}

/// Sends `per_client` raw messages from each client and collects every
/// echo, until `enough` holds for the received sets.
fn raw_echo_round(
    clients: &mut [Client],
    per_client: u32,
    enough: impl Fn(&[Vec<Vec<u8>>]) -> bool,
) -> Vec<Vec<Vec<u8>>> {
    let now = Instant::now();
    for (c, client) in clients.iter_mut().enumerate() {
        for seq in 0..per_client {
            client
                .send(now, ChannelId::RAW, &message(c, seq, 48))
                .unwrap();
        }
    }
    let mut received = vec![Vec::new(); clients.len()];
    drive_clients("echoes arrive", clients, |cs| {
        for (client, got) in cs.iter_mut().zip(received.iter_mut()) {
            while let Some(m) = client.recv() {
                got.push(m.bytes);
            }
        }
        enough(&received)
    });
    received
}

#[test]
fn host_mode_serves_clients_on_every_port_without_sockets_and_shuts_down() {
    let network = MemoryNetwork::new(Faults::default());
    let server = Server::bind(memory_config(&network, 2)).unwrap();
    assert_eq!(
        server.local_addrs(),
        [
            "10.0.0.1:40000".parse().unwrap(),
            "10.0.0.1:40001".parse().unwrap()
        ]
    );
    let echo = echo_events(&server);
    let mut clients = memory_clients(&server, &network, 6, false);
    drive_clients("clients connect", &mut clients, |cs| {
        cs.iter().all(Client::is_connected)
    });
    let ports: HashSet<_> = clients.iter().map(|c| c.server_addr().unwrap()).collect();
    assert_eq!(ports.len(), 2, "placement spreads clients over both ports");

    // Reliable-ordered echoes, each checked in order.
    echo_round(&mut clients, 300, 64, 48);
    let stats = network.stats();
    assert_eq!((stats.lost, stats.unroutable, stats.overflowed), (0, 0, 0));

    drop(server);
    echo.join().unwrap();
    drive_clients("clients hear the disconnect", &mut clients, |cs| {
        cs.iter().all(|c| c.state() == ClientState::Disconnected)
    });
}

#[test]
fn raw_mode_over_a_lossy_duplicating_reordering_link_never_delivers_twice() {
    let faults = Faults::default()
        .loss(0.1)
        .duplicate(0.05)
        .reorder(0.1, Duration::from_millis(20))
        .delay(Duration::from_millis(1), Duration::from_millis(4))
        .seed(42);
    let network = MemoryNetwork::new(faults);
    let server = Server::bind(memory_config(&network, 2).raw()).unwrap();
    let echo = echo_events(&server);
    let mut clients = memory_clients(&server, &network, 4, true);
    drive_clients("clients connect through the faults", &mut clients, |cs| {
        cs.iter().all(Client::is_connected)
    });

    // Each echo crosses the link twice: about 81% come back. The burst
    // stays under the 256-packet replay window, which jitter scrambles.
    let per_client = 200;
    let received = raw_echo_round(&mut clients, per_client, |got| {
        got.iter().all(|g| g.len() >= per_client as usize * 6 / 10)
    });
    for (c, got) in received.iter().enumerate() {
        let unique: HashSet<_> = got.iter().collect();
        assert_eq!(unique.len(), got.len(), "client {c} got a duplicate");
        let sent: HashSet<_> = (0..per_client).map(|s| message(c, s, 48)).collect();
        assert!(got.iter().all(|m| sent.contains(m)), "client {c} got junk");
    }
    let stats = network.stats();
    assert!(stats.lost > 0 && stats.duplicated > 0, "{stats:?}");
    drop(server);
    echo.join().unwrap();
}

#[test]
fn reliable_ordered_echoes_cross_the_port_threads_exactly_once_over_a_hostile_link() {
    let faults = Faults::default()
        .loss(0.2)
        .duplicate(0.05)
        .reorder(0.1, Duration::from_millis(20))
        .delay(Duration::from_millis(5), Duration::from_millis(25))
        .seed(8);
    let network = MemoryNetwork::new(faults);
    let server = Server::bind(memory_config(&network, 3)).unwrap();
    let echo = echo_events(&server);
    let mut clients = memory_clients(&server, &network, 6, false);
    drive_clients("clients connect through the faults", &mut clients, |cs| {
        cs.iter().all(Client::is_connected)
    });
    // Every echo back, in order, exactly once: the check is in echo_round.
    echo_round(&mut clients, 1_000, 256, 32);
    let stats = network.stats();
    assert!(stats.lost * 100 / stats.sent >= 15, "{stats:?}");
    let resends: u64 = clients
        .iter()
        .map(|c| c.channel_stats().unwrap().resends)
        .sum();
    assert!(resends > 0);
    drop(server);
    echo.join().unwrap();
}

/// One fake-clock run: a shard and a client over a faulty memory link, the
/// client sending a payload every 10 ms. Returns what happened, when.
fn fake_clock_run(seed: u64) -> Vec<(u128, String)> {
    let start = Instant::now();
    let wall = WallClock::new(start, 1_800_000_000);
    let faults = Faults::default()
        .loss(0.25)
        .duplicate(0.1)
        .reorder(0.2, Duration::from_millis(40))
        .delay(Duration::from_millis(20), Duration::from_millis(30))
        .seed(seed);
    let network = MemoryNetwork::new(faults);
    let server_socket = network.bind("10.0.0.1:40000".parse().unwrap()).unwrap();
    let client_socket = network.bind("10.0.0.2:0".parse().unwrap()).unwrap();
    let key = Key::from_bytes(PRIVATE_KEY);
    let config = ShardConfig::new(PROTOCOL_ID, key.clone(), server_socket.local_addr());
    let mut shard = Shard::new(config, start, wall, &mut OsRandom).unwrap();
    let token = ConnectTokenBuilder::new(PROTOCOL_ID, 7)
        .server(server_socket.local_addr())
        .build_with(&key, wall.unix_secs(start), &mut OsRandom)
        .unwrap();
    let mut client = ClientSession::new();
    client.connect(start, token);

    let send = |socket: &MemorySocket, now, out: &mut Vec<(SocketAddr, Vec<u8>)>| {
        for (to, bytes) in out.drain(..) {
            socket.send_to(now, to, &bytes);
        }
    };
    let mut transcript = Vec::new();
    let mut out = Vec::new();
    let mut messages = berth::proto::channel::Inbox::new();
    let mut sent = 0u32;
    for ms in 0..3000u64 {
        let now = start + Duration::from_millis(ms);
        let at = u128::from(ms);
        while let Some((from, mut bytes)) = server_socket.recv_from(now) {
            if shard
                .handle_datagram(now, from, &mut bytes, &mut out)
                .is_some()
            {
                shard.take_messages(&mut messages);
                for (_, bytes) in messages.iter() {
                    transcript.push((at, format!("server got {bytes:?}")));
                }
            }
        }
        shard.update(now, &mut out);
        while let Some(event) = shard.poll_event() {
            let what = match event {
                Event::Connected { client_id, .. } => format!("connected {client_id}"),
                Event::Disconnected { reason, .. } => format!("disconnected {reason:?}"),
                other => format!("{other:?}"),
            };
            transcript.push((at, what));
        }
        send(&server_socket, now, &mut out);
        while let Some((from, mut bytes)) = client_socket.recv_from(now) {
            if client.handle_datagram(now, from, &mut bytes) {
                while let Some(message) = client.recv() {
                    transcript.push((at, format!("client got {:?}", message.bytes)));
                }
            }
        }
        client.update(now, &mut out);
        if client.state() == ClientState::Connected && ms % 10 == 0 && sent < 200 {
            client
                .send(now, ChannelId::RAW, &sent.to_le_bytes(), &mut out)
                .unwrap();
            sent += 1;
        }
        send(&client_socket, now, &mut out);
    }
    transcript
}

#[test]
fn a_fake_clock_run_over_a_faulty_link_replays_exactly_from_its_seed() {
    let first = fake_clock_run(5);
    assert!(first.iter().any(|(_, e)| e == "connected 7"), "{first:?}");
    let delivered = first
        .iter()
        .filter(|(_, e)| e.starts_with("server got"))
        .count();
    // 200 sent, a quarter lost; duplicates are dropped by the replay window.
    assert!((100..200).contains(&delivered), "{delivered} delivered");
    assert_eq!(fake_clock_run(5), first);
    assert_ne!(fake_clock_run(6), first);
}

#[test]
fn a_failed_port_disconnects_its_peers_leaves_placement_and_the_rest_play_on() {
    let network = MemoryNetwork::new(Faults::default());
    let server = Server::bind(memory_config(&network, 2)).unwrap();
    let mut clients = memory_clients(&server, &network, 4, false);
    drive_clients("clients connect", &mut clients, |cs| {
        cs.iter().all(Client::is_connected)
    });
    let mut connected = HashSet::new();
    while connected.len() < clients.len() {
        match server
            .events()
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
        {
            ServerEvent::Connected { peer, .. } => connected.insert(peer),
            other => panic!("unexpected event before the failure: {other:?}"),
        };
    }
    let on_port_0: HashSet<PeerId> = connected
        .iter()
        .copied()
        .filter(|p| p.port() == 0)
        .collect();
    assert_eq!(
        on_port_0.len(),
        2,
        "placement put two of four peers on port 0"
    );

    let failed_addr = server.local_addrs()[0];
    assert!(network.fail(failed_addr));

    // Every peer of port 0 is reported gone, with the reason, and then the port.
    let (disconnected, error) = expect_port_failure(server.events(), 0);
    assert_eq!(disconnected, on_port_0);
    assert!(error.contains("failed on demand"), "{error}");
    let stats = server.stats();
    assert_eq!(stats[0].failure.as_deref(), Some(error.as_str()));
    assert_eq!((stats[0].peers, stats[1].failure.as_deref()), (0, None));
    assert_eq!(
        server.loads()[0],
        0,
        "the failed port's peers left placement"
    );
    let gone = *on_port_0.iter().next().unwrap();
    assert_eq!(
        server.send(gone, standard::RELIABLE_ORDERED, b"hello"),
        Err(SendError::Disconnected(gone))
    );

    // New tokens name only the port still running, even when it is fuller.
    for client_id in 100..104 {
        let token = server.issue_token(client_id, [0; 256]).unwrap();
        assert_eq!(token.server_addresses.as_slice(), [server.local_addrs()[1]]);
    }

    // The peers of port 1 go on exchanging reliable messages.
    let echo = echo_events(&server);
    let port_1_addr = server.local_addrs()[1];
    let mut survivors: Vec<Client> = clients
        .into_iter()
        .filter(|c| c.server_addr() == Some(port_1_addr))
        .collect();
    assert_eq!(survivors.len(), 2);
    echo_round(&mut survivors, 200, 64, 48);
    drop(server);
    echo.join().unwrap();
}
