//! The relay's CPU per forwarded message over WebTransport against UDP, in
//! one run: the same relay, rooms, rate and size, the players of a cell all
//! on one transport.
//!
//! `cargo bench -p berth-webtransport --bench forward` runs, for R rooms of
//! 4 players (R = 2, 4, 8 by default) and each transport, a fresh relay
//! with one port serving UDP and WebTransport. Every player sends
//! `WT_BENCH_RATE` (60) messages a second of `WT_BENCH_SIZE` (32) bytes to
//! the three others in its room, reliable, over loopback; the players are
//! native clients ([`WebTransportClient`] for WebTransport: quinn standing
//! in for a browser's QUIC stack), driven from one thread.
//!
//! Per cell: forwarded messages (one per recipient) per CPU-second of the
//! relay's own threads: the port thread (`berth-port-0`) and, for
//! WebTransport, the QUIC runtime's (`berth-webtrans…`), read from
//! `/proc/self/task/*/schedstat`; the players' threads never count. Then
//! the ratio of CPU per message, WebTransport ÷ UDP, per R. The JSON
//! (`results/webtransport.json`, under this crate unless `WT_BENCH_OUT` is
//! absolute) also has the port thread's share alone (`port_ns`).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `WT_BENCH_ROOMS` | `2,4,8` | room counts |
//! | `WT_BENCH_SECS` | `4` | measured seconds per cell |
//! | `WT_BENCH_WARMUP` | `1` | seconds of load before measuring |
//! | `WT_BENCH_RATE` | `60` | messages per player per second |
//! | `WT_BENCH_SIZE` | `32` | message bytes |
//! | `WT_BENCH_OUT` | `results/webtransport.json` | where the JSON goes |

#[allow(
    dead_code,
    reason = "shared with the root crate's benches, which use all of it"
)]
#[path = "../../../benches/throughput/cpu.rs"]
mod cpu;
#[allow(
    dead_code,
    reason = "shared with the root crate's benches, which use all of it"
)]
#[path = "../../../benches/common/proc.rs"]
mod proc;

use berth::Key;
use berth::engine::ServerConfig;
use berth::engine::transport::Transport;
use berth::relay::{MatchInfo, RelayClient, RelayConfig, RelayEvent, RelayServer, Target};
use berth_webtransport::{WebTransportClient, WebTransportConfig, WebTransportServer};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The relay's threads: its port, and WebTransport's QUIC runtime.
const SERVER_THREADS: [&str; 2] = ["berth-port-", "berth-webtrans"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Udp,
    WebTransport,
}

impl Kind {
    const ALL: [Self; 2] = [Self::Udp, Self::WebTransport];

    const fn name(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::WebTransport => "webtransport",
        }
    }

    /// The relay transport its players' tokens name.
    const fn transport(self) -> usize {
        match self {
            Self::Udp => 0,
            Self::WebTransport => 1,
        }
    }
}

struct Settings {
    secs: Duration,
    warmup: Duration,
    rate: u32,
    size: usize,
}

struct Cell {
    kind: Kind,
    rooms: usize,
    forwarded: u64,
    /// The port thread's and the QUIC runtime's CPU, summed.
    cpu_ns: u64,
    /// The port thread's alone.
    port_ns: u64,
}

impl Cell {
    fn per_cpu_sec(&self) -> f64 {
        self.forwarded as f64 / (self.cpu_ns.max(1) as f64 / 1e9)
    }
}

/// CPU nanoseconds of this process's threads whose names start with one
/// of `prefixes` (`/proc/self/task/*/schedstat`).
fn threads_ns(prefixes: &[&str]) -> u64 {
    prefixes.iter().map(|prefix| cpu::threads_ns(prefix)).sum()
}

fn run(settings: &Settings, kind: Kind, rooms: usize) -> Result<Cell, String> {
    let players = rooms * 4;
    // Every player comes from 127.0.0.1: lift the per-address limit.
    let wt = WebTransportServer::start(
        WebTransportConfig::new("127.0.0.1:0".parse().map_err(|e| format!("{e}"))?)
            .max_sessions_per_ip(u32::MAX),
    )
    .map_err(|e| e.to_string())?;
    let ports = wt.clone();
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        berth::relay::protocol_id(),
        Key::from_bytes([0x5a; 32]),
    )
    .max_clients_per_port(players + 16)
    .add_transport(move |port| Ok(Box::new(ports.port(port)?) as Box<dyn Transport>));
    let relay = RelayServer::bind(config, RelayConfig::default()).map_err(|e| e.to_string())?;

    let mut clients = Vec::with_capacity(players);
    for i in 0..players {
        let id = 1000 + i as u64;
        let mut client = match kind {
            Kind::Udp => RelayClient::bind("127.0.0.1:0".parse().map_err(|e| format!("{e}"))?)
                .map_err(|e| e.to_string())?,
            Kind::WebTransport => {
                let addr = relay
                    .server()
                    .transport_addrs(kind.transport())
                    .ok_or("no WebTransport")?[0];
                let session = WebTransportClient::connect(
                    &WebTransportServer::url(addr),
                    &wt.certificate_hashes(),
                    Duration::from_secs(10),
                )
                .map_err(|e| e.to_string())?;
                RelayClient::with_transport(Box::new(session))
            }
        };
        let token = relay
            .issue_token_via(kind.transport(), id)
            .map_err(|e| e.to_string())?;
        client.connect(Instant::now(), token);
        clients.push(client);
    }
    matched(&mut clients)?;

    let message = vec![0x42; settings.size];
    let frame = Duration::from_secs(1) / settings.rate;
    let mut next = Instant::now();
    let mut load = |until: Instant, clients: &mut [RelayClient]| -> Result<(), String> {
        while Instant::now() < until {
            let now = Instant::now();
            if now >= next {
                next += frame;
                for client in clients.iter_mut() {
                    // A full budget skips a frame, as a game would.
                    let _ = client.send_to(Target::AllOthers, &message, true);
                }
            }
            for client in clients.iter_mut() {
                client.update(now);
                while client.poll_event().is_some() {}
                if !client.is_connected() {
                    return Err("a player lost the relay".into());
                }
            }
            let wake = next.min(until);
            if let Some(first) = clients.first_mut() {
                first.wait(wake).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    };
    load(Instant::now() + settings.warmup, &mut clients)?;
    let (fwd0, cpu0) = (relay.stats().forwarded, threads_ns(&SERVER_THREADS));
    let port0 = threads_ns(&SERVER_THREADS[..1]);
    load(Instant::now() + settings.secs, &mut clients)?;
    let (fwd1, cpu1) = (relay.stats().forwarded, threads_ns(&SERVER_THREADS));
    let port1 = threads_ns(&SERVER_THREADS[..1]);
    let now = Instant::now();
    for client in &mut clients {
        client.disconnect(now);
    }
    drop(clients);
    wt.close();
    let _ = relay.shutdown();
    Ok(Cell {
        kind,
        rooms,
        forwarded: fwd1 - fwd0,
        cpu_ns: cpu1 - cpu0,
        port_ns: port1 - port0,
    })
}

/// Connects every client and matches them in rooms of four.
fn matched(clients: &mut [RelayClient]) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut requested = vec![false; clients.len()];
    let mut seated = 0;
    let info = MatchInfo {
        player_count: 4,
        match_data: b"wt-bench".to_vec(),
    };
    while seated < clients.len() {
        if Instant::now() > deadline {
            return Err(format!("{seated} of {} matched", clients.len()));
        }
        for (client, requested) in clients.iter_mut().zip(&mut requested) {
            client.update(Instant::now());
            if client.is_connected() && !*requested {
                client.request_match(&info).map_err(|e| e.to_string())?;
                *requested = true;
            }
            while let Some(event) = client.poll_event() {
                if matches!(event, RelayEvent::Matched { .. }) {
                    seated += 1;
                }
            }
        }
        if let Some(first) = clients.first_mut() {
            first
                .wait(Instant::now() + Duration::from_millis(1))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn main() -> Result<(), String> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let settings = Settings {
        secs: Duration::from_secs_f64(proc::env_or("WT_BENCH_SECS", 4.0)),
        warmup: Duration::from_secs_f64(proc::env_or("WT_BENCH_WARMUP", 1.0)),
        rate: proc::env_or("WT_BENCH_RATE", 60),
        size: proc::env_or("WT_BENCH_SIZE", 32),
    };
    let rooms: Vec<usize> = std::env::var("WT_BENCH_ROOMS")
        .unwrap_or_else(|_| "2,4,8".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let mut cells = Vec::new();
    for &r in &rooms {
        for kind in Kind::ALL {
            eprintln!("rooms {r}, {} ...", kind.name());
            let cell = run(&settings, kind, r)?;
            eprintln!(
                "  {} forwards, {:.0} per relay CPU-second",
                cell.forwarded,
                cell.per_cpu_sec()
            );
            cells.push(cell);
        }
    }
    println!(
        "\n| rooms | udp fwd/CPU-s | webtransport fwd/CPU-s | CPU per message, webtransport ÷ udp |"
    );
    println!("|---|---|---|---|");
    let mut json = String::from("{\"cells\":[");
    for (i, cell) in cells.iter().enumerate() {
        let _ = write!(
            json,
            "{}{{\"transport\":\"{}\",\"rooms\":{},\"forwarded\":{},\"cpu_ns\":{},\"port_ns\":{},\"per_cpu_sec\":{:.1}}}",
            if i == 0 { "" } else { "," },
            cell.kind.name(),
            cell.rooms,
            cell.forwarded,
            cell.cpu_ns,
            cell.port_ns,
            cell.per_cpu_sec()
        );
    }
    json.push_str("]}\n");
    for pair in cells.chunks(2) {
        if let [udp, wt] = pair {
            println!(
                "| {} | {:.0} | {:.0} | {:.2} |",
                udp.rooms,
                udp.per_cpu_sec(),
                wt.per_cpu_sec(),
                udp.per_cpu_sec() / wt.per_cpu_sec()
            );
        }
    }
    let out = std::env::var("WT_BENCH_OUT").unwrap_or_else(|_| "results/webtransport.json".into());
    if let Some(dir) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(&out, json).map_err(|e| e.to_string())?;
    eprintln!("wrote {out}");
    Ok(())
}
