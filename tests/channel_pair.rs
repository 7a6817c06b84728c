//! The channel layer between two peers over a faulty in-memory link, with
//! a fake clock: exactly-once and in-order delivery under loss,
//! duplication, reordering and jitter; fragmentation; backpressure.

use berth::engine::{Faults, MemoryNetwork, MemorySocket};
use berth::proto::SendError;
use berth::proto::channel::{ChannelId, ChannelKind, ChannelTable, Connection, Message};
use std::time::{Duration, Instant};

const UNRELIABLE: u32 = 1;
const SEQUENCED: u32 = 2;
const UNORDERED: u32 = 3;
const ORDERED: u32 = 4;
/// Fake time per step.
const STEP: Duration = Duration::from_millis(5);
/// Most packets one side writes per step.
const PACKETS_PER_STEP: usize = 64;

fn channel(id: u32) -> ChannelId {
    ChannelId::new(id).unwrap()
}

fn table() -> ChannelTable {
    ChannelTable::new()
        .channel(UNRELIABLE, ChannelKind::Unreliable)
        .channel(SEQUENCED, ChannelKind::UnreliableSequenced)
        .channel(UNORDERED, ChannelKind::ReliableUnordered)
        .channel(ORDERED, ChannelKind::ReliableOrdered)
        .build()
        .unwrap()
}

/// One side: its channels, its socket, its packet counter.
struct Side {
    connection: Connection,
    socket: MemorySocket,
    next_number: u64,
    received: Vec<Message>,
    /// When false, the side neither reads nor writes (a peer gone silent).
    alive: bool,
}

/// Two sides over one network, and the fake clock.
struct Pair {
    a: Side,
    b: Side,
    now: Instant,
    network: MemoryNetwork,
}

impl Pair {
    fn new(faults: Faults, table: ChannelTable) -> Self {
        let network = MemoryNetwork::new(faults);
        let side = |addr: &str| Side {
            connection: Connection::new(table.clone()),
            socket: network.bind(addr.parse().unwrap()).unwrap(),
            next_number: 0,
            received: Vec::new(),
            alive: true,
        };
        Self {
            a: side("10.0.0.1:1"),
            b: side("10.0.0.2:2"),
            now: Instant::now(),
            network,
        }
    }

    /// Advances the clock one step: each side reads what arrived, then writes.
    fn step(&mut self) {
        self.now += STEP;
        let now = self.now;
        for side in [&mut self.a, &mut self.b] {
            if !side.alive {
                continue;
            }
            while let Some((_, datagram)) = side.socket.recv_from(now) {
                let (number, payload) = datagram.split_at(8);
                let number = u64::from_le_bytes(number.try_into().unwrap());
                side.connection
                    .read_packet(now, number, payload)
                    .expect("an honest peer's packet is accepted");
            }
            while let Some(message) = side.connection.recv() {
                side.received.push(message);
            }
        }
        let (to_a, to_b) = (self.a.socket.local_addr(), self.b.socket.local_addr());
        for (side, to) in [(&mut self.a, to_b), (&mut self.b, to_a)] {
            if !side.alive {
                continue;
            }
            for _ in 0..PACKETS_PER_STEP {
                if !side.connection.wants_to_send(now) {
                    break;
                }
                let mut datagram = [0u8; 8 + 1200];
                let number = side.next_number;
                let len = side
                    .connection
                    .write_packet(now, number, &mut datagram[8..]);
                if len == 0 {
                    break;
                }
                side.next_number += 1;
                datagram[..8].copy_from_slice(&number.to_le_bytes());
                side.socket.send_to(now, to, &datagram[..8 + len]);
            }
        }
    }

    /// Steps until `done` holds; fails after `max_steps` (a livelock guard).
    #[track_caller]
    fn drive_until(&mut self, max_steps: usize, mut done: impl FnMut(&mut Self) -> bool) {
        for _ in 0..max_steps {
            if done(self) {
                return;
            }
            self.step();
        }
        panic!(
            "not done after {max_steps} steps; a: {:?}; b: {:?}; net: {:?}",
            self.a.connection.stats(),
            self.b.connection.stats(),
            self.network.stats()
        );
    }
}

fn hostile_link(seed: u64) -> Faults {
    Faults::default()
        .loss(0.2)
        .duplicate(0.05)
        .reorder(0.1, Duration::from_millis(50))
        .delay(Duration::from_millis(50), Duration::from_millis(100))
        .seed(seed)
}

fn numbered(i: u32, len: usize) -> Vec<u8> {
    let mut m = vec![(i % 251) as u8; len.max(4)];
    m[..4].copy_from_slice(&i.to_le_bytes());
    m
}

fn number_of(m: &Message) -> u32 {
    u32::from_le_bytes(m.bytes[..4].try_into().unwrap())
}

/// Sends `total` numbered messages on `on` from a to b as fast as the
/// budget allows, until b has them all.
fn stream(pair: &mut Pair, on: u32, total: u32, len: usize, max_steps: usize) {
    let mut next = 0u32;
    pair.drive_until(max_steps, |p| {
        while next < total {
            match p.a.connection.send(channel(on), &numbered(next, len)) {
                Ok(()) => next += 1,
                Err(SendError::QueueFull { .. }) => break,
                Err(e) => panic!("{e}"),
            }
        }
        p.b.received.len() as u32 >= total && p.a.connection.is_idle()
    });
}

#[test]
fn a_hundred_thousand_reliable_ordered_messages_arrive_once_in_order_over_a_hostile_link() {
    let mut pair = Pair::new(hostile_link(1), table());
    let total = 100_000;
    stream(&mut pair, ORDERED, total, 16, 200_000);
    let numbers: Vec<u32> = pair.b.received.iter().map(number_of).collect();
    assert_eq!(numbers, (0..total).collect::<Vec<_>>());
    assert!(
        pair.b
            .received
            .iter()
            .all(|m| m.channel == channel(ORDERED))
    );
    let net = pair.network.stats();
    // The link really was that bad.
    assert!(
        net.lost * 100 / net.sent >= 15 && net.duplicated > 50,
        "{net:?}"
    );
    let stats = pair.a.connection.stats();
    assert!(stats.resends > 0 && stats.loss > 0.05, "{stats:?}");
    assert!(stats.rtt >= Duration::from_millis(100), "{stats:?}");
}

#[test]
fn reliable_unordered_messages_arrive_exactly_once() {
    let mut pair = Pair::new(hostile_link(2), table());
    let total = 20_000;
    stream(&mut pair, UNORDERED, total, 24, 100_000);
    let mut numbers: Vec<u32> = pair.b.received.iter().map(number_of).collect();
    let in_order = numbers.windows(2).all(|w| w[0] < w[1]);
    numbers.sort_unstable();
    assert_eq!(numbers, (0..total).collect::<Vec<_>>());
    assert!(
        !in_order,
        "loss should let later messages overtake earlier ones"
    );
}

#[test]
fn unreliable_sequenced_never_delivers_an_older_message_after_a_newer_one() {
    let mut pair = Pair::new(hostile_link(3), table());
    for i in 0..5_000u32 {
        pair.a
            .connection
            .send(channel(SEQUENCED), &numbered(i, 8))
            .unwrap();
        pair.step();
    }
    pair.drive_until(1_000, |p| {
        p.a.connection.is_idle() && p.network.stats().delivered > 0
    });
    for _ in 0..100 {
        pair.step();
    }
    let numbers: Vec<u32> = pair.b.received.iter().map(number_of).collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "out of order or repeated"
    );
    // 80% of packets arrive, but with 100 ms of jitter between sends 5 ms
    // apart most are overtaken by a newer one and dropped as stale.
    assert!(
        numbers.len() > 500 && numbers.len() < 4_000,
        "{}",
        numbers.len()
    );
}

#[test]
fn a_200_kib_message_crosses_intact_under_ten_percent_loss() {
    let faults = Faults::default()
        .loss(0.1)
        .delay(Duration::from_millis(20), Duration::from_millis(20))
        .seed(4);
    let mut pair = Pair::new(faults, table());
    let big: Vec<u8> = (0..200 * 1024u32).map(|i| (i * 7 % 256) as u8).collect();
    pair.a.connection.send(channel(ORDERED), &big).unwrap();
    pair.a.connection.send(channel(ORDERED), b"after").unwrap();
    pair.drive_until(10_000, |p| p.b.received.len() == 2);
    assert_eq!(pair.b.received[0].bytes, big);
    assert_eq!(pair.b.received[1].bytes, b"after");
    assert!(pair.network.stats().lost > 0);
}

#[test]
fn a_peer_that_stops_acking_fills_the_budget_and_sends_fail_without_growing_memory() {
    let table = ChannelTable::new()
        .channel(ORDERED, ChannelKind::ReliableOrdered)
        .channel(UNRELIABLE, ChannelKind::Unreliable)
        .send_budget(256 * 1024)
        .build()
        .unwrap();
    let mut pair = Pair::new(Faults::default(), table);
    pair.b.alive = false;
    let mut accepted = 0usize;
    let mut refused = 0usize;
    for _ in 0..200 {
        for i in 0..100u32 {
            match pair.a.connection.send(channel(ORDERED), &numbered(i, 1000)) {
                Ok(()) => accepted += 1,
                Err(SendError::QueueFull { budget, .. }) => {
                    assert_eq!(budget, 256 * 1024);
                    refused += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        pair.step();
    }
    assert!(refused > 0);
    assert!(accepted * 1000 <= 256 * 1024, "{accepted} accepted");
    assert!(pair.a.connection.queued_bytes() <= 256 * 1024);
    assert_eq!(
        pair.a.connection.send(channel(UNRELIABLE), &[0; 1000]),
        Err(SendError::QueueFull {
            queued: pair.a.connection.queued_bytes(),
            budget: 256 * 1024
        })
    );
    assert!(pair.a.connection.stats().resends > 0, "it kept trying");
}

#[test]
fn sends_on_unknown_channels_or_too_large_are_refused() {
    let mut connection = Connection::new(table());
    assert_eq!(
        connection.send(channel(99), b"x"),
        Err(SendError::UnknownChannel(channel(99)))
    );
    assert!(matches!(
        connection.send(channel(UNRELIABLE), &[0; 1200]),
        Err(SendError::BadLength { len: 1200, .. })
    ));
    assert!(matches!(
        connection.send(channel(ORDERED), &vec![0; 256 * 1024 + 1]),
        Err(SendError::BadLength { .. })
    ));
}

#[test]
fn messages_whose_packets_fall_out_of_the_acks_reach_are_resent_at_once() {
    let now = Instant::now();
    let (mut a, mut b) = (Connection::new(table()), Connection::new(table()));
    let mut packet = [0u8; 1200];
    // 40 packets of one ordered message each; only the last 8 arrive.
    for number in 0..40u64 {
        a.send(channel(ORDERED), &numbered(number as u32, 16))
            .unwrap();
        let len = a.write_packet(now, number, &mut packet);
        assert!(len > 0);
        if number >= 32 {
            b.read_packet(now, number, &packet[..len]).unwrap();
        }
    }
    assert!(
        !a.wants_to_send(now),
        "everything sent; no timeout has passed"
    );

    // b's ack names 39 and the 32 before it: packets 0..=5 are beyond its
    // reach, given up on, and their messages due again at once, long
    // before the first resend timeout (200 ms).
    b.send(channel(UNRELIABLE), b"ack carrier").unwrap();
    let len = b.write_packet(now, 0, &mut packet);
    a.read_packet(now, 0, &packet[..len]).unwrap();
    assert!(a.wants_to_send(now));
    let len = a.write_packet(now, 40, &mut packet);
    assert_eq!(a.stats().resends, 6);
    b.read_packet(now, 40, &packet[..len]).unwrap();
    let released: Vec<u32> = std::iter::from_fn(|| b.recv())
        .filter(|m| m.channel == channel(ORDERED))
        .map(|m| number_of(&m))
        .collect();
    assert_eq!(
        released,
        [0, 1, 2, 3, 4, 5],
        "6..=31 still wait for their timeout"
    );
    assert!(!a.wants_to_send(now));
}

#[test]
fn a_burst_longer_than_one_ack_reaches_is_acked_whole_without_resends() {
    // 100 KiB is 88 fragments, written 64 packets a step: more than the 33
    // one ack reaches arrive between two acks. Older acks ride before the
    // newest, so on a clean link nothing is counted lost or sent twice.
    let mut pair = Pair::new(Faults::default(), table());
    pair.a
        .connection
        .send(channel(ORDERED), &vec![7u8; 100 * 1024])
        .unwrap();
    pair.drive_until(1000, |p| p.b.received.len() == 1);
    pair.drive_until(1000, |p| p.a.connection.stats().packets_in_flight == 0);
    let stats = pair.a.connection.stats();
    assert_eq!(stats.packets_sent, 88);
    assert_eq!((stats.packets_lost, stats.resends), (0, 0), "{stats:?}");
}
