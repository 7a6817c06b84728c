//! Two direct paths on a fake clock, joined by a simulated network whose
//! direct link can be cut, and a relay that always delivers.

use super::path::{DirectPath, MAX_DIRECT_LEN, PROBE_LEN, PathDrop, PathSink};
use super::{DirectConfig, Route};
use crate::relay::protocol::{CONTROL, Introduction, PAIR_KEY_LEN, UNRELIABLE};
use crate::relay::server::channel_table;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const STEP: Duration = Duration::from_millis(5);

fn addr(side: usize) -> SocketAddr {
    [
        "198.51.100.1:40001".parse().unwrap(),
        "198.51.100.2:40002".parse().unwrap(),
    ][side]
}

/// What one side sent during a step.
#[derive(Default)]
struct Sent {
    direct: Vec<(SocketAddr, Vec<u8>)>,
    relayed: Vec<Vec<u8>>,
}

impl PathSink for Sent {
    fn direct(&mut self, to: SocketAddr, datagram: &[u8]) {
        self.direct.push((to, datagram.to_vec()));
    }

    fn relayed(&mut self, _: u8, datagram: &[u8]) {
        self.relayed.push(datagram.to_vec());
    }
}

struct Pair {
    now: Instant,
    paths: [DirectPath; 2],
    /// Whether direct datagrams arrive.
    link_up: bool,
    direct_delivered: u64,
    relayed_delivered: u64,
    received: [Vec<(bool, Vec<u8>)>; 2],
}

impl Pair {
    fn new(config: DirectConfig) -> Self {
        let now = Instant::now();
        let key = [7u8; PAIR_KEY_LEN];
        let intro = |peer: usize| Introduction {
            peer: peer as u8,
            key,
            delay_ms: 0,
            candidates: vec![addr(peer)],
        };
        let table = channel_table().unwrap();
        Self {
            now,
            paths: [
                DirectPath::new(now, 0, &intro(1), config, table.clone()),
                DirectPath::new(now, 1, &intro(0), config, table),
            ],
            link_up: true,
            direct_delivered: 0,
            relayed_delivered: 0,
            received: [Vec::new(), Vec::new()],
        }
    }

    /// One step: both sides transmit, everything sent arrives (direct
    /// datagrams only while the link is up), answers included.
    fn step(&mut self) {
        self.now += STEP;
        let mut queue: Vec<(usize, Option<SocketAddr>, Vec<u8>)> = Vec::new();
        for side in 0..2 {
            let mut sent = Sent::default();
            self.paths[side].poll_transmit(self.now, &mut sent);
            self.queue(side, sent, &mut queue);
        }
        while let Some((to, from, mut datagram)) = queue.pop() {
            let mut answers: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
            let _ = self.paths[to].handle_datagram(self.now, from, &mut datagram, &mut answers);
            let sent = Sent {
                direct: answers,
                relayed: Vec::new(),
            };
            self.queue(to, sent, &mut queue);
        }
        for side in 0..2 {
            while let Some(message) = self.paths[side].recv() {
                self.received[side].push((message.channel == CONTROL, message.bytes));
            }
        }
    }

    fn queue(
        &mut self,
        side: usize,
        sent: Sent,
        queue: &mut Vec<(usize, Option<SocketAddr>, Vec<u8>)>,
    ) {
        let other = 1 - side;
        for (to, datagram) in sent.direct {
            assert!(datagram.len() <= MAX_DIRECT_LEN);
            if self.link_up && to == addr(other) {
                self.direct_delivered += 1;
                queue.push((other, Some(addr(side)), datagram));
            }
        }
        for datagram in sent.relayed {
            self.relayed_delivered += 1;
            queue.push((other, None, datagram));
        }
    }

    fn run_for(&mut self, duration: Duration) {
        let until = self.now + duration;
        while self.now < until {
            self.step();
        }
    }

    fn routes(&self) -> [Route; 2] {
        [self.paths[0].report().route, self.paths[1].report().route]
    }
}

#[test]
fn both_reachable_go_direct_and_carry_reliable_messages_direct() {
    let mut pair = Pair::new(DirectConfig::default());
    pair.run_for(Duration::from_millis(50));
    assert_eq!(pair.routes(), [Route::Direct, Route::Direct]);
    let report = pair.paths[0].report();
    assert_eq!(report.address, Some(addr(1)));
    assert!(report.time_to_direct.unwrap() <= Duration::from_millis(50));
    let relayed_before = pair.relayed_delivered;
    for i in 0..1000u32 {
        pair.paths[0].send(CONTROL, &i.to_le_bytes()).unwrap();
        pair.paths[1]
            .send(CONTROL, &(i + 5000).to_le_bytes())
            .unwrap();
        if i % 10 == 0 {
            pair.step();
        }
    }
    pair.run_for(Duration::from_millis(200));
    let expect = |base: u32| -> Vec<(bool, Vec<u8>)> {
        (0..1000u32)
            .map(|i| (true, (i + base).to_le_bytes().to_vec()))
            .collect()
    };
    assert_eq!(pair.received[1], expect(0));
    assert_eq!(pair.received[0], expect(5000));
    assert_eq!(
        pair.relayed_delivered, relayed_before,
        "nothing went through the relay"
    );
    assert!(pair.paths[0].report().rtt.is_some());
}

#[test]
fn an_unreachable_peer_stays_relayed_and_probing_is_bounded() {
    let mut pair = Pair::new(DirectConfig::default());
    pair.link_up = false;
    pair.paths[0].send(UNRELIABLE, b"hello").unwrap();
    pair.paths[1].send(CONTROL, b"there").unwrap();
    pair.run_for(Duration::from_secs(20));
    assert_eq!(pair.routes(), [Route::Relayed, Route::Relayed]);
    assert_eq!(pair.received[1], vec![(false, b"hello".to_vec())]);
    assert_eq!(pair.received[0], vec![(true, b"there".to_vec())]);
    // Three rounds of 2 s at one probe per 25 ms, to one candidate.
    let probes = pair.paths[0].report().counters.probes_sent;
    assert!((200..=250).contains(&probes), "{probes} probes");
    // And then silence, for good.
    pair.run_for(Duration::from_secs(60));
    assert_eq!(pair.paths[0].report().counters.probes_sent, probes);
    assert_eq!(pair.paths[0].poll_timeout(), None);
}

#[test]
fn a_direct_path_that_dies_falls_back_without_losing_or_repeating() {
    let config = DirectConfig::default().keepalive(Duration::from_millis(100));
    let mut pair = Pair::new(config);
    pair.run_for(Duration::from_millis(50));
    assert_eq!(pair.routes(), [Route::Direct, Route::Direct]);
    let mut sent = 0u32;
    let mut send_some = |pair: &mut Pair, n: u32| {
        for _ in 0..n {
            pair.paths[0].send(CONTROL, &sent.to_le_bytes()).unwrap();
            sent += 1;
            pair.step();
        }
    };
    send_some(&mut pair, 100);
    pair.link_up = false;
    send_some(&mut pair, 100);
    send_some(&mut pair, 100);
    pair.run_for(Duration::from_secs(3));
    assert_eq!(pair.routes(), [Route::Relayed, Route::Relayed]);
    assert_eq!(pair.paths[0].report().counters.fallbacks, 1);
    let got: Vec<u32> = pair.received[1]
        .iter()
        .map(|(_, bytes)| u32::from_le_bytes(bytes[..4].try_into().unwrap()))
        .collect();
    assert_eq!(got, (0..300).collect::<Vec<_>>());
}

#[test]
fn fallback_comes_after_three_silent_keepalive_intervals() {
    let config = DirectConfig::default().keepalive(Duration::from_millis(100));
    let mut pair = Pair::new(config);
    pair.run_for(Duration::from_millis(50));
    pair.link_up = false;
    let cut = pair.now;
    while pair.routes()[0] == Route::Direct {
        pair.step();
        assert!(
            pair.now - cut <= Duration::from_millis(305),
            "no fallback in 3 intervals"
        );
    }
    assert!(pair.now - cut >= Duration::from_millis(200));
}

#[test]
fn hostile_datagrams_are_dropped_counted_and_never_answered() {
    let mut pair = Pair::new(DirectConfig::default());
    // A's first probe, captured.
    let mut sent = Sent::default();
    pair.paths[0].poll_transmit(pair.now, &mut sent);
    let probe = sent.direct[0].1.clone();
    assert_eq!(probe.len(), PROBE_LEN);
    let b = &mut pair.paths[1];
    let mut answers: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
    let now = pair.now;
    // Genuine: answered once, with a datagram of the same size.
    assert_eq!(
        b.handle_datagram(now, Some(addr(0)), &mut probe.clone(), &mut answers),
        Ok(())
    );
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].1.len(), probe.len());
    // Replayed, from anywhere: dropped.
    let third: SocketAddr = "192.0.2.66:9".parse().unwrap();
    assert_eq!(
        b.handle_datagram(now, Some(third), &mut probe.clone(), &mut answers),
        Err(PathDrop::Replayed)
    );
    // Tampered: fails authentication.
    let mut tampered = probe.clone();
    tampered[1 + 1 + 4] ^= 1;
    tampered[2] = 5; // A fresh sequence, so not caught as a replay.
    assert_eq!(
        b.handle_datagram(now, Some(third), &mut tampered, &mut answers),
        Err(PathDrop::BadTag)
    );
    // Another pair's (sender 2), cut short, or a stray byte.
    let mut other = probe.clone();
    other[1] = 2;
    assert_eq!(
        b.handle_datagram(now, Some(third), &mut other, &mut answers),
        Err(PathDrop::Malformed)
    );
    assert_eq!(
        b.handle_datagram(now, Some(third), &mut probe[..10].to_vec(), &mut answers),
        Err(PathDrop::Malformed)
    );
    assert_eq!(
        b.handle_datagram(now, Some(third), &mut [0u8; 1], &mut answers),
        Err(PathDrop::Malformed)
    );
    // Its own datagram reflected back: wrong direction.
    let mut own = Sent::default();
    b.poll_transmit(now, &mut own);
    let mut reflected = own.direct[0].1.clone();
    assert_eq!(
        b.handle_datagram(now, Some(third), &mut reflected, &mut answers),
        Err(PathDrop::Malformed)
    );
    assert_eq!(answers.len(), 1, "nothing hostile was answered");
    let counters = b.report().counters;
    assert_eq!(
        (counters.replayed, counters.bad_tag, counters.malformed),
        (1, 1, 4)
    );
    let random_key = Introduction {
        peer: 0,
        key: [8; PAIR_KEY_LEN],
        delay_ms: 0,
        candidates: vec![addr(0)],
    };
    let mut stranger = DirectPath::new(
        now,
        1,
        &random_key,
        DirectConfig::default(),
        channel_table().unwrap(),
    );
    assert_eq!(
        stranger.handle_datagram(now, Some(addr(0)), &mut probe.clone(), &mut answers),
        Err(PathDrop::BadTag)
    );
}

#[test]
fn introductions_outside_the_match_or_without_consent_are_refused() {
    use super::peers::DirectPeers;
    let now = Instant::now();
    let intro = |peer: u8| Introduction {
        peer,
        key: [1; PAIR_KEY_LEN],
        delay_ms: 0,
        candidates: vec![addr(0)],
    };
    let mut peers = DirectPeers::default();
    // Before this player consented.
    assert!(!peers.introduce(now, 0, 4, &intro(1)));
    peers.allow(DirectConfig::default());
    // Itself, past the player count, past the most players a room has.
    assert!(!peers.introduce(now, 0, 4, &intro(0)));
    assert!(!peers.introduce(now, 0, 4, &intro(4)));
    assert!(!peers.introduce(now, 0, 255, &intro(200)));
    assert!(peers.introduce(now, 0, 4, &intro(3)));
    // The same peer twice.
    assert!(!peers.introduce(now, 0, 4, &intro(3)));
    assert_eq!(peers.dropped(), 5);
    assert!(peers.report(3).is_some());
    assert!(peers.report(1).is_none());
}
