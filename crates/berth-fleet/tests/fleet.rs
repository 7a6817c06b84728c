//! The fleet end to end: a real `nats-server -js` on a free port with its
//! store in a temporary folder, relay nodes as `berth-node` processes on
//! 127.0.0.x, and two `berth-front` processes. Players fetch tokens over
//! HTTP, connect with `RelayClient` and play.
//!
//! Without `nats-server` these tests print one line and skip, unless
//! `BERTH_REQUIRE_NATS` is set (CI sets it), when they must run.

mod rig;

use berth::ConnectToken;
use berth::relay::protocol::ClientMessage;
use berth::relay::{MatchInfo, RelayClient, RelayEvent};
use rig::{
    Backbone, DEADLINE, Front, Node, match_request, node_of, request_and_match, udp_player,
    until_matched,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[test]
fn players_of_one_match_info_meet_on_one_node_whichever_front_they_ask() {
    let Some(backbone) =
        Backbone::start("players_of_one_match_info_meet_on_one_node_whichever_front_they_ask")
    else {
        return;
    };
    let (url, key) = (backbone.url.clone(), backbone.key.clone());
    let nodes: Vec<Node> = (2..=4)
        .map(|i| Node::start(&format!("n{i}"), &format!("127.0.0.{i}"), &url, &key))
        .collect();
    let fronts = [Front::start(&url, &key), Front::start(&url, &key)];

    let info = MatchInfo {
        player_count: 4,
        match_data: b"fleet-duel".to_vec(),
    };
    let body = match_request(&info);
    let tokens: Vec<ConnectToken> = (0..8).map(|i| fronts[i % 2].token(&body)).collect();
    let placed: Vec<usize> = tokens.iter().map(|t| node_of(t, &nodes)).collect();
    // Four seats per room: each room's four players on one node.
    assert!(placed[..4].iter().all(|n| *n == placed[0]), "{placed:?}");
    assert!(placed[4..].iter().all(|n| *n == placed[4]), "{placed:?}");
    // A token names only its node's ports.
    for (token, node) in tokens.iter().zip(&placed) {
        for addr in token.server_addresses.as_slice() {
            assert!(nodes[*node].ports.contains(addr));
        }
    }

    // The players connect and ask the relay for the match: two rooms of four.
    let mut players: Vec<RelayClient> = tokens.into_iter().map(udp_player).collect();
    let seats = request_and_match(&mut players, &info, "not matched");
    let mut rooms: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, (seed, _, _)) in seats.iter().enumerate() {
        rooms.entry(*seed).or_default().push(i);
    }
    assert_eq!(rooms.len(), 2, "{rooms:?}");
    for members in rooms.values() {
        assert_eq!(members.len(), 4);
        assert!(members.iter().all(|m| placed[*m] == placed[members[0]]));
    }
}

#[test]
fn bad_requests_cost_nothing_and_a_front_rides_out_nats_going_away() {
    let Some(mut backbone) =
        Backbone::start("bad_requests_cost_nothing_and_a_front_rides_out_nats_going_away")
    else {
        return;
    };
    let (url, key) = (backbone.url.clone(), backbone.key.clone());
    let _node = Node::start("solo", "127.0.0.5", &url, &key);
    let front = Front::start(&url, &key);
    let info = MatchInfo {
        player_count: 2,
        match_data: b"outage".to_vec(),
    };
    let body = match_request(&info);
    front.token(&body);

    // Garbage, oversized match data, another message, an empty body: 400,
    // or 413 past the body limit.
    for bad in [
        b"\xff\x00garbage".to_vec(),
        vec![],
        ClientMessage::LeaveRoom.to_vec(),
        match_request(&MatchInfo {
            player_count: 0,
            match_data: vec![],
        }),
    ] {
        assert_eq!(front.ask(&bad).0, 400, "{bad:?}");
    }
    assert_eq!(front.ask(&vec![1u8; 4096]).0, 413);
    // A rejoin: a forged secret is 400 before NATS hears of it; a genuine
    // one for a room the fleet never had (or lost) is 404.
    assert_eq!(front.ask(&ClientMessage::Rejoin([7; 16]).to_vec()).0, 400);
    let (fleet_key, _) = berth_relay::key_file::load_or_create(&key).unwrap();
    let gone = berth::relay::FleetRejoin::new(fleet_key).secret(0x1234_5678, 0);
    let (status, why) = front.ask(&ClientMessage::Rejoin(gone).to_vec());
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&why));
    // They cost NATS nothing: still the one placement.
    assert!(
        front.metrics().contains("berth_front_placements_total 1\n"),
        "{}",
        front.metrics()
    );

    // NATS goes away: a clear 503, no panic.
    backbone.stop_nats();
    let (status, why) = front.ask(&body);
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&why));
    assert!(String::from_utf8_lossy(&why).contains("NATS"));
    // It comes back on the same port and store: the node's client and the
    // front's reconnect by themselves, and the front serves again.
    backbone.start_nats();
    front.token_when_available(&body);
}

#[test]
fn a_draining_node_gets_no_new_room_and_leaves_when_its_rooms_finish() {
    let Some(backbone) =
        Backbone::start("a_draining_node_gets_no_new_room_and_leaves_when_its_rooms_finish")
    else {
        return;
    };
    let (url, key) = (backbone.url.clone(), backbone.key.clone());
    let drain = [("BERTH_DRAIN_SECS", "60")];
    let mut nodes = vec![
        Node::start_with("d6", "127.0.0.6", &url, &key, &drain),
        Node::start_with("d7", "127.0.0.7", &url, &key, &drain),
    ];
    let front = Front::start(&url, &key);
    let info = |tag: &str| MatchInfo {
        player_count: 2,
        match_data: tag.as_bytes().to_vec(),
    };

    // One player waits in a room of two on some node.
    let token = front.token(&match_request(&info("waiting")));
    let busy = node_of(&token, &nodes);
    let mut player = udp_player(token);
    let deadline = Instant::now() + DEADLINE;
    let (mut asked, mut waiting) = (false, false);
    while !waiting {
        assert!(Instant::now() < deadline, "the player did not get a room");
        player.update(Instant::now());
        if player.is_connected() && !asked {
            player.request_match(&info("waiting")).unwrap();
            asked = true;
        }
        while let Some(event) = player.poll_event() {
            waiting |= matches!(event, RelayEvent::Waiting(1));
        }
        player
            .wait(Instant::now() + Duration::from_millis(1))
            .unwrap();
    }

    // That node is told to stop: it drains, and says so in NATS at once.
    nodes[busy].terminate();
    nodes[busy].logs("published: draining");
    // New rooms, and the waiting room's next seat, all go elsewhere.
    for tag in ["a", "b", "c", "d", "waiting"] {
        let token = front.token(&match_request(&info(tag)));
        assert_ne!(node_of(&token, &nodes), busy, "placed on the draining node");
    }
    // The node keeps its player until the room ends, then leaves by itself.
    assert!(nodes[busy].process.0.try_wait().unwrap().is_none());
    // (A disconnect: redundant packets, so its room empties for sure.)
    player.disconnect(Instant::now());
    nodes[busy].logs("drained: every room finished");
    let (status, last) = nodes[busy].exits();
    assert!(status.success(), "{status}: {last:#?}");
}

#[test]
fn a_lobby_opened_through_one_front_is_joined_through_the_other() {
    let Some(backbone) =
        Backbone::start("a_lobby_opened_through_one_front_is_joined_through_the_other")
    else {
        return;
    };
    let (url, key) = (backbone.url.clone(), backbone.key.clone());
    let nodes = [
        Node::start("l8", "127.0.0.8", &url, &key),
        Node::start("l9", "127.0.0.9", &url, &key),
    ];
    let fronts = [Front::start(&url, &key), Front::start(&url, &key)];
    let info = MatchInfo {
        player_count: 2,
        match_data: b"lobby".to_vec(),
    };
    let create = ClientMessage::CreateLobby {
        info: info.clone(),
        public: false,
    };
    let host_token = fronts[0].token(&create.to_vec());
    let host_node = node_of(&host_token, &nodes);
    let mut host = udp_player(host_token);
    let deadline = Instant::now() + DEADLINE;
    let (mut asked, mut code) = (false, None);
    while code.is_none() {
        assert!(Instant::now() < deadline, "no lobby");
        host.update(Instant::now());
        if host.is_connected() && !asked {
            host.create_lobby(&info, false).unwrap();
            asked = true;
        }
        while let Some(event) = host.poll_event() {
            if let RelayEvent::LobbyCreated(c) = event {
                code = Some(c);
            }
        }
        host.wait(Instant::now() + Duration::from_millis(1))
            .unwrap();
    }
    let code = code.unwrap();

    // An unknown code is a clear 404.
    let unknown = berth::relay::LobbyCode::parse_text("ZZZZZZ").unwrap();
    let (status, _) = fronts[1].ask(&ClientMessage::JoinLobby(unknown).to_vec());
    assert_eq!(status, 404);
    // The code the host was shown leads the guest, through the other
    // front, to the host's node, and the two are matched.
    let guest_token = fronts[1].token(&ClientMessage::JoinLobby(code).to_vec());
    assert_eq!(node_of(&guest_token, &nodes), host_node);
    let mut guest = udp_player(guest_token);
    let mut joined = false;
    let mut matched = [false, false];
    while !matched.iter().all(|m| *m) {
        assert!(Instant::now() < deadline, "not matched: {matched:?}");
        for (i, player) in [&mut host, &mut guest].into_iter().enumerate() {
            player.update(Instant::now());
            while let Some(event) = player.poll_event() {
                matched[i] |= matches!(event, RelayEvent::Matched { .. });
            }
        }
        if guest.is_connected() && !joined {
            guest.join_lobby(code).unwrap();
            joined = true;
        }
        host.wait(Instant::now() + Duration::from_millis(1))
            .unwrap();
    }
}

#[test]
fn a_thousand_lobbies_opened_at_once_get_a_thousand_codes() {
    let Some(backbone) = Backbone::start("a_thousand_lobbies_opened_at_once_get_a_thousand_codes")
    else {
        return;
    };
    let (url, key) = (backbone.url.clone(), backbone.key.clone());
    let _node = Node::start("c10", "127.0.0.10", &url, &key);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let codes = runtime.block_on(async {
        let options = berth_fleet::nats::NatsOptions {
            url: url.clone(),
            name: "codes test".into(),
            ..Default::default()
        };
        // Several clients, as several fronts would be, all at once.
        let mut fleets = Vec::new();
        for _ in 0..4 {
            fleets.push(berth_fleet::nats::Fleet::connect(&options).await.unwrap());
        }
        let opens = (0..1000).map(|i| {
            let fleet = fleets[i % fleets.len()].clone();
            async move {
                let mut counts = berth_fleet::nats::PlacementCounts::default();
                fleet
                    .create_lobby(berth_fleet::record::PlayerTransport::Udp, 2, &mut counts)
                    .await
                    .unwrap()
                    .0
            }
        });
        futures_util::future::join_all(opens).await
    });
    let distinct: std::collections::HashSet<_> = codes.iter().collect();
    assert_eq!(codes.len(), 1000);
    assert_eq!(distinct.len(), 1000, "two lobbies got one code");
}

#[test]
fn a_match_whose_node_is_killed_plays_on_elsewhere_with_its_seats_and_seed() {
    let Some(backbone) =
        Backbone::start("a_match_whose_node_is_killed_plays_on_elsewhere_with_its_seats_and_seed")
    else {
        return;
    };
    let (url, key) = (backbone.url.clone(), backbone.key.clone());
    let mut nodes: Vec<Node> = (11..=13)
        .map(|i| Node::start(&format!("f{i}"), &format!("127.0.0.{i}"), &url, &key))
        .collect();
    let fronts = [Front::start(&url, &key), Front::start(&url, &key)];
    let info = MatchInfo {
        player_count: 2,
        match_data: b"failover".to_vec(),
    };
    let body = match_request(&info);
    let tokens = [fronts[0].token(&body), fronts[1].token(&body)];
    let first_node = node_of(&tokens[0], &nodes);
    assert_eq!(node_of(&tokens[1], &nodes), first_node);
    let mut players: Vec<RelayClient> = tokens.into_iter().map(udp_player).collect();
    let deadline = Instant::now() + DEADLINE;
    while !players.iter().all(RelayClient::is_connected) {
        assert!(Instant::now() < deadline, "not connected");
        for p in &mut players {
            p.update(Instant::now());
        }
        players[0]
            .wait(Instant::now() + Duration::from_millis(1))
            .unwrap();
    }
    for p in &mut players {
        p.request_match(&info).unwrap();
    }
    let before = until_matched(&mut players, "matched");
    assert_eq!(before[0].0, before[1].0, "one seed");

    // kill -9 the node: no clean exit, its record stays until it ages out.
    nodes[first_node].process.0.kill().unwrap();
    let killed = Instant::now();
    // Each player times out, asks a front to rejoin with its secret, and
    // takes its seat again on a new connection.
    let mut rejoined = Vec::new();
    for (i, mut player) in players.into_iter().enumerate() {
        let deadline = Instant::now() + DEADLINE;
        while !player.state().is_error() {
            assert!(Instant::now() < deadline, "player {i} never timed out");
            player.update(Instant::now());
            player
                .wait(Instant::now() + Duration::from_millis(50))
                .unwrap();
        }
        let secret = before[i].2;
        let token = fronts[i].token(&ClientMessage::Rejoin(secret).to_vec());
        rejoined.push(udp_player(token));
    }
    let deadline = Instant::now() + DEADLINE;
    while !rejoined.iter().all(RelayClient::is_connected) {
        assert!(Instant::now() < deadline, "not reconnected");
        for p in &mut rejoined {
            p.update(Instant::now());
        }
        rejoined[0]
            .wait(Instant::now() + Duration::from_millis(1))
            .unwrap();
    }
    for (p, seat) in rejoined.iter_mut().zip(&before) {
        p.rejoin(seat.2).unwrap();
    }
    let after = until_matched(&mut rejoined, "rejoined");
    let took = killed.elapsed();
    for (a, b) in after.iter().zip(&before) {
        assert_eq!((a.0, a.1), (b.0, b.1), "same seed and seat");
    }
    let limit = berth_fleet::front::TOKEN_TIMEOUT + Duration::from_secs(5);
    assert!(
        took <= limit,
        "playing again after {took:?}, limit {limit:?}"
    );
    eprintln!("from kill -9 to both players rejoined: {took:?}");

    // Reliable messages after the rejoin arrive exactly once, in order.
    for (i, p) in rejoined.iter_mut().enumerate() {
        let other = 1 - after[i].1;
        for n in 0..100u32 {
            p.send_to(berth::relay::Target::Player(other), &n.to_le_bytes(), true)
                .unwrap();
        }
    }
    let mut got = [Vec::new(), Vec::new()];
    let deadline = Instant::now() + DEADLINE;
    while got.iter().any(|g| g.len() < 100) {
        assert!(Instant::now() < deadline, "messages after the rejoin");
        for (i, p) in rejoined.iter_mut().enumerate() {
            p.update(Instant::now());
            while let Some(event) = p.poll_event() {
                if let RelayEvent::Received { data, .. } = event {
                    got[i].push(u32::from_le_bytes(data[..4].try_into().unwrap()));
                }
            }
        }
        rejoined[0]
            .wait(Instant::now() + Duration::from_millis(1))
            .unwrap();
    }
    for g in &got {
        assert_eq!(*g, (0..100).collect::<Vec<_>>());
    }
}

#[test]
fn garbage_written_into_the_buckets_is_ignored_and_counted() {
    let Some(backbone) = Backbone::start("garbage_written_into_the_buckets_is_ignored_and_counted")
    else {
        return;
    };
    let (url, key) = (backbone.url.clone(), backbone.key.clone());
    let node = Node::start("g14", "127.0.0.14", &url, &key);
    let front = Front::start(&url, &key);
    let info = MatchInfo {
        player_count: 2,
        match_data: b"garbage".to_vec(),
    };
    let body = match_request(&info);
    // A bad node writes nonsense where records and claims live: a record
    // that is no JSON, one that lies about its key, and a claim that is
    // no claim for the very MatchInfo players will ask for.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = async_nats::connect(&url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let nodes = js.get_key_value("berth_nodes").await.unwrap();
        let rooms = js.get_key_value("berth_rooms").await.unwrap();
        nodes.put("evil", "\u{1}\u{2} not json".into()).await.unwrap();
        let liar = br#"{"node":"someone-else","epoch":1,"ports":["127.0.0.99:1"],"loads":[0],"rooms":0,"draining":false}"#;
        nodes.put("liar", bytes::Bytes::from_static(liar)).await.unwrap();
        rooms
            .put(berth_fleet::claim::open_key(&body), "{\"node\": 7}".into())
            .await
            .unwrap();
    });
    // Players are still placed, on the real node only.
    for _ in 0..2 {
        let token = front.token(&body);
        assert!(
            token
                .server_addresses
                .as_slice()
                .iter()
                .all(|a| node.ports.contains(a))
        );
    }
    let metrics = front.metrics();
    let garbage: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("berth_front_garbage_entries_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(garbage >= 3, "{metrics}");
}

#[test]
fn a_browser_and_a_udp_player_are_placed_together_by_a_front() {
    use base64::Engine as _;
    use berth_webtransport::WebTransportClient;

    let Some(backbone) =
        Backbone::start("a_browser_and_a_udp_player_are_placed_together_by_a_front")
    else {
        return;
    };
    let (url, key) = (backbone.url.clone(), backbone.key.clone());
    let nodes: Vec<Node> = (2..=3)
        .map(|i| {
            let ip = format!("127.0.0.{i}");
            let wt = format!("{ip}:0");
            let vars = [("BERTH_WEBTRANSPORT", wt.as_str())];
            Node::start_with(&format!("n{i}"), &ip, &url, &key, &vars)
        })
        .collect();
    let front = Front::start(&url, &key);
    let info = MatchInfo {
        player_count: 2,
        match_data: b"fleet-browser".to_vec(),
    };
    let body = match_request(&info);

    // The browser's answer: the token, the URL and the hashes of its node.
    let (status, answer) = front.ask_webtransport(&body);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    };
    let browser_token = ConnectToken::parse(&b64(&answer["token"])).unwrap();
    let hashes: Vec<[u8; 32]> = answer["certificateHashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| b64(h).try_into().unwrap())
        .collect();
    assert_eq!(hashes.len(), 2, "the current certificate and the next");
    let wt_url = answer["url"].as_str().unwrap().to_string();
    let first = browser_token.server_addresses.as_slice()[0];
    assert_eq!(wt_url, format!("https://{first}/"));

    // The UDP player asking for the same match lands on the same node.
    let udp_token = front.token(&body);
    let node = node_of(&udp_token, &nodes);
    assert!(
        nodes[node].ports.iter().all(|p| p.ip() == first.ip()),
        "the browser was sent to another node than the UDP player"
    );

    let session = WebTransportClient::connect(&wt_url, &hashes, DEADLINE).unwrap();
    let mut browser = RelayClient::with_transport(Box::new(session));
    browser.connect(Instant::now(), browser_token);
    let udp = udp_player(udp_token);
    let mut players = [browser, udp];
    let seats = request_and_match(&mut players, &info, "not matched");
    let (browser_seat, udp_seat) = (seats[0], seats[1]);
    assert_eq!(browser_seat.0, udp_seat.0, "two rooms, not one");
    assert_ne!(browser_seat.1, udp_seat.1);
}

#[test]
fn a_browser_gets_new_rooms_only_on_nodes_serving_webtransport() {
    let Some(backbone) =
        Backbone::start("a_browser_gets_new_rooms_only_on_nodes_serving_webtransport")
    else {
        return;
    };
    let (url, key) = (backbone.url.clone(), backbone.key.clone());
    let _udp_only = Node::start("n2", "127.0.0.2", &url, &key);
    let vars = [("BERTH_WEBTRANSPORT", "127.0.0.3:0")];
    let _both = Node::start_with("n3", "127.0.0.3", &url, &key, &vars);
    let front = Front::start(&url, &key);
    // Eight new rooms: drawn between both nodes, half would land on the
    // node a browser cannot reach.
    for i in 0..8u8 {
        let info = MatchInfo {
            player_count: 2,
            match_data: vec![b'm', i],
        };
        let (status, answer) = front.ask_webtransport(&match_request(&info));
        let answer = String::from_utf8_lossy(&answer);
        assert_eq!(status, 200, "{answer}");
        assert!(answer.contains("https://127.0.0.3:"), "{answer}");
    }
}

#[test]
fn a_browser_is_refused_a_room_it_cannot_reach_and_takes_none_of_its_seats() {
    let Some(backbone) =
        Backbone::start("a_browser_is_refused_a_room_it_cannot_reach_and_takes_none_of_its_seats")
    else {
        return;
    };
    let (url, key) = (backbone.url.clone(), backbone.key.clone());
    let _node = Node::start("n2", "127.0.0.2", &url, &key);
    let front = Front::start(&url, &key);
    let info = MatchInfo {
        player_count: 2,
        match_data: b"udp-only".to_vec(),
    };
    let body = match_request(&info);
    let refused = |why: &str| {
        let (status, answer) = front.ask_webtransport(&body);
        let answer = String::from_utf8_lossy(&answer);
        assert_eq!(status, 503, "{answer}");
        assert!(answer.contains(why), "{answer}");
    };
    refused("no live node serving WebTransport takes new rooms");
    let first = front.token(&body);
    // The match's room now has a seat, on a node the browser cannot reach.
    refused("on node n2, which serves no WebTransport");
    // The operator sees the fleet turning browsers away.
    let metrics = front.metrics();
    assert!(
        metrics.contains("berth_front_browsers_unplaced_total 2\n"),
        "{metrics}"
    );
    // Neither refusal took a seat: the next UDP player fills the first's
    // room, and the two play.
    let second = front.token(&body);
    let mut players: Vec<RelayClient> = [first, second].into_iter().map(udp_player).collect();
    let seats = request_and_match(&mut players, &info, "the UDP players did not meet");
    assert_eq!(seats[0].0, seats[1].0, "two rooms, not one");
    assert_ne!(seats[0].1, seats[1].1);
}
