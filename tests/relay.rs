//! The matchmaker and relay end to end over loopback UDP, on a 3-port relay:
//! matching, lobbies, 10,000 reliable messages per player through the
//! relay, a player leaving mid-match, rejoining, and empty rooms removed.

mod common;

use berth::Key;
use berth::engine::ServerConfig;
use berth::relay::{
    LeaveReason, LobbyCode, MatchInfo, RelayClient, RelayConfig, RelayEvent, RelayServer, Target,
    protocol_id,
};
use common::{DEADLINE, PRIVATE_KEY};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn relay(ports: u16) -> RelayServer {
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        protocol_id(),
        Key::from_bytes(PRIVATE_KEY),
    )
    .ports(ports);
    RelayServer::bind(
        config,
        RelayConfig::default().rejoin_grace(Duration::from_secs(5)),
    )
    .unwrap()
}

fn player(relay: &RelayServer, client_id: u64) -> RelayClient {
    let mut client = RelayClient::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    client.connect(Instant::now(), relay.issue_token(client_id).unwrap());
    client
}

fn info(players: u8, data: &[u8]) -> MatchInfo {
    MatchInfo {
        player_count: players,
        match_data: data.to_vec(),
    }
}

/// The longest a loop sleeps on one client before it looks again.
const WAIT_SLICE: Duration = Duration::from_millis(1);

/// Sleeps until the first client has a datagram or a timer due, at most
/// [`WAIT_SLICE`]: loops wake for real input instead of spinning.
fn wait_any(clients: &mut [&mut RelayClient]) {
    if let Some(client) = clients.first_mut() {
        client
            .wait(Instant::now() + WAIT_SLICE)
            .expect("client wait");
    }
}

/// Updates every client and hands `step` each event as `Some((client,
/// event))`, then `None` after each round; done when `step(None)` is true.
#[track_caller]
fn drive(
    what: &str,
    clients: &mut [&mut RelayClient],
    mut step: impl FnMut(Option<(usize, RelayEvent)>) -> bool,
) {
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        let now = Instant::now();
        for (i, client) in clients.iter_mut().enumerate() {
            client.update(now);
            while let Some(event) = client.poll_event() {
                step(Some((i, event)));
            }
        }
        if step(None) {
            return;
        }
        wait_any(clients);
    }
    panic!("{what}: not done within {DEADLINE:?}");
}

#[track_caller]
fn connect(clients: &mut [&mut RelayClient]) {
    let deadline = Instant::now() + DEADLINE;
    while !clients.iter().all(|c| c.is_connected()) {
        assert!(Instant::now() < deadline, "players did not connect");
        for client in clients.iter_mut() {
            client.update(Instant::now());
        }
        wait_any(clients);
    }
}

/// What a `Matched` event said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seat {
    seed: u64,
    idx: u8,
    count: u8,
    secret: [u8; 16],
}

/// Asks every client for `info` and waits until each is matched.
fn match_all(clients: &mut [&mut RelayClient], info: &MatchInfo) -> Vec<Seat> {
    for client in clients.iter_mut() {
        client.request_match(info).unwrap();
    }
    let mut seats: Vec<Option<Seat>> = vec![None; clients.len()];
    drive("players are matched", clients, |e| {
        if let Some((i, event)) = e {
            {
                if let RelayEvent::Matched {
                    random_seed,
                    player_idx,
                    player_count,
                    rejoin_secret,
                } = event
                {
                    seats[i] = Some(Seat {
                        seed: random_seed,
                        idx: player_idx,
                        count: player_count,
                        secret: rejoin_secret,
                    });
                }
            }
            return false;
        }
        seats.iter().all(Option::is_some)
    });
    seats.into_iter().flatten().collect()
}

#[test]
fn four_players_with_the_same_match_info_get_distinct_seats_and_one_seed() {
    let relay = relay(3);
    let mut players: Vec<RelayClient> = (1..=6).map(|i| player(&relay, i)).collect();
    let (four, others) = players.split_at_mut(4);
    let mut four: Vec<&mut RelayClient> = four.iter_mut().collect();
    let mut others: Vec<&mut RelayClient> = others.iter_mut().collect();
    connect(&mut four);
    connect(&mut others);
    // Two players who want a different match ask first.
    for other in others.iter_mut() {
        other.request_match(&info(4, b"mode=duel")).unwrap();
    }
    let seats = match_all(&mut four, &info(4, b"mode=ffa"));
    let mut indices: Vec<u8> = seats.iter().map(|s| s.idx).collect();
    indices.sort_unstable();
    assert_eq!(indices, [0, 1, 2, 3]);
    assert!(
        seats
            .iter()
            .all(|s| s.seed == seats[0].seed && s.count == 4)
    );
    // The other two are still waiting, together, never matched.
    let mut waiting = HashMap::new();
    drive("the others see each other waiting", &mut others, |e| {
        if let Some((i, event)) = e {
            match event {
                RelayEvent::Waiting(n) => {
                    waiting.insert(i, n);
                }
                RelayEvent::Matched { .. } => panic!("a different match_data joined the room"),
                _ => {}
            }
            return false;
        }
        waiting.values().filter(|&&n| n == 2).count() == 2
    });
    assert_eq!(relay.stats().rooms, 2);
}

#[test]
fn a_lobby_is_created_listed_joined_and_started_below_its_count() {
    let relay = relay(2);
    let (mut host, mut guest) = (player(&relay, 1), player(&relay, 2));
    connect(&mut [&mut host, &mut guest]);
    host.create_lobby(&info(4, b"coop"), true).unwrap();
    let mut code = None;
    drive("the lobby is created", &mut [&mut host], |e| {
        if let Some((_, event)) = e {
            {
                if let RelayEvent::LobbyCreated(c) = event {
                    code = Some(c);
                }
            }
            return false;
        }
        code.is_some()
    });
    let code = code.unwrap();
    guest.list_lobbies(b"coop").unwrap();
    let mut listed = None;
    drive("the lobby is listed", &mut [&mut guest], |e| {
        if let Some((_, event)) = e {
            {
                if let RelayEvent::Lobbies(entries) = event {
                    listed = Some(entries);
                }
            }
            return false;
        }
        listed.is_some()
    });
    let listed = listed.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].code, listed[0].players, listed[0].player_count),
        (code, 1, 4)
    );
    // A wrong code is an error; the right one joins.
    guest
        .join_lobby(LobbyCode::parse_text("222222").unwrap())
        .unwrap();
    guest.join_lobby(code).unwrap();
    let mut errors = 0;
    let mut host_sees = 0;
    drive("the guest joins", &mut [&mut host, &mut guest], |e| {
        if let Some((i, event)) = e {
            match event {
                RelayEvent::Error(_) if i == 1 => errors += 1,
                RelayEvent::Waiting(n) if i == 0 => host_sees = n,
                _ => {}
            }
            return false;
        }
        host_sees == 2 && errors == 1
    });
    // Only the host may start it; then both are matched, two players.
    guest.start_match().unwrap();
    host.start_match().unwrap();
    let mut matched = [None, None];
    let mut guest_refused = false;
    drive(
        "the host starts the lobby",
        &mut [&mut host, &mut guest],
        |e| {
            if let Some((i, event)) = e {
                match event {
                    RelayEvent::Matched {
                        player_idx,
                        player_count,
                        ..
                    } => matched[i] = Some((player_idx, player_count)),
                    RelayEvent::Error(_) if i == 1 => guest_refused = true,
                    _ => {}
                }
                return false;
            }
            matched.iter().all(Option::is_some) && guest_refused
        },
    );
    assert_eq!(matched, [Some((0, 2)), Some((1, 2))]);
    // A started lobby is no longer listed.
    guest.list_lobbies(b"coop").unwrap();
    let mut listed = None;
    drive(
        "the started lobby is gone from the list",
        &mut [&mut guest],
        |e| {
            if let Some((_, event)) = e {
                {
                    if let RelayEvent::Lobbies(entries) = event {
                        listed = Some(entries);
                    }
                }
                return false;
            }
            listed.is_some()
        },
    );
    assert_eq!(listed.unwrap(), []);
}

/// Messages one player sends per millisecond in [`exchange`]: 10,000 a
/// second, far above a game's tick rate, within what the relay forwards.
const SEND_PER_MS: u32 = 10;

/// Every player sends `per_player` reliable messages to all others, paced
/// like a game (a fixed rate, not as fast as the socket takes them); each
/// arrives once, in per-sender order.
fn exchange(players: &mut [&mut RelayClient], seats: &[u8], per_player: u32) {
    let n = players.len();
    let mut sent = vec![0u32; n];
    // next[receiver][sender index in the match] = next expected sequence.
    let mut next: Vec<HashMap<u8, u32>> = vec![HashMap::new(); n];
    let total_per_receiver = u64::from(per_player) * (n as u64 - 1);
    let mut received = vec![0u64; n];
    let start = Instant::now();
    let deadline = start + Duration::from_secs(30);
    while received.iter().any(|&r| r < total_per_receiver) {
        assert!(
            Instant::now() < deadline,
            "exchange stalled: {received:?} of {total_per_receiver}"
        );
        let now = Instant::now();
        let due = (now - start).as_millis() as u32 * SEND_PER_MS + SEND_PER_MS;
        for (i, player) in players.iter_mut().enumerate() {
            while sent[i] < per_player.min(due) {
                let mut m = seats[i].to_le_bytes().to_vec();
                m.extend_from_slice(&sent[i].to_le_bytes());
                if player.send_to(Target::AllOthers, &m, true).is_err() {
                    break; // budget full: try again next round
                }
                sent[i] += 1;
            }
            player.update(now);
            while let Some(event) = player.poll_event() {
                match event {
                    RelayEvent::Received {
                        from,
                        data,
                        reliable,
                    } => {
                        assert!(reliable);
                        assert_ne!(from, seats[i], "an echo of my own message");
                        assert_eq!(data[0], from, "the relay named the wrong sender");
                        let seq = u32::from_le_bytes(data[1..5].try_into().unwrap());
                        let expected = next[i].entry(from).or_insert(0);
                        assert_eq!(
                            seq, *expected,
                            "player {i}: from {from} out of order or twice"
                        );
                        *expected += 1;
                        received[i] += 1;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        wait_any(players);
    }
}

#[test]
fn ten_thousand_reliable_messages_from_each_player_reach_every_other_once_in_order() {
    let relay = relay(3);
    let mut players: Vec<RelayClient> = (1..=4).map(|i| player(&relay, i)).collect();
    let mut refs: Vec<&mut RelayClient> = players.iter_mut().collect();
    connect(&mut refs);
    let seats = match_all(&mut refs, &info(4, b"stress"));
    let indices: Vec<u8> = seats.iter().map(|s| s.idx).collect();
    exchange(&mut refs, &indices, 10_000);
    let stats = relay.stats();
    assert_eq!(stats.forwarded, 4 * 10_000 * 3);
    assert_eq!(stats.dropped, 0);
    let ports_used = relay
        .server()
        .stats()
        .iter()
        .filter(|p| p.peers > 0)
        .count();
    assert!(ports_used >= 2, "the players should span ports");
    // Every port timed each datagram it received from the kernel's arrival
    // stamp (stats are published every 100 ms).
    let deadline = Instant::now() + DEADLINE;
    loop {
        let ports = relay.server().stats();
        let stamped: u64 = ports.iter().map(|p| p.dwell.count()).sum();
        let received: u64 = ports.iter().map(|p| p.packets_in).sum();
        if received >= 1000 {
            assert_eq!(stamped, received, "datagrams timed of those received");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {received} datagrams counted"
        );
        wait_any(&mut refs);
    }
}

#[test]
fn a_player_who_drops_is_reported_the_rest_play_on_and_it_can_rejoin() {
    let relay = relay(3);
    let mut players: Vec<RelayClient> = (1..=4).map(|i| player(&relay, i)).collect();
    let mut refs: Vec<&mut RelayClient> = players.iter_mut().collect();
    connect(&mut refs);
    let seats = match_all(&mut refs, &info(4, b"rejoin"));
    let gone = seats[3];
    refs[3].disconnect(Instant::now());
    let mut told = [false; 3];
    drive("the others hear that player 3 left", &mut refs[..3], |e| {
        if let Some((i, event)) = e {
            {
                if let RelayEvent::PlayerLeft { idx, reason } = event {
                    assert_eq!((idx, reason), (gone.idx, LeaveReason::Disconnected));
                    told[i] = true;
                }
            }
            return false;
        }
        told.iter().all(|&t| t)
    });
    // The three keep exchanging.
    let three: Vec<u8> = seats[..3].iter().map(|s| s.idx).collect();
    exchange(&mut refs[..3], &three, 500);
    // Back on a new connection, with the secret: same seat, same seed.
    let mut back = player(&relay, 99);
    connect(&mut [&mut back]);
    back.rejoin(gone.secret).unwrap();
    let mut seat = None;
    drive("the player rejoins", &mut [&mut back], |e| {
        if let Some((_, event)) = e {
            {
                if let RelayEvent::Matched {
                    random_seed,
                    player_idx,
                    ..
                } = event
                {
                    seat = Some((random_seed, player_idx));
                }
            }
            return false;
        }
        seat.is_some()
    });
    assert_eq!(seat, Some((gone.seed, gone.idx)));
    let mut refs: Vec<&mut RelayClient> = players.iter_mut().take(3).chain([&mut back]).collect();
    let mut rejoined = [false; 3];
    drive("the others hear of the rejoin", &mut refs[..3], |e| {
        if let Some((i, event)) = e {
            {
                if event == RelayEvent::PlayerRejoined(gone.idx) {
                    rejoined[i] = true;
                }
            }
            return false;
        }
        rejoined.iter().all(|&r| r)
    });
    let all: Vec<u8> = seats.iter().map(|s| s.idx).collect();
    exchange(&mut refs, &all, 200);
    // The old secret is spent.
    let mut thief = player(&relay, 100);
    connect(&mut [&mut thief]);
    thief.rejoin(gone.secret).unwrap();
    let mut refused = false;
    drive("a spent secret is refused", &mut [&mut thief], |e| {
        if let Some((_, event)) = e {
            refused |= matches!(event, RelayEvent::Error(_));
            return false;
        }
        refused
    });
}

/// A player that stops reading (a stalled game loop) while the others send
/// reliable traffic fills its send budget on the relay. The relay does not
/// drop reliable messages silently: it disconnects the slow player (the
/// others hear `TooSlow` and play on) and holds its seat for a rejoin.
#[test]
fn a_player_too_slow_for_the_room_is_dropped_not_silently_shorted() {
    let relay = relay(2);
    let mut players: Vec<RelayClient> = (1..=3).map(|i| player(&relay, i)).collect();
    let mut refs: Vec<&mut RelayClient> = players.iter_mut().collect();
    connect(&mut refs);
    let seats = match_all(&mut refs, &info(3, b"slow"));
    let slow = seats[2];
    // Three players on two ports: at least one sender is on another port
    // than the slow player, so the cross-port path decides too.
    let (live, stalled) = refs.split_at_mut(2);
    let message = [0u8; 1000];
    let mut told = [false; 2];
    let deadline = Instant::now() + DEADLINE;
    while !told.iter().all(|&t| t) {
        assert!(
            Instant::now() < deadline,
            "the slow player was never dropped"
        );
        let now = Instant::now();
        for (i, sender) in live.iter_mut().enumerate() {
            while sender
                .send_to(Target::Player(slow.idx), &message, true)
                .is_ok()
            {}
            sender.update(now);
            while let Some(event) = sender.poll_event() {
                if let RelayEvent::PlayerLeft { idx, reason } = event {
                    assert_eq!((idx, reason), (slow.idx, LeaveReason::TooSlow));
                    told[i] = true;
                }
            }
        }
        wait_any(live);
    }
    // Port stats are published every 100 ms.
    let deadline = Instant::now() + DEADLINE;
    let too_slow = || {
        relay
            .server()
            .stats()
            .iter()
            .map(|p| p.too_slow)
            .sum::<u64>()
    };
    while too_slow() == 0 {
        assert!(Instant::now() < deadline, "the drop was not counted");
        wait_any(live);
    }
    assert_eq!(too_slow(), 1);
    // The two left keep exchanging.
    let two: Vec<u8> = seats[..2].iter().map(|s| s.idx).collect();
    exchange(live, &two, 200);
    // The slow player's loop resumes: it hears it was dropped, comes back
    // on a new connection and takes its seat.
    let stalled = &mut stalled[0];
    let deadline = Instant::now() + DEADLINE;
    while stalled.is_connected() {
        assert!(Instant::now() < deadline, "the slow player never heard");
        stalled.update(Instant::now());
        while stalled.poll_event().is_some() {}
        stalled.wait(Instant::now() + WAIT_SLICE).unwrap();
    }
    let mut back = player(&relay, 50);
    connect(&mut [&mut back]);
    back.rejoin(slow.secret).unwrap();
    let mut seat = None;
    drive("the slow player rejoins", &mut [&mut back], |e| {
        if let Some((_, RelayEvent::Matched { player_idx, .. })) = e {
            seat = Some(player_idx);
        }
        seat.is_some()
    });
    assert_eq!(seat, Some(slow.idx));
}

#[test]
fn an_empty_room_is_removed() {
    let relay = relay(2);
    let mut players: Vec<RelayClient> = (1..=2).map(|i| player(&relay, i)).collect();
    let mut refs: Vec<&mut RelayClient> = players.iter_mut().collect();
    connect(&mut refs);
    match_all(&mut refs, &info(2, b"short"));
    assert_eq!(relay.stats().rooms, 1);
    refs[0].leave().unwrap();
    refs[1].disconnect(Instant::now());
    let deadline = Instant::now() + DEADLINE;
    while relay.stats().rooms != 0 {
        assert!(Instant::now() < deadline, "the room outlived its players");
        refs[0].update(Instant::now());
        wait_any(&mut refs);
    }
    assert_eq!(relay.stats().players, 0);
}

#[test]
fn hostile_requests_get_errors_or_are_dropped_and_counted() {
    use berth::engine::Client as EngineClient;
    use berth::relay::protocol::CONTROL;
    use berth::relay::{RelayError, channel_table};

    let relay = relay(2);
    let mut raw = EngineClient::bind("127.0.0.1:0".parse().unwrap())
        .unwrap()
        .channels(channel_table().unwrap());
    raw.connect(Instant::now(), relay.issue_token(1).unwrap());
    let deadline = Instant::now() + DEADLINE;
    while !raw.is_connected() {
        assert!(Instant::now() < deadline);
        raw.update(Instant::now());
        raw.wait(Instant::now() + WAIT_SLICE).unwrap();
    }
    let now = Instant::now();
    // Match data of 300 bytes (the cap is 256); an unknown type; a proxy
    // before any match; then a flood of 100 match requests.
    let mut oversized = vec![1u8, 4, 0x2c, 0x01];
    oversized.extend(std::iter::repeat_n(0, 300));
    raw.send(now, CONTROL, &oversized).unwrap();
    raw.send(now, CONTROL, &[0x42]).unwrap();
    raw.send(now, CONTROL, &[7, 3, b'x']).unwrap();
    for _ in 0..100 {
        raw.send(now, CONTROL, &[1, 2, 1, 0, b'f']).unwrap();
    }
    let mut errors = Vec::new();
    while !errors.contains(&RelayError::RateLimited) {
        assert!(Instant::now() < deadline, "errors so far: {errors:?}");
        raw.update(Instant::now());
        while let Some(m) = raw.recv() {
            if let Ok(berth::relay::protocol::RelayMessage::Error(e)) =
                berth::relay::protocol::RelayMessage::parse(&m.bytes)
            {
                errors.push(e);
            }
        }
        raw.wait(Instant::now() + WAIT_SLICE).unwrap();
    }
    assert_eq!(
        errors[..3],
        [
            RelayError::BadMatchInfo,
            RelayError::BadRequest,
            RelayError::NotInRoom
        ]
    );
    // Two bad messages spent 2 of the 20-request budget; the first match
    // request took a room; the rest were AlreadyInRoom until the budget ran
    // out (a token may refill meanwhile), then one RateLimited and silence.
    let already = errors
        .iter()
        .filter(|e| **e == RelayError::AlreadyInRoom)
        .count();
    assert!((17..=18).contains(&already), "{errors:?}");
    assert!(relay.stats().dropped >= 80, "{:?}", relay.stats());
    assert_eq!(relay.stats().rooms, 1);
}

/// A waiting count that reaches a player after its match (ports do not
/// order their messages to one player with each other's) is stale: the
/// client drops it, and reports counts again once it asks for a room.
#[test]
fn a_waiting_count_after_the_match_is_not_reported() {
    use berth::engine::{Server, ServerConfig, ServerEvent};
    use berth::relay::channel_table;
    use berth::relay::protocol::{CONTROL, RelayMessage};
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        protocol_id(),
        Key::from_bytes(PRIVATE_KEY),
    )
    .channels(channel_table().unwrap());
    let server = Server::bind(config).unwrap();
    let mut player = RelayClient::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    player.connect(Instant::now(), server.issue_token(1, [0; 256]).unwrap());
    connect(&mut [&mut player]);
    let peer = loop {
        if let ServerEvent::Connected { peer, .. } = server.events().recv_timeout(DEADLINE).unwrap()
        {
            break peer;
        }
    };
    let success = RelayMessage::Success {
        random_seed: 7,
        player_idx: 1,
        player_count: 4,
        rejoin_secret: [3; 16],
    };
    server.send(peer, CONTROL, &success.to_vec()).unwrap();
    server
        .send(peer, CONTROL, &RelayMessage::WaitingCount(2).to_vec())
        .unwrap();
    server
        .send(peer, CONTROL, &RelayMessage::WaitingCount(3).to_vec())
        .unwrap();
    let mut seen = Vec::new();
    drive(
        "the match and the stale counts arrive",
        &mut [&mut player],
        |e| {
            if let Some((_, event)) = e {
                seen.push(event);
                return false;
            }
            // Three messages sent, reliable and ordered: all have arrived once
            // the server has no more in flight for this peer.
            server
                .peer_stats(peer)
                .is_some_and(|s| s.packets_in_flight == 0)
                && !seen.is_empty()
        },
    );
    assert!(
        matches!(seen[..], [RelayEvent::Matched { player_idx: 1, .. }]),
        "{seen:?}"
    );
    // Asking for a room again: counts are news again.
    player.leave().unwrap();
    server
        .send(peer, CONTROL, &RelayMessage::WaitingCount(2).to_vec())
        .unwrap();
    let mut waiting = None;
    drive("a count after a new request", &mut [&mut player], |e| {
        if let Some((_, RelayEvent::Waiting(n))) = e {
            waiting = Some(n);
        }
        waiting.is_some()
    });
    assert_eq!(waiting, Some(2));
}

#[test]
fn a_token_from_a_fleet_front_opens_its_lobby_under_the_claimed_code() {
    let relay = relay(2);
    let claimed = LobbyCode::parse_text("FWT234").unwrap();
    let room = berth::relay::protocol::TokenRoom::LobbyHost(claimed);
    let token = relay.server().issue_token(7, room.to_user_data()).unwrap();
    let mut host = RelayClient::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    host.connect(Instant::now(), token);
    connect(&mut [&mut host]);
    host.create_lobby(&info(2, b"fleet"), false).unwrap();
    let mut code = None;
    drive("the lobby is created", &mut [&mut host], |e| {
        if let Some((_, RelayEvent::LobbyCreated(c))) = e {
            code = Some(c);
        }
        code.is_some()
    });
    assert_eq!(code, Some(claimed));
    // And a guest joins it by that code.
    let mut guest = player(&relay, 8);
    connect(&mut [&mut guest]);
    guest.join_lobby(claimed).unwrap();
    let mut accepted = false;
    drive("the guest joins", &mut [&mut guest], |e| {
        accepted |= matches!(e, Some((_, RelayEvent::Accepted)));
        accepted
    });
}
