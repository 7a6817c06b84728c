//! A UDP player and a WebTransport player meet in one relay room, over
//! real sockets: the relay's ports serve both transports on one thread
//! each, and messages, fragments and departures cross between them.

use berth::Key;
use berth::engine::ServerConfig;
use berth::engine::transport::Transport;
use berth::proto::server::DropReason;
use berth::relay::{
    LeaveReason, MatchInfo, RelayClient, RelayConfig, RelayEvent, RelayServer, Target, protocol_id,
};
use berth_webtransport::{WebTransportClient, WebTransportConfig, WebTransportServer};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

/// A relay with `ports` UDP ports, each also serving WebTransport.
fn relay(ports: u16, webtransport: WebTransportConfig) -> (RelayServer, WebTransportServer) {
    let wt = WebTransportServer::start(webtransport).unwrap();
    let for_ports = wt.clone();
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        protocol_id(),
        Key::from_bytes([7; 32]),
    )
    .ports(ports)
    .add_transport(move |port| Ok(Box::new(for_ports.port(port)?) as Box<dyn Transport>));
    let relay = RelayServer::bind(config, RelayConfig::default()).unwrap();
    (relay, wt)
}

fn local_webtransport() -> WebTransportConfig {
    WebTransportConfig::new("127.0.0.1:0".parse().unwrap())
}

fn udp_player(relay: &RelayServer, client_id: u64) -> RelayClient {
    let mut client = RelayClient::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    client.connect(Instant::now(), relay.issue_token(client_id).unwrap());
    client
}

/// A session to `token`'s first address, the certificate pinned by hash,
/// as a browser opens one.
fn session_for(token: &berth::ConnectToken, wt: &WebTransportServer) -> WebTransportClient {
    let url = WebTransportServer::url(token.server_addresses.as_slice()[0]);
    WebTransportClient::connect(&url, &wt.certificate_hashes(), DEADLINE).unwrap()
}

/// A player over WebTransport: a token for transport 1, its URL, a session.
fn wt_player(relay: &RelayServer, wt: &WebTransportServer, client_id: u64) -> RelayClient {
    let token = relay.issue_token_via(1, client_id).unwrap();
    let mut client = RelayClient::with_transport(Box::new(session_for(&token, wt)));
    client.connect(Instant::now(), token);
    client
}

/// Updates the players until `step(None)`, called after each round, is
/// true; `step` also gets every event as `Some((player, event))`.
#[track_caller]
fn drive(
    what: &str,
    players: &mut [&mut RelayClient],
    mut step: impl FnMut(&mut [&mut RelayClient], Option<(usize, RelayEvent)>) -> bool,
) {
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        let now = Instant::now();
        for i in 0..players.len() {
            players[i].update(now);
            while let Some(event) = players[i].poll_event() {
                step(players, Some((i, event)));
            }
        }
        if step(players, None) {
            return;
        }
        players[0]
            .wait(Instant::now() + Duration::from_millis(1))
            .unwrap();
    }
    panic!("{what}: not done within {DEADLINE:?}");
}

/// Connects `players` and matches them into one room; returns their seats.
fn connect_and_match(players: &mut [&mut RelayClient]) -> Vec<u8> {
    drive("connect", players, |players, _| {
        players.iter().all(|p| p.is_connected())
    });
    let info = MatchInfo {
        player_count: u8::try_from(players.len()).unwrap(),
        match_data: b"mixed".to_vec(),
    };
    for player in players.iter_mut() {
        player.request_match(&info).unwrap();
    }
    let mut seats = vec![None; players.len()];
    drive("match", players, |_, event| {
        if let Some((i, RelayEvent::Matched { player_idx, .. })) = event {
            seats[i] = Some(player_idx);
        }
        seats.iter().all(Option::is_some)
    });
    seats.into_iter().map(Option::unwrap).collect()
}

#[test]
fn a_webtransport_player_and_a_udp_player_share_a_room() {
    let (relay, wt) = relay(2, local_webtransport());
    let mut udp = udp_player(&relay, 1);
    let mut web = wt_player(&relay, &wt, 2);
    let mut players = [&mut udp, &mut web];
    let seats = connect_and_match(&mut players);
    assert_ne!(seats[0], seats[1]);
    assert_eq!(wt.stats().sessions_open, 1);

    // 1,000 reliable messages each way, exactly once and in order, with
    // unreliable ones beside them, then one of 100 KiB in fragments.
    const RELIABLE: u32 = 1000;
    let big: Vec<u8> = (0..100 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut queued: [VecDeque<Vec<u8>>; 2] = Default::default();
    for (i, queue) in queued.iter_mut().enumerate() {
        for n in 0..RELIABLE {
            let mut m = vec![seats[i]];
            m.extend_from_slice(&n.to_le_bytes());
            queue.push_back(m);
        }
        let mut m = vec![seats[i]];
        m.extend_from_slice(&u32::MAX.to_le_bytes());
        m.extend_from_slice(&big);
        queue.push_back(m);
    }
    let mut next = [0u32; 2];
    let mut got_big = [false; 2];
    let mut unreliable = [0u32; 2];
    drive("exchange", &mut players, |players, event| {
        match event {
            Some((
                i,
                RelayEvent::Received {
                    from,
                    data,
                    reliable,
                },
            )) => {
                assert_eq!(from, seats[1 - i], "the relay named the wrong sender");
                assert_eq!(data[0], from);
                if !reliable {
                    unreliable[i] += 1;
                } else if data[1..5] == u32::MAX.to_le_bytes() {
                    assert_eq!(next[i], RELIABLE, "the big message overtook others");
                    assert!(data[5..] == big[..], "the big message changed");
                    got_big[i] = true;
                } else {
                    let n = u32::from_le_bytes(data[1..5].try_into().unwrap());
                    assert_eq!(n, next[i], "player {i}: out of order or twice");
                    next[i] += 1;
                }
                false
            }
            Some((_, other)) => panic!("unexpected {other:?}"),
            None => {
                for (i, player) in players.iter_mut().enumerate() {
                    // Paced: at most 64 a round, and what the budget takes.
                    for _ in 0..64 {
                        let Some(m) = queued[i].front() else { break };
                        if player.send_to(Target::AllOthers, m, true).is_err() {
                            break;
                        }
                        queued[i].pop_front();
                    }
                    let _ = player.send_to(Target::AllOthers, &[seats[i], 0xEE], false);
                }
                got_big.iter().all(|&b| b) && unreliable.iter().all(|&u| u > 0)
            }
        }
    });
    assert_eq!(next, [RELIABLE; 2]);

    // The WebTransport player leaves; the UDP player is told.
    web.disconnect(Instant::now());
    drop(web);
    let mut players = [&mut udp];
    let mut left = None;
    drive("leave", &mut players, |_, event| {
        match event {
            Some((_, RelayEvent::PlayerLeft { idx, reason })) => left = Some((idx, reason)),
            Some((_, RelayEvent::Received { .. })) | None => {}
            Some((_, other)) => panic!("unexpected {other:?}"),
        }
        left.is_some()
    });
    let (idx, reason) = left.unwrap();
    assert_eq!(idx, seats[1]);
    assert!(
        matches!(reason, LeaveReason::Left | LeaveReason::Disconnected),
        "{reason:?}"
    );
}

#[test]
fn a_token_for_the_udp_address_is_refused_over_webtransport() {
    let (relay, wt) = relay(1, local_webtransport());
    let udp_token = relay.issue_token(3).unwrap();
    let wt_token = relay.issue_token_via(1, 4).unwrap();
    let mut wrong = RelayClient::with_transport(Box::new(session_for(&wt_token, &wt)));
    wrong.connect(Instant::now(), udp_token);
    let mut players = [&mut wrong];
    drive("refusal", &mut players, |players, _| {
        players[0].state().code() < 0
    });
    let refused = relay.server().stats()[0]
        .protocol
        .dropped(DropReason::NotThisServer);
    assert!(refused >= 1, "refusal not counted");
}

#[test]
fn a_stalled_webtransport_tab_is_dropped_as_too_slow_like_a_native_player() {
    let (relay, wt) = relay(1, local_webtransport());
    let mut udp = udp_player(&relay, 5);
    let mut tab = wt_player(&relay, &wt, 6);
    let seats = connect_and_match(&mut [&mut udp, &mut tab]);
    // The tab stops running (a background tab's frozen loop): it reads and
    // acks nothing while the native player keeps sending it reliable data.
    let message = [0u8; 1000];
    let mut left = None;
    drive("too slow", &mut [&mut udp], |players, event| {
        if let Some((_, RelayEvent::PlayerLeft { idx, reason })) = event {
            left = Some((idx, reason));
        }
        while players[0]
            .send_to(Target::Player(seats[1]), &message, true)
            .is_ok()
        {}
        left.is_some()
    });
    assert_eq!(left, Some((seats[1], LeaveReason::TooSlow)));
    drop(tab);
}
