//! Soak: many relay players for a long time, with rooms forming, players
//! leaving and rejoining, and the relay's memory sampled throughout. The
//! result should be a flat line: whatever a relay allocates for rooms and
//! players comes back when they go.
//!
//! Not part of `cargo test`: `cargo bench --bench soak` runs it (default
//! 10,000 players for 10 minutes; `SOAK_PLAYERS`, `SOAK_SECS`). The relay
//! runs in a child process (this binary again, with `BERTH_SOAK_SERVER`
//! set) on 2 loopback ports, so its memory is its own. The players are
//! `RelayClient`s driven from one thread:
//! - each asks for a match of four and, once matched, sends a message to
//!   the others every second or so;
//! - after 20-80 s in a match it leaves, and asks again;
//! - one leave in four is instead a disconnect, followed by a new
//!   connection that rejoins the seat with its secret.
//!
//! Every 10 s it samples the relay's resident memory (`/proc/<pid>/status`),
//! the bytes its heap holds live (counted by a tracking global allocator:
//! allocated minus freed, so fragmentation shows as RSS above it), and its
//! rooms and players; at the end it reports the growth of both over the
//! last 80% of the run. Results: `results/soak.json` and `results/soak.svg`
//! (`SOAK_OUT`).

use berth::relay::{
    MatchInfo, RelayClient, RelayConfig, RelayEvent, RelayServer, Target, protocol_id,
};
use berth::{ConnectTokenBuilder, Key};
use plotters::prelude::*;
use proc::{env_or, rss};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tracking_allocator::{AllocationGroupId, AllocationRegistry, AllocationTracker, Allocator};

#[global_allocator]
static GLOBAL: Allocator<std::alloc::System> = Allocator::system();

/// Heap bytes allocated and not yet freed, once tracking is on (the relay
/// process only).
static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

/// Counts live heap bytes.
struct LiveBytes;

impl AllocationTracker for LiveBytes {
    fn allocated(&self, _addr: usize, size: usize, _wrapped: usize, _group: AllocationGroupId) {
        LIVE_BYTES.fetch_add(size as i64, Ordering::Relaxed);
    }

    fn deallocated(
        &self,
        _addr: usize,
        size: usize,
        _wrapped: usize,
        _source: AllocationGroupId,
        _current: AllocationGroupId,
    ) {
        LIVE_BYTES.fetch_sub(size as i64, Ordering::Relaxed);
    }
}

#[path = "common/proc.rs"]
mod proc;

const KEY: [u8; 32] = [0x50; 32];
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// The child: a relay on 2 loopback ports; prints its addresses, then
/// prints `rooms players live-heap-bytes` for each line it reads, until
/// stdin closes.
fn serve(players: usize) {
    if AllocationRegistry::set_global_tracker(LiveBytes).is_ok() {
        AllocationRegistry::enable_tracking();
    }
    let config = berth::engine::ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        protocol_id(),
        Key::from_bytes(KEY),
    )
    .ports(2)
    .max_clients_per_port(players.div_ceil(2) + 256);
    let relay = RelayServer::bind(config, RelayConfig::default()).expect("bind the relay");
    let addrs: Vec<String> = relay
        .server()
        .local_addrs()
        .iter()
        .map(ToString::to_string)
        .collect();
    println!("ports {}", addrs.join(","));
    let _ = std::io::stdout().flush();
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
        let stats = relay.stats();
        let live = LIVE_BYTES.load(Ordering::Relaxed);
        println!("{} {} {live}", stats.rooms, stats.players);
        let _ = std::io::stdout().flush();
    }
}

/// Where one player is.
enum Stage {
    /// Connecting, or asked for a match.
    Waiting,
    /// In a match: its seat's secret, when it leaves, when it next sends.
    Playing {
        secret: [u8; 16],
        leave_at: Instant,
        next_send: Instant,
    },
    /// Dropped its connection on purpose; rejoins with `secret` once connected.
    Rejoining { secret: [u8; 16] },
}

struct Player {
    client: RelayClient,
    stage: Stage,
    asked: bool,
}

/// A small xorshift for the players' choices.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn secs(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low * 1000 + self.next() % ((high - low) * 1000))
    }
}

fn token(id: u64, servers: &[SocketAddr]) -> berth::ConnectToken {
    let mut builder =
        ConnectTokenBuilder::new(protocol_id(), id).timeout(Some(Duration::from_secs(30)));
    for k in 0..servers.len() {
        builder = builder.server(servers[(id as usize + k) % servers.len()]);
    }
    builder.build(&Key::from_bytes(KEY)).expect("a token")
}

/// One RSS sample.
#[derive(Debug, Clone, serde::Serialize)]
struct Sample {
    secs: f64,
    rss_bytes: u64,
    /// Heap bytes allocated and not freed (since tracking started, just
    /// after the process began).
    heap_bytes: u64,
    rooms: u64,
    players: u64,
    connected_here: usize,
}

fn plot(samples: &[Sample], path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_secs = samples.iter().map(|s| s.secs).fold(1.0, f64::max);
    let max_mib = samples
        .iter()
        .map(|s| s.rss_bytes as f64 / 1048576.0)
        .fold(1.0, f64::max)
        * 1.2;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "berth relay resident memory during a soak",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..max_secs, 0f64..max_mib)?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("RSS, MiB")
        .draw()?;
    chart.draw_series(LineSeries::new(
        samples
            .iter()
            .map(|s| (s.secs, s.rss_bytes as f64 / 1048576.0)),
        &BLUE,
    ))?;
    root.present()?;
    Ok(())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let count: usize = env_or("SOAK_PLAYERS", 10_000);
    if std::env::var_os("BERTH_SOAK_SERVER").is_some() {
        serve(count);
        return;
    }
    let length = Duration::from_secs(env_or("SOAK_SECS", 600));
    let out_path = std::path::PathBuf::from(
        std::env::var("SOAK_OUT").unwrap_or_else(|_| "results/soak.json".into()),
    );
    let mut child = Command::new(std::env::current_exe().expect("this binary"))
        .env("BERTH_SOAK_SERVER", "1")
        .env("SOAK_PLAYERS", count.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the relay process");
    let pid = child.id();
    let mut child_in = child.stdin.take().expect("stdin");
    let mut child_out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    child_out.read_line(&mut line).expect("the relay's ports");
    let servers: Vec<SocketAddr> = line
        .trim()
        .strip_prefix("ports ")
        .expect("a ports line")
        .split(',')
        .map(|a| a.parse().expect("an address"))
        .collect();
    println!(
        "relay pid {pid} on {servers:?}; {count} players for {} s",
        length.as_secs()
    );

    let info = MatchInfo {
        player_count: 4,
        match_data: b"soak".to_vec(),
    };
    let start = Instant::now();
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
    let mut next_id = 1u64;
    let mut players: Vec<Player> = (0..count)
        .map(|_| {
            let mut client = RelayClient::bind("127.0.0.1:0".parse().unwrap()).expect("a socket");
            client.connect(start, token(next_id, &servers));
            next_id += 1;
            Player {
                client,
                stage: Stage::Waiting,
                asked: false,
            }
        })
        .collect();
    let mut samples = Vec::new();
    let mut next_sample = start;
    let (mut leaves, mut rejoins, mut messages) = (0u64, 0u64, 0u64);
    let mut errors: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    let message = [0x5au8; 48];
    while start.elapsed() < length {
        let now = Instant::now();
        for player in &mut players {
            player.client.update(now);
            while let Some(event) = player.client.poll_event() {
                match event {
                    RelayEvent::Matched { rejoin_secret, .. } => {
                        player.stage = Stage::Playing {
                            secret: rejoin_secret,
                            leave_at: now + dice.secs(20, 80),
                            next_send: now + dice.secs(0, 1),
                        };
                    }
                    RelayEvent::Error(error) => {
                        // A refused request (say, over its budget, or a
                        // rejoin past the grace): ask again, as a game would.
                        *errors.entry(format!("{error:?}")).or_insert(0u64) += 1;
                        if matches!(player.stage, Stage::Waiting) {
                            player.asked = false;
                        }
                    }
                    _ => {}
                }
            }
            if !player.client.is_connected() {
                if player.client.state().is_error() || player.client.state().code() == 0 {
                    // Timed out or dropped: a new connection (a rejoin, if it was playing).
                    let mut client =
                        RelayClient::bind("127.0.0.1:0".parse().unwrap()).expect("a socket");
                    client.connect(now, token(next_id, &servers));
                    next_id += 1;
                    player.client = client;
                    player.asked = false;
                }
                continue;
            }
            match &mut player.stage {
                Stage::Waiting if !player.asked => {
                    player.asked = player.client.request_match(&info).is_ok();
                }
                Stage::Rejoining { secret } => {
                    let secret = *secret;
                    if player.client.rejoin(secret).is_ok() {
                        rejoins += 1;
                        player.stage = Stage::Waiting;
                        player.asked = true;
                    }
                }
                Stage::Playing {
                    secret,
                    leave_at,
                    next_send,
                } => {
                    if now >= *leave_at {
                        leaves += 1;
                        if dice.next().is_multiple_of(4) {
                            let secret = *secret;
                            player.client.disconnect(now);
                            player.stage = Stage::Rejoining { secret };
                        } else {
                            let _ = player.client.leave();
                            player.stage = Stage::Waiting;
                            player.asked = false;
                        }
                    } else if now >= *next_send {
                        *next_send = now + dice.secs(1, 2);
                        if player
                            .client
                            .send_to(Target::AllOthers, &message, false)
                            .is_ok()
                        {
                            messages += 1;
                        }
                    }
                }
                Stage::Waiting => {}
            }
        }
        if now >= next_sample {
            next_sample += SAMPLE_EVERY;
            let _ = writeln!(child_in);
            let _ = child_in.flush();
            line.clear();
            let _ = child_out.read_line(&mut line);
            let mut fields = line
                .split_whitespace()
                .map(|v| v.parse::<u64>().unwrap_or(0));
            let sample = Sample {
                secs: start.elapsed().as_secs_f64(),
                rss_bytes: rss(pid),
                rooms: fields.next().unwrap_or(0),
                players: fields.next().unwrap_or(0),
                heap_bytes: fields.next().unwrap_or(0),
                connected_here: players.iter().filter(|p| p.client.is_connected()).count(),
            };
            println!(
                "{:>5.0} s: relay {:.1} MiB ({:.1} MiB live heap), {} rooms, {} seated; {} of {count} connected; {leaves} leaves, {rejoins} rejoins, {messages} messages; refusals {errors:?}",
                sample.secs,
                sample.rss_bytes as f64 / 1048576.0,
                sample.heap_bytes as f64 / 1048576.0,
                sample.rooms,
                sample.players,
                sample.connected_here
            );
            samples.push(sample);
        }
    }
    drop(child_in);
    let _ = child.wait();

    // Growth over the last 80% of the run: last sample against the first
    // one past 20% of it.
    let warm = length.as_secs_f64() * 0.2;
    let first = samples.iter().find(|s| s.secs >= warm).cloned();
    let last = samples.last().cloned();
    if let (Some(first), Some(last)) = (first, last) {
        let growth = last.rss_bytes as f64 / first.rss_bytes.max(1) as f64 - 1.0;
        let max = samples
            .iter()
            .filter(|s| s.secs >= warm)
            .map(|s| s.rss_bytes)
            .max()
            .unwrap_or(0);
        println!(
            "\nresident memory from {:.0} s to {:.0} s: {:.1} -> {:.1} MiB ({:+.1}%), highest {:.1} MiB",
            first.secs,
            last.secs,
            first.rss_bytes as f64 / 1048576.0,
            last.rss_bytes as f64 / 1048576.0,
            100.0 * growth,
            max as f64 / 1048576.0
        );
        println!(
            "live heap over the same span: {:.2} -> {:.2} MiB ({:+.1}%)",
            first.heap_bytes as f64 / 1048576.0,
            last.heap_bytes as f64 / 1048576.0,
            100.0 * (last.heap_bytes as f64 / first.heap_bytes.max(1) as f64 - 1.0)
        );
    }
    if let Some(dir) = out_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let json = serde_json::json!({
        "players": count, "secs": length.as_secs(), "leaves": leaves, "rejoins": rejoins,
        "messages": messages, "refusals": errors, "samples": samples,
    });
    match std::fs::write(
        &out_path,
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    ) {
        Ok(()) => println!("wrote {}", out_path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", out_path.display()),
    }
    let svg = out_path.with_extension("svg");
    match plot(&samples, &svg) {
        Ok(()) => println!("wrote {}", svg.display()),
        Err(e) => eprintln!("cannot plot {}: {e}", svg.display()),
    }
}
