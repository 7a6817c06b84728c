//! Direct play end to end over real sockets: two players introduced by a
//! real relay, over loopback and behind NAT routers in network namespaces
//! this test builds (port-restricted cone and symmetric), with a direct
//! path cut mid-match. Each player runs on a thread of its own, in its own
//! namespace, as a game process would.

mod common;

use berth::Key;
use berth::engine::ServerConfig;
use berth::relay::{
    DirectConfig, MatchInfo, PeerPath, RelayClient, RelayConfig, RelayEvent, RelayServer, Route,
    Target, protocol_id,
};
use berth::wire::connect_token::ConnectToken;
use common::PRIVATE_KEY;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Reliable-ordered messages each player sends the other.
const MESSAGES: u32 = 1000;
/// How long one scenario may take before it fails.
const DEADLINE: Duration = Duration::from_secs(40);
const KEEPALIVE: Duration = Duration::from_millis(200);

fn relay_at(ip: IpAddr) -> RelayServer {
    let config = ServerConfig::new(
        SocketAddr::new(ip, 0),
        protocol_id(),
        Key::from_bytes(PRIVATE_KEY),
    )
    .ports(2);
    RelayServer::bind(config, RelayConfig::default().direct_play(true)).unwrap()
}

/// What a scenario asks of its players.
struct Script<'a> {
    /// Whether each player consents.
    consent: [bool; 2],
    /// Hold messages until both sides are direct, and meet the test
    /// thread at `synced` then (to read the relay's counter).
    wait_direct: Option<&'a Barrier>,
    /// Run by player 0, with its socket's address, once it has sent this
    /// many messages.
    midway: Option<(u32, &'a (dyn Fn(SocketAddr) + Sync))>,
}

/// What one player saw.
#[derive(Debug)]
struct Outcome {
    received: Vec<u32>,
    path: Option<PeerPath>,
    /// Whether the path was ever direct.
    was_direct: bool,
    /// When the path went back to the relay, if it did.
    fell_back_at: Option<Instant>,
    /// Datagrams from other players that no path took.
    direct_dropped: u64,
    /// What the relay's address check said of this player's NAT.
    per_destination: Option<bool>,
}

/// Shared by the two players of a scenario.
#[derive(Default)]
struct Shared {
    direct: [AtomicBool; 2],
    done: AtomicUsize,
}

/// One player: connects, consents if asked, matches, sends [`MESSAGES`]
/// reliable messages to the other and reads as many, then waits until the
/// other is done too (so acks keep flowing).
fn play(token: ConnectToken, me: usize, script: &Script<'_>, shared: &Shared) -> Outcome {
    let mut client = RelayClient::bind("0.0.0.0:0".parse().unwrap()).unwrap();
    client.connect(Instant::now(), token);
    let deadline = Instant::now() + DEADLINE;
    let info = MatchInfo {
        player_count: 2,
        match_data: b"direct-play".to_vec(),
    };
    let (mut consented, mut asked, mut seat) = (false, false, None);
    let (mut sent, mut finished, mut synced) = (0u32, false, false);
    let mut outcome = Outcome {
        received: Vec::new(),
        path: None,
        was_direct: false,
        fell_back_at: None,
        direct_dropped: 0,
        per_destination: None,
    };
    while shared.done.load(Ordering::Acquire) < 2 {
        assert!(
            Instant::now() < deadline,
            "player {me}: not done in {DEADLINE:?}: {outcome:?}"
        );
        let now = Instant::now();
        client.update(now);
        if client.is_connected() && !consented {
            if script.consent[me] {
                client
                    .allow_direct(DirectConfig::default().keepalive(KEEPALIVE))
                    .unwrap();
            }
            consented = true;
        }
        // A consenting player asks for a room once the relay has checked
        // its NAT, so the relay knows when it matches.
        let checked = !script.consent[me] || outcome.per_destination.is_some();
        if consented && checked && !asked {
            client.request_match(&info).unwrap();
            asked = true;
        }
        while let Some(event) = client.poll_event() {
            match event {
                RelayEvent::AddressChecked { per_destination } => {
                    outcome.per_destination = Some(per_destination);
                }
                RelayEvent::Matched { player_idx, .. } => seat = Some(player_idx),
                RelayEvent::Received { data, reliable, .. } => {
                    assert!(reliable);
                    outcome
                        .received
                        .push(u32::from_le_bytes(data[..4].try_into().unwrap()));
                }
                RelayEvent::Error(e) => panic!("player {me}: relay refused: {e:?}"),
                _ => {}
            }
        }
        let Some(idx) = seat else {
            client.wait(now + Duration::from_millis(1)).unwrap();
            continue;
        };
        let peer = 1 - idx;
        let path = client.peer_path(peer);
        let direct = path.is_some_and(|p| p.route == Route::Direct);
        if direct {
            outcome.was_direct = true;
            shared.direct[me].store(true, Ordering::Release);
        } else if outcome.was_direct && outcome.fell_back_at.is_none() {
            outcome.fell_back_at = Some(now);
        }
        outcome.path = path;
        let may_send = match script.wait_direct {
            None => true,
            Some(barrier) => {
                let both = shared.direct.iter().all(|d| d.load(Ordering::Acquire));
                if both && !synced {
                    barrier.wait();
                    synced = true;
                }
                synced
            }
        };
        if may_send && sent < MESSAGES {
            for _ in 0..5.min(MESSAGES - sent) {
                if client
                    .send_to(Target::Player(peer), &sent.to_le_bytes(), true)
                    .is_err()
                {
                    break;
                }
                sent += 1;
                if let Some((at, action)) = script.midway {
                    if me == 0 && at == sent {
                        action(client.local_addr().unwrap());
                    }
                }
            }
            client.flush(now);
        }
        if !finished && sent == MESSAGES && outcome.received.len() >= MESSAGES as usize {
            finished = true;
            shared.done.fetch_add(1, Ordering::AcqRel);
        }
        client.wait(now + Duration::from_millis(1)).unwrap();
    }
    outcome.direct_dropped = client.direct_dropped();
    outcome
}

fn exactly_once_in_order(outcome: &Outcome) {
    assert_eq!(outcome.received, (0..MESSAGES).collect::<Vec<_>>());
}

#[test]
fn players_on_loopback_go_direct_and_the_relay_forwards_nothing_of_theirs() {
    let relay = relay_at(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let synced = Barrier::new(3);
    let script = Script {
        consent: [true, true],
        wait_direct: Some(&synced),
        midway: None,
    };
    let shared = Shared::default();
    let tokens = [relay.issue_token(1).unwrap(), relay.issue_token(2).unwrap()];
    let [a, b] = tokens;
    let (outcomes, forwarded_at_direct) = std::thread::scope(|s| {
        let a = s.spawn(|| play(a, 0, &script, &shared));
        let b = s.spawn(|| play(b, 1, &script, &shared));
        synced.wait();
        let at_direct = relay.stats().forwarded;
        ([a.join().unwrap(), b.join().unwrap()], at_direct)
    });
    for outcome in &outcomes {
        exactly_once_in_order(outcome);
        assert_eq!(outcome.path.unwrap().route, Route::Direct);
        assert!(outcome.path.unwrap().rtt.is_some());
        assert_eq!(outcome.per_destination, Some(false), "loopback has no NAT");
    }
    assert_eq!(
        relay.stats().forwarded,
        forwarded_at_direct,
        "nothing relayed once direct"
    );
}

#[test]
fn forged_probes_from_a_stranger_are_dropped_unanswered_and_change_nothing() {
    let relay = relay_at(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let synced = Barrier::new(3);
    let stranger = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let flood = |victim: SocketAddr| {
        // Direct datagrams of every shape a stranger could forge: a probe
        // from either index with a made-up tag, a long data datagram, and
        // bare markers. 5,000 in all, all to the player's own socket.
        let mut datagram = [0u8; 200];
        for i in 0..5000u32 {
            let len = [23, 200, 1, 7][i as usize % 4];
            datagram[0] = 0xB7;
            datagram[1] = (i % 2) as u8;
            datagram[2..6].copy_from_slice(&(i | (i % 2) << 31).to_le_bytes());
            datagram[6..].fill(i as u8);
            let _ = stranger.send_to(&datagram[..len], victim);
        }
    };
    let script = Script {
        consent: [true, true],
        wait_direct: Some(&synced),
        midway: Some((MESSAGES / 2, &flood)),
    };
    let shared = Shared::default();
    let [a, b] = [relay.issue_token(1).unwrap(), relay.issue_token(2).unwrap()];
    let outcomes = std::thread::scope(|s| {
        let a = s.spawn(|| play(a, 0, &script, &shared));
        let b = s.spawn(|| play(b, 1, &script, &shared));
        synced.wait();
        [a.join().unwrap(), b.join().unwrap()]
    });
    for outcome in &outcomes {
        exactly_once_in_order(outcome);
        let path = outcome.path.unwrap();
        assert_eq!(
            path.route,
            Route::Direct,
            "the flood did not break the path"
        );
        assert_ne!(path.address, Some(stranger.local_addr().unwrap()));
    }
    // The flood reached the player and was dropped, every datagram of it.
    assert!(outcomes[0].direct_dropped > 0);
    assert!(outcomes[0].direct_dropped <= 5000);
    // And the stranger never heard a thing.
    stranger.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 1500];
    assert_eq!(
        stranger.recv_from(&mut buf).map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::WouldBlock)
    );
}

/// Updates `clients`, handing `step` each event as `Some((client, event))`
/// and then `None`, until `step(None)` is true.
#[track_caller]
fn drive(
    what: &str,
    clients: &mut [&mut RelayClient],
    mut step: impl FnMut(&[&mut RelayClient], Option<(usize, RelayEvent)>) -> bool,
) {
    let deadline = Instant::now() + DEADLINE;
    let mut events = Vec::new();
    while !step(clients, None) {
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        for (i, client) in clients.iter_mut().enumerate() {
            client.update(Instant::now());
            while let Some(event) = client.poll_event() {
                events.push((i, event));
            }
        }
        for event in events.drain(..) {
            step(clients, Some(event));
        }
        clients[0]
            .wait(Instant::now() + Duration::from_millis(1))
            .unwrap();
    }
}

/// A consenting player connected to `relay`, its address checked.
fn consenting(relay: &RelayServer, client_id: u64) -> RelayClient {
    let mut client = RelayClient::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    client.connect(Instant::now(), relay.issue_token(client_id).unwrap());
    drive("connect", &mut [&mut client], |c, _| c[0].is_connected());
    client.allow_direct(DirectConfig::default()).unwrap();
    let mut checked = false;
    drive("address check", &mut [&mut client], |_, e| {
        checked |= matches!(e, Some((_, RelayEvent::AddressChecked { .. })));
        checked
    });
    client
}

fn is_direct(client: &RelayClient, peer: u8) -> bool {
    client
        .peer_path(peer)
        .is_some_and(|p| p.route == Route::Direct)
}

#[test]
fn a_rejoining_player_keeps_its_seat_and_seed_and_goes_direct_again() {
    let relay = relay_at(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let info = MatchInfo {
        player_count: 2,
        match_data: b"rejoin".to_vec(),
    };
    let mut a = consenting(&relay, 1);
    let mut b = consenting(&relay, 2);
    a.request_match(&info).unwrap();
    b.request_match(&info).unwrap();
    let mut seats = [None, None];
    drive("match and go direct", &mut [&mut a, &mut b], |c, e| {
        if let Some((
            i,
            RelayEvent::Matched {
                player_idx,
                random_seed,
                rejoin_secret,
                ..
            },
        )) = e
        {
            seats[i] = Some((player_idx, random_seed, rejoin_secret));
        }
        seats
            .iter()
            .zip(c)
            .all(|(seat, client)| seat.is_some_and(|(idx, _, _)| is_direct(client, 1 - idx)))
    });
    let [Some((a_idx, seed, _)), Some((b_idx, _, b_secret))] = seats else {
        unreachable!()
    };
    // B's connection ends; A hears it leave and forgets the path.
    b.disconnect(Instant::now());
    drop(b);
    let mut left = false;
    drive("A hears B leave", &mut [&mut a], |_, e| {
        left |= matches!(e, Some((_, RelayEvent::PlayerLeft { .. })));
        left
    });
    assert_eq!(a.peer_path(b_idx), None);
    // B comes back on a new connection (a new socket, a new address).
    let mut b = consenting(&relay, 3);
    b.rejoin(b_secret).unwrap();
    let mut rejoined = None;
    let mut heard_rejoin = false;
    drive(
        "B rejoins and both go direct again",
        &mut [&mut a, &mut b],
        |c, e| {
            match e {
                Some((
                    1,
                    RelayEvent::Matched {
                        player_idx,
                        random_seed,
                        ..
                    },
                )) => rejoined = Some((player_idx, random_seed)),
                Some((0, RelayEvent::PlayerRejoined(idx))) => heard_rejoin = idx == b_idx,
                _ => {}
            }
            rejoined.is_some() && heard_rejoin && is_direct(c[0], b_idx) && is_direct(c[1], a_idx)
        },
    );
    assert_eq!(rejoined, Some((b_idx, seed)), "same seat, same seed");
    // And reliable messages flow both ways on the new path, once, in order.
    for i in 0..100u32 {
        a.send_to(Target::Player(b_idx), &i.to_le_bytes(), true)
            .unwrap();
        b.send_to(Target::Player(a_idx), &i.to_le_bytes(), true)
            .unwrap();
    }
    let mut got: [Vec<u32>; 2] = [Vec::new(), Vec::new()];
    drive(
        "messages after the rejoin",
        &mut [&mut a, &mut b],
        |_, e| {
            if let Some((i, RelayEvent::Received { data, .. })) = e {
                got[i].push(u32::from_le_bytes(data[..4].try_into().unwrap()));
            }
            got.iter().all(|g| g.len() >= 100)
        },
    );
    assert_eq!(got[0], (0..100).collect::<Vec<_>>());
    assert_eq!(got[1], (0..100).collect::<Vec<_>>());
    assert!(is_direct(&a, b_idx) && is_direct(&b, a_idx));
}

#[test]
fn without_consent_nothing_is_introduced_and_everything_is_relayed() {
    let relay = relay_at(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let script_none = Script {
        consent: [false, false],
        wait_direct: None,
        midway: None,
    };
    let shared = Shared::default();
    let [a, b] = [relay.issue_token(1).unwrap(), relay.issue_token(2).unwrap()];
    let outcomes = std::thread::scope(|s| {
        let a = s.spawn(|| play(a, 0, &script_none, &shared));
        let b = s.spawn(|| play(b, 1, &script_none, &shared));
        [a.join().unwrap(), b.join().unwrap()]
    });
    for outcome in &outcomes {
        exactly_once_in_order(outcome);
        assert_eq!(outcome.path, None, "no introduction, no path");
    }
    assert!(relay.stats().forwarded >= 2 * u64::from(MESSAGES));
}

#[cfg(target_os = "linux")]
mod behind_nat {
    use super::*;
    use common::netns::{Nat, Rig, Side, public_ip, relay_ip, require_or_skip};

    /// Builds the rig, the relay on its public side, and runs both players
    /// behind their routers; returns their outcomes and the relay's
    /// forwarded count when both were direct (if the script waits for that).
    fn run(
        rig: &Rig,
        script: &Script<'_>,
        synced: Option<&Barrier>,
    ) -> ([Outcome; 2], Option<u64>, RelayServer) {
        let relay = std::thread::scope(|s| {
            s.spawn(|| {
                rig.enter(Side::Public);
                relay_at(IpAddr::V4(relay_ip()))
            })
            .join()
            .unwrap()
        });
        let shared = Shared::default();
        let [a, b] = [relay.issue_token(1).unwrap(), relay.issue_token(2).unwrap()];
        let (outcomes, at_direct) = std::thread::scope(|s| {
            let shared = &shared;
            let a = s.spawn(move || {
                rig.enter(Side::ClientA);
                play(a, 0, script, shared)
            });
            let b = s.spawn(move || {
                rig.enter(Side::ClientB);
                play(b, 1, script, shared)
            });
            let at_direct = synced.map(|barrier| {
                barrier.wait();
                relay.stats().forwarded
            });
            ([a.join().unwrap(), b.join().unwrap()], at_direct)
        });
        (outcomes, at_direct, relay)
    }

    #[test]
    fn cone_nats_punch_through_and_the_relay_stops_forwarding() {
        let Some(()) = require_or_skip("cone_nats_punch_through_and_the_relay_stops_forwarding")
        else {
            return;
        };
        let rig = Rig::build(Nat::Cone, Nat::Cone).unwrap();
        let synced = Barrier::new(3);
        let script = Script {
            consent: [true, true],
            wait_direct: Some(&synced),
            midway: None,
        };
        let (outcomes, at_direct, relay) = run(&rig, &script, Some(&synced));
        for (outcome, peer_router) in outcomes.iter().zip([Side::RouterB, Side::RouterA]) {
            exactly_once_in_order(outcome);
            assert_eq!(
                outcome.per_destination,
                Some(false),
                "a cone NAT keeps one mapping"
            );
            let path = outcome.path.unwrap();
            assert_eq!(path.route, Route::Direct);
            assert_eq!(
                path.address.map(|a| a.ip()),
                Some(IpAddr::V4(public_ip(peer_router))),
                "latched onto the peer's NAT"
            );
            let time = path.time_to_direct.unwrap();
            assert!(time < Duration::from_secs(2), "direct after {time:?}");
            eprintln!("direct after {time:?}");
        }
        assert_eq!(
            relay.stats().forwarded,
            at_direct.unwrap(),
            "nothing relayed once direct"
        );
    }

    #[test]
    fn a_symmetric_nat_stays_relayed_and_loses_nothing() {
        let Some(()) = require_or_skip("a_symmetric_nat_stays_relayed_and_loses_nothing") else {
            return;
        };
        let rig = Rig::build(Nat::Symmetric, Nat::Cone).unwrap();
        let script = Script {
            consent: [true, true],
            wait_direct: None,
            midway: None,
        };
        let (outcomes, _, relay) = run(&rig, &script, None);
        // The check saw A's per-destination mapping; with B's cone one the
        // pair is still introduced, tries, and stays relayed.
        assert_eq!(outcomes[0].per_destination, Some(true));
        assert_eq!(outcomes[1].per_destination, Some(false));
        for outcome in &outcomes {
            exactly_once_in_order(outcome);
            assert!(!outcome.was_direct);
            assert_eq!(outcome.path.unwrap().route, Route::Relayed);
        }
        // Every message went through the relay, many to a sealed pair
        // datagram.
        assert!(relay.stats().forwarded > 0);
    }

    #[test]
    fn two_symmetric_nats_are_never_introduced() {
        let Some(()) = require_or_skip("two_symmetric_nats_are_never_introduced") else {
            return;
        };
        let rig = Rig::build(Nat::Symmetric, Nat::Symmetric).unwrap();
        let script = Script {
            consent: [true, true],
            wait_direct: None,
            midway: None,
        };
        let (outcomes, _, _relay) = run(&rig, &script, None);
        for outcome in &outcomes {
            exactly_once_in_order(outcome);
            assert_eq!(outcome.per_destination, Some(true));
            assert_eq!(
                outcome.path, None,
                "no introduction: no punch that cannot work"
            );
        }
    }

    #[test]
    fn a_direct_path_cut_mid_match_falls_back_without_loss_or_repeats() {
        let Some(()) =
            require_or_skip("a_direct_path_cut_mid_match_falls_back_without_loss_or_repeats")
        else {
            return;
        };
        let rig = Rig::build(Nat::Cone, Nat::Cone).unwrap();
        let synced = Barrier::new(3);
        let cut_at = std::sync::OnceLock::new();
        let cut = |_| {
            rig.cut(Side::RouterA, public_ip(Side::RouterB));
            let _ = cut_at.set(Instant::now());
        };
        let script = Script {
            consent: [true, true],
            wait_direct: Some(&synced),
            midway: Some((MESSAGES / 3, &cut)),
        };
        let (outcomes, _, _relay) = run(&rig, &script, Some(&synced));
        let cut_at = *cut_at.get().expect("the path was cut");
        for outcome in &outcomes {
            exactly_once_in_order(outcome);
            assert!(outcome.was_direct);
            let path = outcome.path.unwrap();
            assert_eq!(path.route, Route::Relayed);
            assert_eq!(path.counters.fallbacks, 1);
            let after = outcome.fell_back_at.unwrap() - cut_at;
            eprintln!("fell back {after:?} after the cut (keep-alive {KEEPALIVE:?})");
        }
    }
}
