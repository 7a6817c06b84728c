//! Direct play: what it takes off the relay.
//!
//! A 2-port relay with direct play allowed serves `DIRECT_PAIRS` rooms of
//! two players (default 16) on loopback. Every player sends the other an
//! unreliable 32-byte message 60 times a second for `DIRECT_SECS` (default
//! 10 s) after the match starts. The run is made twice, side by side, on a
//! fresh relay each time: once with no player consenting (every message
//! relayed) and once with every player consenting (messages go direct once
//! the pair is).
//!
//! It reports, per mode: the relay's port-thread CPU (from
//! `/proc/self/task/<tid>/schedstat` of the `berth-port-*` threads; the
//! players run on this thread), its forwards, and from those the share of
//! traffic moved off the relay and the relay CPU saved per player-hour at
//! 60 messages a second; and the time each pair took to go direct (from
//! its first probe). Everything stays on loopback, bounded in time.
//! Results go to `results/direct.json` (`DIRECT_OUT`).

use berth::Key;
use berth::engine::ServerConfig;
use berth::relay::{
    DirectConfig, MatchInfo, RelayClient, RelayConfig, RelayEvent, RelayServer, Route, Target,
    protocol_id,
};
use std::time::{Duration, Instant};

#[path = "throughput/cpu.rs"]
#[allow(dead_code)]
mod cpu;
#[path = "common/proc.rs"]
#[allow(dead_code)]
mod proc;

const KEY: [u8; 32] = [0xd1; 32];
const RATE_HZ: u32 = 60;
const MESSAGE: [u8; 32] = [7; 32];
/// How long a setup step (connect, match, go direct) may take.
const SETUP_DEADLINE: Duration = Duration::from_secs(20);

/// What one mode measured.
#[derive(Debug, serde::Serialize)]
struct Mode {
    consent: bool,
    players: usize,
    secs: f64,
    messages_sent: u64,
    messages_received: u64,
    relay_forwards: u64,
    relay_cpu_ns: u64,
    /// Each pair's time to direct, µs (direct mode only).
    time_to_direct_us: Vec<u64>,
}

impl Mode {
    /// Relay CPU seconds per player-hour at [`RATE_HZ`].
    fn cpu_s_per_player_hour(&self) -> f64 {
        self.relay_cpu_ns as f64 / 1e9 / self.players as f64 / self.secs * 3600.0
    }
}

fn run(consent: bool, pairs: usize, secs: u64) -> Mode {
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        protocol_id(),
        Key::from_bytes(KEY),
    )
    .ports(2);
    let relay = RelayServer::bind(config, RelayConfig::default().direct_play(true)).unwrap();
    let players = 2 * pairs;
    let mut clients: Vec<RelayClient> = (0..players)
        .map(|i| {
            let mut c = RelayClient::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            c.connect(Instant::now(), relay.issue_token(i as u64 + 1).unwrap());
            c
        })
        .collect();
    let mut seats: Vec<Option<u8>> = vec![None; players];
    let mut asked = vec![false; players];
    let mut received = 0u64;
    // Set up: connect, consent, match; in direct mode, until every pair is direct.
    let deadline = Instant::now() + SETUP_DEADLINE;
    loop {
        assert!(Instant::now() < deadline, "setup did not finish");
        let now = Instant::now();
        for (i, c) in clients.iter_mut().enumerate() {
            c.update(now);
            if c.is_connected() && !asked[i] {
                if consent {
                    c.allow_direct(DirectConfig::default()).unwrap();
                }
                let info = MatchInfo {
                    player_count: 2,
                    match_data: (i / 2).to_le_bytes().to_vec(),
                };
                c.request_match(&info).unwrap();
                asked[i] = true;
            }
            while let Some(event) = c.poll_event() {
                if let RelayEvent::Matched { player_idx, .. } = event {
                    seats[i] = Some(player_idx);
                }
            }
        }
        let matched = seats.iter().all(Option::is_some);
        let direct = !consent
            || clients.iter().zip(&seats).all(|(c, s)| {
                s.and_then(|idx| c.peer_path(1 - idx))
                    .is_some_and(|p| p.route == Route::Direct)
            });
        if matched && direct {
            break;
        }
        clients[0].wait(now + Duration::from_millis(1)).unwrap();
    }
    let time_to_direct_us = clients
        .iter()
        .zip(&seats)
        .step_by(2)
        .filter_map(|(c, s)| c.peer_path(1 - (*s)?)?.time_to_direct)
        .map(|t| t.as_micros() as u64)
        .collect();
    // Steady play.
    let (cpu_before, forwards_before) = (cpu::threads_ns("berth-port-"), relay.stats().forwarded);
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let interval = Duration::from_secs(1) / RATE_HZ;
    let mut next_send = start;
    let mut sent = 0u64;
    while Instant::now() < end {
        let now = Instant::now();
        let due = now >= next_send;
        for (c, seat) in clients.iter_mut().zip(&seats) {
            c.receive(now);
            while let Some(event) = c.poll_event() {
                if matches!(event, RelayEvent::Received { .. }) {
                    received += 1;
                }
            }
            if due {
                let peer = 1 - seat.unwrap_or(0);
                if c.send_to(Target::Player(peer), &MESSAGE, false).is_ok() {
                    sent += 1;
                }
            }
            c.flush(now);
        }
        if due {
            next_send += interval;
        }
        clients[0].wait(next_send.min(end)).unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let mode = Mode {
        consent,
        players,
        secs,
        messages_sent: sent,
        messages_received: received,
        relay_forwards: relay.stats().forwarded - forwards_before,
        relay_cpu_ns: cpu::threads_ns("berth-port-") - cpu_before,
        time_to_direct_us,
    };
    relay.shutdown();
    mode
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("direct: bench");
        return;
    }
    let pairs = proc::env_or("DIRECT_PAIRS", 16usize);
    let secs = proc::env_or("DIRECT_SECS", 10u64);
    let relayed = run(false, pairs, secs);
    let direct = run(true, pairs, secs);
    for mode in [&relayed, &direct] {
        println!(
            "{:8}  players {}  sent {}  received {} ({:.1}%)  relay forwards {}  relay CPU {:.1} ms ({:.2} s per player-hour)",
            if mode.consent { "direct" } else { "relayed" },
            mode.players,
            mode.messages_sent,
            mode.messages_received,
            100.0 * mode.messages_received as f64 / mode.messages_sent.max(1) as f64,
            mode.relay_forwards,
            mode.relay_cpu_ns as f64 / 1e6,
            mode.cpu_s_per_player_hour(),
        );
    }
    let moved = 1.0 - direct.relay_forwards as f64 / relayed.relay_forwards.max(1) as f64;
    let saved = relayed.cpu_s_per_player_hour() - direct.cpu_s_per_player_hour();
    let ttd = &direct.time_to_direct_us;
    println!(
        "traffic off the relay {:.1}%; relay CPU saved {saved:.2} s per player-hour at {RATE_HZ} msg/s; time to direct: median {} µs, max {} µs over {} pairs",
        100.0 * moved,
        median(ttd.clone()),
        ttd.iter().max().copied().unwrap_or(0),
        ttd.len(),
    );
    let out = std::env::var("DIRECT_OUT").unwrap_or_else(|_| "results/direct.json".into());
    let json = serde_json::json!({
        "relayed": relayed,
        "direct": direct,
        "traffic_off_relay": moved,
        "relay_cpu_saved_s_per_player_hour": saved,
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
