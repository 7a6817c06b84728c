//! Scale: many peers on one server. It connects `SCALE_PEERS` clients
//! (default 10,000) to a 2-port berth server in stages and reports:
//!
//! - the time until every client of a stage is connected, and the
//!   server's CPU per handshake;
//! - the server's resident memory per idle connected peer, read from
//!   `/proc/<pid>/status` at 0 peers and after each stage (default 1,000,
//!   5,000 and 10,000 peers).
//!
//! The server runs in a child process (this binary again, with
//! `BERTH_SCALE_SERVER` set), so its memory and CPU are its own. The
//! clients are sans-IO `ClientSession`s on the standard channel table, one
//! non-blocking UDP socket each on loopback, driven from this process:
//! what a game's players would be, minus everything but the handshake.
//! Their tokens never time out, so idle means idle (the server still sends
//! each peer a keep-alive every 100 ms, as netcode does).
//!
//! `cargo bench --bench scale` prints progress and the figures, checks the
//! targets (every stage connected within 2 s, at most 2 KiB per idle peer)
//! and writes `results/scale.json` and `results/scale.svg` (memory by
//! peers).
//!
//! | variable | default | what |
//! |---|---|---|
//! | `SCALE_PEERS` | 10000 | clients in the last stage |
//! | `SCALE_STAGES` | 1000,5000,`SCALE_PEERS` | connected peers at each measurement |
//! | `SCALE_PORTS` | 2 | server ports |
//! | `SCALE_OUT` | `results/scale.json` | where the JSON goes (the SVG beside it) |

use berth::engine::{Server, ServerConfig};
use berth::proto::channel::ChannelTable;
use berth::proto::client::{ClientSession, ClientState};
use berth::{ConnectTokenBuilder, Key};
use plotters::prelude::*;
use proc::{env_or, rss};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROTOCOL_ID: u64 = 0x5ca1_ab1e_0000_0001;
#[path = "common/proc.rs"]
mod proc;

const KEY: [u8; 32] = [0x5c; 32];
/// Longest a stage may take before the bench gives up on it.
const STAGE_LIMIT: Duration = Duration::from_secs(60);
/// How long memory is left to settle after a stage connects.
const SETTLE: Duration = Duration::from_secs(1);
/// Target: every client of a stage connected within this.
const CONNECT_TARGET: Duration = Duration::from_secs(2);
/// Target: resident bytes per idle connected peer.
const BYTES_PER_PEER_TARGET: f64 = 2048.0;

/// The child: a berth server on loopback that prints its port addresses,
/// then serves until its stdin closes.
fn serve(ports: u16, peers: usize) {
    let per_port = peers.div_ceil(usize::from(ports)) + 64;
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        PROTOCOL_ID,
        Key::from_bytes(KEY),
    )
    .ports(ports)
    .max_clients_per_port(per_port)
    .queue_len(1024);
    let server = Server::bind(config).expect("bind the scale server");
    let addrs: Vec<String> = server
        .local_addrs()
        .iter()
        .map(ToString::to_string)
        .collect();
    println!("ports {}", addrs.join(","));
    let _ = std::io::stdout().flush();
    // Events are not read: drop them (the queue is bounded, the ports count drops).
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(server);
}

/// User plus system CPU time of `pid`.
fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name's closing parenthesis; utime and stime
    // are the 14th and 15th fields of the whole line.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // /proc counts in USER_HZ ticks: 100 per second on Linux.
    let hz = 100;
    Duration::from_millis((ticks(11) + ticks(12)) * 1000 / hz)
}

/// One simulated player: its socket and its protocol state.
struct Player {
    socket: UdpSocket,
    session: ClientSession,
}

/// Connects `players`, driving every one until all are connected; returns
/// how long that took.
fn connect(players: &mut [Player], first: usize, servers: &[SocketAddr]) -> Duration {
    let started = Instant::now();
    let key = Key::from_bytes(KEY);
    for (i, player) in players.iter_mut().enumerate() {
        let id = (first + i) as u64 + 1;
        // Spread over the ports: each token names its own port first.
        let mut builder = ConnectTokenBuilder::new(PROTOCOL_ID, id).timeout(None);
        for k in 0..servers.len() {
            builder = builder.server(servers[(first + i + k) % servers.len()]);
        }
        let token = builder.build(&key).expect("a token");
        player.session.connect(started, token);
    }
    let mut buf = vec![0u8; 2048];
    let mut out: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
    loop {
        let now = Instant::now();
        let mut waiting = 0;
        for player in players.iter_mut() {
            loop {
                match player.socket.recv_from(&mut buf) {
                    Ok((len, from)) => {
                        player.session.handle_datagram(now, from, &mut buf[..len]);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => break,
                }
            }
            // Connected players only drain their socket: keep-alives pile up otherwise.
            while player.session.recv().is_some() {}
            if player.session.state() == ClientState::Connected {
                continue;
            }
            assert!(
                !player.session.state().is_error(),
                "a client failed: {:?}",
                player.session.state()
            );
            waiting += 1;
            player.session.update(now, &mut out);
            for (to, datagram) in out.drain(..) {
                let _ = player.socket.send_to(&datagram, to);
            }
        }
        if waiting == 0 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < STAGE_LIMIT,
            "{waiting} clients still not connected"
        );
    }
}

/// What one stage measured.
#[derive(Debug, Clone, serde::Serialize)]
struct Stage {
    peers: usize,
    connect_secs: f64,
    server_cpu_per_handshake_us: f64,
    rss_bytes: u64,
    bytes_per_peer: f64,
}

fn plot(
    stages: &[Stage],
    base: u64,
    path: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_peers = stages.iter().map(|s| s.peers).max().unwrap_or(1) as f64;
    let max_mib = stages
        .iter()
        .map(|s| s.rss_bytes as f64 / 1048576.0)
        .fold(base as f64 / 1048576.0, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "berth server resident memory by idle connected peers",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..max_peers * 1.05, 0f64..max_mib)?;
    chart
        .configure_mesh()
        .x_desc("connected peers")
        .y_desc("RSS, MiB")
        .draw()?;
    let points: Vec<(f64, f64)> = std::iter::once((0.0, base as f64 / 1048576.0))
        .chain(
            stages
                .iter()
                .map(|s| (s.peers as f64, s.rss_bytes as f64 / 1048576.0)),
        )
        .collect();
    chart.draw_series(LineSeries::new(points.clone(), &BLUE))?;
    chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, BLUE.filled())))?;
    let target: Vec<(f64, f64)> = [0.0, max_peers]
        .iter()
        .map(|&n| (n, (base as f64 + n * BYTES_PER_PEER_TARGET) / 1048576.0))
        .collect();
    chart
        .draw_series(LineSeries::new(target, &RED))?
        .label("target: 2 KiB per peer")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED));
    chart.configure_series_labels().border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

fn main() {
    let peers: usize = env_or("SCALE_PEERS", 10_000);
    let ports: u16 = env_or("SCALE_PORTS", 2);
    if std::env::var_os("BERTH_SCALE_SERVER").is_some() {
        serve(ports, peers);
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list.
    }
    let stages: Vec<usize> = std::env::var("SCALE_STAGES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 5_000, peers]);
    let out_path = std::path::PathBuf::from(
        std::env::var("SCALE_OUT").unwrap_or_else(|_| "results/scale.json".into()),
    );

    let mut child = Command::new(std::env::current_exe().expect("this binary"))
        .env("BERTH_SCALE_SERVER", "1")
        .env("SCALE_PEERS", peers.to_string())
        .env("SCALE_PORTS", ports.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server process");
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the server's ports");
    let servers: Vec<SocketAddr> = line
        .trim()
        .strip_prefix("ports ")
        .expect("a ports line")
        .split(',')
        .map(|a| a.parse().expect("an address"))
        .collect();
    std::thread::sleep(SETTLE);
    let base = rss(pid);
    println!(
        "server pid {pid} on {servers:?}: {:.1} MiB resident with no peers",
        base as f64 / 1048576.0
    );

    let table = ChannelTable::standard();
    let mut players: Vec<Player> = Vec::with_capacity(peers);
    let mut results = Vec::new();
    for &target in &stages {
        let first = players.len();
        while players.len() < target {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("a client socket");
            socket.set_nonblocking(true).expect("non-blocking");
            players.push(Player {
                socket,
                session: ClientSession::new().channels(Some(table.clone())),
            });
        }
        let cpu_before = cpu(pid);
        let took = connect(&mut players[first..], first, &servers);
        let handshakes = (target - first).max(1);
        let cpu_used = cpu(pid).saturating_sub(cpu_before);
        std::thread::sleep(SETTLE);
        let resident = rss(pid);
        let stage = Stage {
            peers: target,
            connect_secs: took.as_secs_f64(),
            server_cpu_per_handshake_us: cpu_used.as_secs_f64() * 1e6 / handshakes as f64,
            rss_bytes: resident,
            bytes_per_peer: resident.saturating_sub(base) as f64 / target.max(1) as f64,
        };
        println!(
            "{:>6} peers: {} more connected in {:.3} s, server {:.1} µs CPU per handshake, {:.1} MiB resident, {:.0} B per idle peer",
            stage.peers,
            target - first,
            stage.connect_secs,
            stage.server_cpu_per_handshake_us,
            resident as f64 / 1048576.0,
            stage.bytes_per_peer
        );
        results.push(stage);
    }
    drop(child.stdin.take());
    let _ = child.wait();

    println!("\ntargets:");
    for stage in &results {
        let verdict = if stage.connect_secs <= CONNECT_TARGET.as_secs_f64() {
            "HOLDS "
        } else {
            "MISSES"
        };
        println!(
            "{verdict}  {:>6} peers connected in {:.3} s (at most {:.1} s)",
            stage.peers,
            stage.connect_secs,
            CONNECT_TARGET.as_secs_f64()
        );
    }
    if let Some(last) = results.last() {
        let verdict = if last.bytes_per_peer <= BYTES_PER_PEER_TARGET {
            "HOLDS "
        } else {
            "MISSES"
        };
        println!(
            "{verdict}  {:.0} B resident per idle peer at {} peers (at most {:.0})",
            last.bytes_per_peer, last.peers, BYTES_PER_PEER_TARGET
        );
    }
    if let Some(dir) = out_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let json = serde_json::json!({ "base_rss_bytes": base, "ports": ports, "stages": results });
    match std::fs::write(
        &out_path,
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    ) {
        Ok(()) => println!("wrote {}", out_path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", out_path.display()),
    }
    let svg = out_path.with_extension("svg");
    match plot(&results, base, &svg) {
        Ok(()) => println!("wrote {}", svg.display()),
        Err(e) => eprintln!("cannot plot {}: {e}", svg.display()),
    }
}
