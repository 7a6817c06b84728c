//! Fleet placement: a real nats-server, three `berth-node` processes and
//! one `berth-front`, all on loopback.
//!
//! 1. Placements per second through the one front: `FLEET_PLACEMENTS`
//!    token requests (default 2,000; rooms of 2, so 1,000 rooms) from
//!    `FLEET_CLIENTS` threads at once (default 8), each a fresh MatchInfo
//!    pair, over HTTP with the rate limit lifted.
//! 2. The spread of those rooms over the nodes: max ÷ mean rooms per node
//!    (1.0 is perfectly even).
//! 3. Failover: `FLEET_MATCHES` matches of 2 (default 4) on the node the
//!    front puts the first on are connected and matched; that node is
//!    killed with SIGKILL; the time until every one of its players is
//!    matched again on another node, through the front, with its secret.
//!
//! Everything stops by itself; results go to `results/fleet.json`
//! (`FLEET_OUT`). Needs `nats-server` (Debian's package).

#[path = "../tests/rig/mod.rs"]
mod rig;

use berth::relay::protocol::ClientMessage;
use berth::relay::{MatchInfo, RelayClient};
use rig::{Backbone, DEADLINE, Front, Node, match_request, node_of, udp_player, until_matched};
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("placement: bench");
        return;
    }
    let Some(backbone) = Backbone::start("the fleet placement bench") else {
        return;
    };
    let placements = env_or("FLEET_PLACEMENTS", 2000usize) / 2 * 2;
    let clients = env_or("FLEET_CLIENTS", 8usize).max(1);
    let matches = env_or("FLEET_MATCHES", 4usize).max(1);
    let (url, key) = (backbone.url.clone(), backbone.key.clone());
    let mut nodes: Vec<Node> = (21..=23)
        .map(|i| Node::start(&format!("b{i}"), &format!("127.0.0.{i}"), &url, &key))
        .collect();
    let front = Front::start_with(
        &url,
        &key,
        &["--token-rate", "1000000", "--token-burst", "1000000"],
    );

    // 1 and 2: placements per second, and where the rooms went.
    let per_client = placements / clients / 2 * 2;
    let started = Instant::now();
    let ports: Vec<Vec<std::net::SocketAddr>> = nodes.iter().map(|n| n.ports.clone()).collect();
    let node_at = |token: &berth::ConnectToken| {
        let first = token.server_addresses.as_slice()[0];
        ports
            .iter()
            .position(|p| p.contains(&first))
            .expect("a node's port")
    };
    let placed: Vec<usize> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..clients)
            .map(|c| {
                let (front, node_at) = (&front, &node_at);
                s.spawn(move || {
                    let mut rooms = Vec::new();
                    for r in 0..per_client / 2 {
                        let info = MatchInfo {
                            player_count: 2,
                            match_data: format!("bench-{c}-{r}").into_bytes(),
                        };
                        let body = match_request(&info);
                        let first = node_at(&front.token(&body));
                        let second = node_at(&front.token(&body));
                        assert_eq!(first, second, "a room split over two nodes");
                        rooms.push(first);
                    }
                    rooms
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let seats = placed.len() * 2;
    let rate = seats as f64 / elapsed;
    let mut per_node = vec![0usize; nodes.len()];
    for n in &placed {
        per_node[*n] += 1;
    }
    let mean = placed.len() as f64 / nodes.len() as f64;
    let spread = *per_node.iter().max().unwrap_or(&0) as f64 / mean;
    println!(
        "placements: {seats} seats in {elapsed:.2} s from {clients} clients: {rate:.0} per second; rooms per node {per_node:?}, max/mean {spread:.3}"
    );

    // 3: failover time.
    let info = |m: usize| MatchInfo {
        player_count: 2,
        match_data: format!("failover-{m}").into_bytes(),
    };
    let mut players = Vec::new();
    let mut target = None;
    let mut m = 0;
    while players.len() < 2 * matches {
        let body = match_request(&info(m));
        let tokens = [front.token(&body), front.token(&body)];
        let node = node_of(&tokens[0], &nodes);
        if *target.get_or_insert(node) == node {
            for token in tokens {
                players.push((udp_player(token), info(m)));
            }
        }
        m += 1;
    }
    let deadline = Instant::now() + DEADLINE;
    let mut asked = vec![false; players.len()];
    while !asked.iter().all(|a| *a) {
        assert!(Instant::now() < deadline, "players did not connect");
        for ((p, info), asked) in players.iter_mut().zip(&mut asked) {
            p.update(Instant::now());
            if p.is_connected() && !*asked {
                p.request_match(info).unwrap();
                *asked = true;
            }
        }
        players[0]
            .0
            .wait(Instant::now() + Duration::from_millis(1))
            .unwrap();
    }
    let mut matched: Vec<RelayClient> = players.into_iter().map(|(p, _)| p).collect();
    let seats_before = until_matched(&mut matched, "matched before the kill");
    let victim = target.unwrap_or(0);
    nodes[victim].process.0.kill().unwrap();
    let killed = Instant::now();
    let mut rejoined = Vec::new();
    for (mut player, seat) in matched.into_iter().zip(&seats_before) {
        while !player.state().is_error() {
            assert!(killed.elapsed() < DEADLINE, "no timeout");
            player.update(Instant::now());
            player
                .wait(Instant::now() + Duration::from_millis(20))
                .unwrap();
        }
        let token = front.token(&ClientMessage::Rejoin(seat.2).to_vec());
        rejoined.push(udp_player(token));
    }
    let deadline = Instant::now() + DEADLINE;
    let mut asked = vec![false; rejoined.len()];
    while !asked.iter().all(|a| *a) {
        assert!(Instant::now() < deadline, "not reconnected");
        for ((p, seat), asked) in rejoined.iter_mut().zip(&seats_before).zip(&mut asked) {
            p.update(Instant::now());
            if p.is_connected() && !*asked {
                p.rejoin(seat.2).unwrap();
                *asked = true;
            }
        }
        rejoined[0]
            .wait(Instant::now() + Duration::from_millis(1))
            .unwrap();
    }
    let seats_after = until_matched(&mut rejoined, "rejoined");
    let failover = killed.elapsed().as_secs_f64();
    let kept = seats_after
        .iter()
        .zip(&seats_before)
        .all(|(a, b)| (a.0, a.1) == (b.0, b.1));
    assert!(kept, "a seat or seed changed");
    println!(
        "failover: {} players of {matches} matches on the killed node playing again {failover:.2} s after kill -9 (token timeout {:?})",
        seats_after.len(),
        berth_fleet::front::TOKEN_TIMEOUT
    );

    let out = std::env::var("FLEET_OUT").unwrap_or_else(|_| "results/fleet.json".into());
    let json = serde_json::json!({
        "placements": seats,
        "clients": clients,
        "seconds": elapsed,
        "placements_per_second": rate,
        "rooms_per_node": per_node,
        "spread_max_over_mean": spread,
        "failover_players": seats_after.len(),
        "failover_seconds": failover,
    });
    if let Some(dir) = std::path::Path::new(&out).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(
        &out,
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    ) {
        Ok(()) => println!("wrote {out}"),
        Err(e) => eprintln!("could not write {out}: {e}"),
    }
}
