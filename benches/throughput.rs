//! Echo throughput and server CPU: berth against renetcode 2.x and netcode-official, in one run.
//!
//! `cargo bench --bench throughput` runs, for K = 1, 64 and 256 clients and
//! 64- and 1200-byte payloads, one cell per server:
//!
//! - `raw-udp`: batched UDP echo with no protocol and no crypto (the floor);
//! - `berth-1p`, `berth-2p`: berth in handler mode on one and two ports;
//! - `renetcode`: renetcode's sans-IO `NetcodeServer` over a std socket;
//! - `netcode-official`: netcode-official's `Server`.
//!
//! Each cell starts a fresh server, seals the clients' payload packets ahead,
//! connects all K clients at once (the real netcode 1.02 handshake, timed),
//! then the clients send for a fixed time with a bounded number in flight
//! and the server echoes each payload. The figure that matters on a shared
//! machine is the server threads' CPU time per received packet, read from
//! `/proc/self/task/<tid>/schedstat` before and after; rates depend on what
//! else the machine is doing (each progress line says how long the server
//! threads waited for a CPU). One load generator thread serves all servers
//! (they all speak netcode 1.02), see `throughput/loadgen.rs`. Payload sizes
//! are nominal: the lengths cycle over the 8 bytes below them, so no burst
//! travels as one GSO/GRO message (`THROUGHPUT_COALESCE=1` allows it).
//!
//! It prints progress, then a table and the issue's targets, and writes
//! `results/throughput.json`. Settings come from environment variables
//! (`THROUGHPUT_SECS`, `THROUGHPUT_CLIENTS`, `THROUGHPUT_SIZES`,
//! `THROUGHPUT_SERVERS`, ...; see `throughput/settings.rs`), for example:
//!
//! ```text
//! THROUGHPUT_SECS=1 THROUGHPUT_CLIENTS=256 THROUGHPUT_SERVERS=berth-1p,renetcode cargo bench --bench throughput
//! ```

#[path = "throughput/cpu.rs"]
mod cpu;
#[path = "throughput/loadgen.rs"]
mod loadgen;
#[path = "common/plot.rs"]
mod plot;
#[path = "throughput/report.rs"]
mod report;
#[path = "throughput/servers.rs"]
mod servers;
#[path = "throughput/settings.rs"]
mod settings;

use loadgen::LoadClient;
use report::Cell;
use servers::Running;
use settings::{Kind, Settings};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// The most payloads per second any server is expected to take on a
/// 2-core machine; bounds the packets sealed ahead together with
/// `THROUGHPUT_PRESEAL_MIB`. A cell that runs out ends early, and says so.
const MAX_RATE: f64 = 250_000.0;

fn main() {
    let settings = Settings::from_env();
    let plan = plan(&settings);
    println!(
        "throughput: {} cells of {:.1} s ({} servers × K {:?} × payload {:?} B), {} in flight",
        plan.len(),
        settings.duration.as_secs_f64(),
        settings.kinds.len(),
        settings.clients,
        settings.sizes,
        settings.in_flight,
    );
    let started = Instant::now();
    let mut cells = Vec::with_capacity(plan.len());
    for (i, &(k, size, kind)) in plan.iter().enumerate() {
        print!(
            "[{:>2}/{}] {:<17} K={k:<3} {size:>4} B: ",
            i + 1,
            plan.len(),
            kind.name()
        );
        let _ = std::io::stdout().flush();
        let cell = run_cell(&settings, kind, k, size);
        println!("{}", cell.progress_line());
        cells.push(cell);
    }
    println!(
        "\nserver CPU per received packet and per handshake (lower is better); ratios are berth ÷ peer, same K and size\n"
    );
    print!("{}", report::table(&cells));
    let targets = report::targets(&cells);
    println!("\ntargets (K = {}):", report::TARGET_K);
    print!("{}", report::verdicts(&targets));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/throughput.json");
    match report::write_json(&path, &settings, &cells, &targets) {
        Ok(()) => println!(
            "\nwrote {} in {:.0} s",
            path.display(),
            started.elapsed().as_secs_f64()
        ),
        Err(e) => eprintln!("\ncould not write {}: {e}", path.display()),
    }
    let svg = path.with_extension("svg");
    match plot_cells(&svg, &settings, &cells) {
        Ok(()) => println!("wrote {}", svg.display()),
        Err(e) => eprintln!("could not plot {}: {e}", svg.display()),
    }
}

/// Server CPU per packet by server, one line per payload size (and K).
fn plot_cells(
    path: &Path,
    settings: &Settings,
    cells: &[report::Cell],
) -> Result<(), Box<dyn std::error::Error>> {
    let names: Vec<String> = settings.kinds.iter().map(|k| k.name()).collect();
    let mut series = Vec::new();
    for &k in &settings.clients {
        for &size in &settings.sizes {
            let points: Vec<(f64, f64)> = names
                .iter()
                .enumerate()
                .filter_map(|(i, name)| {
                    let cell = cells
                        .iter()
                        .find(|c| c.server == *name && c.clients == k && c.payload_bytes == size)?;
                    Some((i as f64, cell.server_cpu_ns_per_pkt?))
                })
                .collect();
            series.push(plot::Series {
                label: format!("{size} B, K = {k}"),
                points,
            });
        }
    }
    plot::lines(
        path,
        &plot::Chart {
            title: "echo: server CPU per received packet (lower is better)",
            x: "server",
            y: "ns per packet",
            x_names: Some(names),
        },
        &series,
    )
}

/// Every cell, K first, then size, then server: the servers compared with
/// each other run back to back, under the same machine conditions.
fn plan(settings: &Settings) -> Vec<(usize, usize, Kind)> {
    let mut plan = Vec::new();
    for &k in &settings.clients {
        for &size in &settings.sizes {
            for &kind in &settings.kinds {
                plan.push((k, size, kind));
            }
        }
    }
    plan
}

/// Payload packets to seal per client for a cell.
fn packets_per_client(settings: &Settings, k: usize, size: usize) -> usize {
    let by_rate = MAX_RATE * settings.duration.as_secs_f64();
    let by_memory = (settings.preseal_bytes / loadgen::packet_len(size)) as f64;
    let total = by_rate.min(by_memory) as usize;
    (total / k).max(2 * settings.window(k))
}

/// Runs one cell; a failure is recorded in the cell, not raised.
fn run_cell(settings: &Settings, kind: Kind, k: usize, size: usize) -> Cell {
    let mut cell = Cell {
        server: kind.name(),
        clients: k,
        payload_bytes: size,
        window: settings.window(k),
        burst: settings.burst(k),
        ..Cell::default()
    };
    if let Err(error) = measure(settings, kind, &mut cell) {
        cell.error = Some(error);
    }
    cell
}

/// Starts the server, connects the clients, blasts, and fills in `cell`.
fn measure(settings: &Settings, kind: Kind, cell: &mut Cell) -> Result<(), String> {
    let server = Running::start(kind, cell.clients).map_err(|e| format!("server start: {e}"))?;
    let result = load(settings, kind, &server, cell);
    server.stop();
    result
}

/// Everything between server start and stop.
fn load(settings: &Settings, kind: Kind, server: &Running, cell: &mut Cell) -> Result<(), String> {
    let count = packets_per_client(settings, cell.clients, cell.payload_bytes);
    let mut clients = (0..cell.clients)
        .map(|i| {
            let client = LoadClient::new(
                server.token(i as u64 + 1),
                server.addrs[0],
                cell.payload_bytes,
                count,
                settings.coalesce,
            )?;
            Ok(if kind.speaks_netcode() {
                client
            } else {
                client.without_echo_check()
            })
        })
        .collect::<Result<Vec<_>, std::io::Error>>()
        .map_err(|e| format!("client socket: {e}"))?;
    cell.server_threads = server.threads();
    if cell.server_threads == 0 {
        return Err("no server thread found by name".into());
    }

    if kind.speaks_netcode() {
        let cpu_before = server.cpu_ns();
        let wall = loadgen::handshake(&mut clients, settings.handshake_timeout)?;
        let cpu = server.cpu_ns().saturating_sub(cpu_before);
        cell.handshake_ms = Some(wall.as_secs_f64() * 1e3);
        cell.server_cpu_us_per_handshake = Some(cpu as f64 / 1e3 / cell.clients as f64);
    }

    let (before, drops_before) = (ServerSample::take(server), cpu::udp_rcvbuf_errors());
    let blast = loadgen::blast(&mut clients, settings.duration, cell.window, cell.burst);
    let during = ServerSample::take(server).since(&before);
    cell.udp_rcvbuf_drops = cpu::udp_rcvbuf_errors().saturating_sub(drops_before);
    fill(cell, &blast, &during);
    if kind.speaks_netcode() && blast.echoes_checked + blast.echoes_bad < cell.clients {
        println!(
            "  note: {} of {} clients got no echo",
            cell.clients - blast.echoes_checked - blast.echoes_bad,
            cell.clients
        );
    }
    berth_batching(cell, server);
    Ok(())
}

/// The server's counters at one instant, or their change over an interval.
#[derive(Debug, Clone, Copy)]
struct ServerSample {
    delivered: u64,
    cpu_ns: u64,
    wait_ns: u64,
}

impl ServerSample {
    fn take(server: &Running) -> Self {
        Self {
            delivered: server.delivered(),
            cpu_ns: server.cpu_ns(),
            wait_ns: server.wait_ns(),
        }
    }

    fn since(&self, earlier: &Self) -> Self {
        Self {
            delivered: self.delivered.saturating_sub(earlier.delivered),
            cpu_ns: self.cpu_ns.saturating_sub(earlier.cpu_ns),
            wait_ns: self.wait_ns.saturating_sub(earlier.wait_ns),
        }
    }
}

/// The rates and per-packet costs of a blast.
fn fill(cell: &mut Cell, blast: &loadgen::Blast, server: &ServerSample) {
    let secs = blast.elapsed.as_secs_f64().max(1e-9);
    let wall_ns = secs * 1e9;
    let delivered = server.delivered;
    cell.secs = secs;
    cell.sent = blast.sent;
    cell.delivered = delivered;
    cell.echoed = blast.echoed;
    cell.recv_pps = delivered as f64 / secs;
    cell.echo_pps = blast.echoed as f64 / secs;
    cell.server_cpu_ns_per_pkt = (delivered > 0).then(|| server.cpu_ns as f64 / delivered as f64);
    cell.server_cores_busy = server.cpu_ns as f64 / wall_ns;
    cell.server_cores_waiting = server.wait_ns as f64 / wall_ns;
    cell.gen_cpu_ns_per_pkt = (blast.sent > 0).then(|| blast.cpu_ns as f64 / blast.sent as f64);
    cell.exhausted = blast.exhausted;
    cell.echoes_checked = blast.echoes_checked;
    cell.echoes_bad = blast.echoes_bad;
}

/// berth's datagrams per syscall, from its port counters.
fn berth_batching(cell: &mut Cell, server: &Running) {
    let stats = server.berth_stats();
    if stats.is_empty() {
        return;
    }
    let sum = |f: fn(&berth::engine::PortStats) -> u64| stats.iter().map(f).sum::<u64>() as f64;
    cell.berth_pkts_per_recv_syscall =
        Some(sum(|s| s.packets_in) / sum(|s| s.recv_syscalls).max(1.0));
    cell.berth_pkts_per_send_syscall =
        Some(sum(|s| s.packets_out) / sum(|s| s.send_syscalls).max(1.0));
}
