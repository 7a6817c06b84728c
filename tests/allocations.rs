//! Counting, not timing: the port threads allocate nothing per message in
//! steady state, over real loopback sockets.
//!
//! The process runs on `tracking-allocator`, which reports every allocation
//! with the allocation group active on its thread. The test's own thread
//! (the clients) enters a group of its own; the engine's port threads never
//! enter one, so their allocations land in the root group, and those are
//! the ones counted. After a warm-up, the count must not move while ten
//! thousand messages are echoed, and again while ten thousand are
//! forwarded by the relay, across two ports.
//!
//! Steady state means no new peak: queues keep the capacity they grew to,
//! and grow again only when more is in flight than ever before. So the
//! warm-up runs a heavier load than the measured run (more messages in
//! flight), and lasts until the ports have published their stats with the
//! peers in them (the first publish sizes the snapshot's peer list).
//!
//! One `#[test]` runs both scenarios in turn, so no other test's threads
//! allocate in the root group while one is counting.

mod common;

use berth::Key;
use berth::engine::{Client, Context, Handler, PeerId, Server, ServerConfig};
use berth::proto::channel::{ChannelId, standard};
use berth::relay::{self, MatchInfo, RelayConfig, RelayEvent, RelayServer, Target};
use common::{DEADLINE, PRIVATE_KEY, PROTOCOL_ID};
use std::alloc::System;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tracking_allocator::{
    AllocationGroupId, AllocationGroupToken, AllocationRegistry, AllocationTracker, Allocator,
};

#[global_allocator]
static GLOBAL: Allocator<System> = Allocator::system();

/// Allocations made in the root group: by threads that entered no group.
static ROOT_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

struct RootCounter;

impl AllocationTracker for RootCounter {
    fn allocated(&self, _addr: usize, _size: usize, _wrapped: usize, group: AllocationGroupId) {
        if group == AllocationGroupId::ROOT {
            ROOT_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn deallocated(
        &self,
        _addr: usize,
        _size: usize,
        _wrapped: usize,
        _source: AllocationGroupId,
        _current: AllocationGroupId,
    ) {
    }
}

/// Messages per measured run.
const MEASURED: u64 = 10_000;

/// Echoes every message back on the port thread, reliably and in order.
struct Echo;

impl Handler for Echo {
    fn message(&mut self, ctx: &mut Context<'_>, peer: PeerId, _: ChannelId, bytes: &[u8]) {
        ctx.send(peer, standard::RELIABLE_ORDERED, bytes).unwrap();
    }
}

/// Sends `count` 100-byte messages from `client`, at most `window`
/// unanswered, and waits for every echo.
fn echo(client: &mut Client, count: u64, window: u64) {
    let message = [0x5a; 100];
    let (mut sent, mut received) = (0, 0);
    let deadline = Instant::now() + DEADLINE;
    while received < count {
        assert!(
            Instant::now() < deadline,
            "echoes did not come back: {received}/{count}"
        );
        let now = Instant::now();
        while sent < count && sent - received < window {
            client
                .send(now, standard::RELIABLE_ORDERED, &message)
                .unwrap();
            sent += 1;
        }
        client.update(now);
        while let Some(reply) = client.recv() {
            assert_eq!(reply.bytes, message);
            received += 1;
        }
    }
}

fn echoes_allocate_nothing_on_the_port_thread() {
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        PROTOCOL_ID,
        Key::from_bytes(PRIVATE_KEY),
    );
    let server = Server::bind_with_handler(config, |_| Echo).unwrap();
    let mut client = Client::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    client.connect(Instant::now(), server.issue_token(1, [0; 256]).unwrap());
    let deadline = Instant::now() + DEADLINE;
    while !client.is_connected() {
        assert!(Instant::now() < deadline, "client did not connect");
        client.update(Instant::now());
    }
    echo(&mut client, 4_000, 256); // warm-up: four times the measured window
    while server.stats()[0].peer_channels.is_empty() {
        echo(&mut client, 100, 64);
    }

    let before = ROOT_ALLOCATIONS.load(Ordering::Relaxed);
    echo(&mut client, MEASURED, 64);
    let allocations = ROOT_ALLOCATIONS.load(Ordering::Relaxed) - before;
    let stats = server.shutdown();
    assert!(stats[0].messages_in >= 12_000, "{stats:?}");
    assert_eq!(
        allocations, 0,
        "port thread allocations while echoing {MEASURED} messages"
    );
}

/// Drives the relay clients until each has seen `wanted[i]` events that
/// pass `is_wanted`, counting into `seen`.
fn drive(
    what: &str,
    players: &mut [relay::RelayClient],
    seen: &mut [u64],
    wanted: &[u64],
    is_wanted: impl Fn(&RelayEvent) -> bool,
) {
    let deadline = Instant::now() + DEADLINE;
    while seen.iter().zip(wanted).any(|(seen, wanted)| seen < wanted) {
        assert!(
            Instant::now() < deadline,
            "{what}: {seen:?} of {wanted:?} within {DEADLINE:?}"
        );
        let now = Instant::now();
        for (player, seen) in players.iter_mut().zip(seen.iter_mut()) {
            player.update(now);
            while let Some(event) = player.poll_event() {
                *seen += u64::from(is_wanted(&event));
            }
        }
    }
}

/// Every player sends `rounds` × `burst` reliable messages to all others,
/// `burst` at a time, and each round waits until every player has received
/// the others' messages; returns how many messages the players received.
fn exchange(players: &mut [relay::RelayClient], rounds: u32, burst: u8) -> u64 {
    let others = players.len() as u64 - 1;
    let mut received = vec![0; players.len()];
    let mut wanted = vec![0; players.len()];
    for _ in 0..rounds {
        for player in players.iter_mut() {
            for i in 0..burst {
                player.send_to(Target::AllOthers, &[i; 64], true).unwrap();
            }
        }
        for wanted in &mut wanted {
            *wanted += u64::from(burst) * others;
        }
        drive(
            "a round of forwards arrives",
            players,
            &mut received,
            &wanted,
            |event| matches!(event, RelayEvent::Received { data, .. } if data.len() == 64),
        );
    }
    received.iter().sum()
}

fn relay_forwards_allocate_nothing_on_the_port_threads() {
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        relay::protocol_id(),
        Key::from_bytes(PRIVATE_KEY),
    )
    .ports(2);
    let server = RelayServer::bind(config, RelayConfig::default()).unwrap();
    let mut players: Vec<relay::RelayClient> = (1..=4)
        .map(|id| {
            let mut player = relay::RelayClient::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            player.connect(Instant::now(), server.issue_token(id).unwrap());
            player
        })
        .collect();
    let info = MatchInfo {
        player_count: 4,
        match_data: b"allocations".to_vec(),
    };
    let deadline = Instant::now() + DEADLINE;
    while !players.iter().all(relay::RelayClient::is_connected) {
        assert!(Instant::now() < deadline, "players did not connect");
        for player in &mut players {
            player.update(Instant::now());
        }
    }
    for player in &mut players {
        player.request_match(&info).unwrap();
    }
    let mut matched = [0; 4];
    drive(
        "players are matched",
        &mut players,
        &mut matched,
        &[1; 4],
        |event| matches!(event, RelayEvent::Matched { .. }),
    );
    let loads = server.server().loads();
    assert_eq!(
        loads,
        [2, 2],
        "two players on each port: forwards cross ports"
    );

    // Warm-up: bursts four times the measured ones.
    exchange(&mut players, 20, 32);
    while server
        .server()
        .stats()
        .iter()
        .any(|port| port.peer_channels.len() < 2)
    {
        exchange(&mut players, 1, 8);
    }
    let forwarded_before = server.stats().forwarded;
    let before = ROOT_ALLOCATIONS.load(Ordering::Relaxed);
    let received = exchange(&mut players, 105, 8); // 10,080 forwards
    let allocations = ROOT_ALLOCATIONS.load(Ordering::Relaxed) - before;
    let forwarded = server.stats().forwarded - forwarded_before;
    assert!(received >= MEASURED);
    assert_eq!(forwarded, received);
    assert_eq!(
        allocations, 0,
        "port thread allocations while forwarding {forwarded} messages"
    );
}

#[test]
fn port_threads_allocate_nothing_per_message_in_steady_state() {
    AllocationRegistry::set_global_tracker(RootCounter).unwrap();
    let mut clients = AllocationGroupToken::register().unwrap();
    let _clients = clients.enter();
    AllocationRegistry::enable_tracking();
    echoes_allocate_nothing_on_the_port_thread();
    relay_forwards_allocate_nothing_on_the_port_threads();
}
