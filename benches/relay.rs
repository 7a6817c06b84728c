//! Relay forwarding cost and latency: berth's `RelayServer` against a QUIC
//! relay on quinn (what bones_matchmaker runs on) and a raw-UDP floor, in
//! one run.
//!
//! `cargo bench --bench relay` runs, for R rooms of 4 players (R = 4, 16,
//! 64, 128 by default), reliable and then unreliable, one cell per system.
//! Every player sends `RELAY_BENCH_RATE` (60) messages a second of
//! `RELAY_BENCH_SIZE` (32) bytes, each holding its send time, to the three
//! others in its room through the relay, over loopback. All systems get the
//! same players, rate, size, rooms and measured time; each cell starts a
//! fresh relay, connects and matches everyone, loads for a warm-up, then
//! measures.
//!
//! The floor (`relay/floor_relay.rs`) is a forwarder with no protocol,
//! crypto or reliability on one batched socket, packing a recipient's
//! forwards within a wake as berth does: what the kernel alone costs for
//! this datagram pattern. floor ÷ quic is therefore the highest ratio to
//! QUIC that any relay forwarding within the wake could reach here, printed
//! as the bound under the targets. It does the same work in both modes.
//!
//! Figures per cell:
//!
//! - forwarded messages per server CPU-second: messages the relay queued to
//!   a recipient (one per recipient) over the CPU time of the relay's own
//!   threads (`berth-port-N`; the baseline's `quic-relay`; `floor-relay`), read from
//!   `/proc/self/task/<tid>/schedstat` as `benches/throughput` does, so the
//!   load generator's threads (`relay-*`, `qload-*`, `fload-*`) never count;
//! - added latency p50/p99: receive time minus the send time in the
//!   message, on the players of the first `RELAY_BENCH_PROBE_ROOMS` rooms,
//!   which are driven by their own thread (see `relay/berth_relay.rs`,
//!   `relay/quic_relay.rs` and `relay/floor_relay.rs` for how each side's
//!   players run).
//!
//! Then, unless `RELAY_BENCH_HALF=0`, berth cells (reliable) at half of
//! berth's measured capacity (its best forwarded messages per CPU-second ×
//! ports, which is what its port threads could forward with every
//! core-second theirs), for the latency figures: `RELAY_BENCH_HALF_REPEATS`
//! runs, each followed by a floor cell at the same load (when the floor is
//! among the systems), and the median p99, with the floor's median beside
//! it as the tail this machine adds with no relay work at all. It prints
//! progress,
//! the table with the ratios berth ÷ quic, floor ÷ quic and berth ÷ floor,
//! the targets (berth ÷ floor at least 0.85 at R ≥ 16) and the bound, and
//! writes `results/relay.json`.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `RELAY_BENCH_ROOMS` | `4,16,64,128` | room counts, in order |
//! | `RELAY_BENCH_SECS` | `4` | measured seconds per cell |
//! | `RELAY_BENCH_WARMUP` | `1` | seconds of load before measuring |
//! | `RELAY_BENCH_MODES` | `reliable,unreliable` | which modes |
//! | `RELAY_BENCH_SYSTEMS` | `berth,quic,floor` | which relays |
//! | `RELAY_BENCH_PORTS` | `1` | berth's port threads |
//! | `RELAY_BENCH_RATE` | `60` | messages per player per second |
//! | `RELAY_BENCH_SIZE` | `32` | message bytes (16..=1000) |
//! | `RELAY_BENCH_PROBE_ROOMS` | `2` | rooms giving latency samples |
//! | `RELAY_BENCH_HALF` | `1` | add the half-capacity cells |
//! | `RELAY_BENCH_HALF_REPEATS` | `3` | berth + floor runs at half capacity |
//! | `RELAY_BENCH_MAX_ROOMS` | `256` | most rooms for those cells |
//! | `RELAY_BENCH_OUT` | `results/relay.json` | where the JSON goes |
//!
//! ```text
//! RELAY_BENCH_ROOMS=16,64 RELAY_BENCH_SECS=2 RELAY_BENCH_MODES=reliable cargo bench --bench relay
//! ```

#[path = "relay/berth_relay.rs"]
mod berth_relay;
#[allow(
    dead_code,
    reason = "shared with benches/throughput, which uses all of it"
)]
#[path = "throughput/cpu.rs"]
mod cpu;
#[path = "relay/floor_relay.rs"]
mod floor_relay;
#[path = "relay/load.rs"]
mod load;
#[path = "common/plot.rs"]
mod plot;
#[path = "relay/quic_relay.rs"]
mod quic_relay;
#[path = "relay/report.rs"]
mod report;
#[path = "relay/settings.rs"]
mod settings;

use report::Cell;
use settings::{Settings, System};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// berth's forwarded messages per CPU-second must be at least this share of
/// the raw-UDP floor's.
const FLOOR_TARGET: f64 = 0.85;
/// The smallest room count the floor target is stated for (at R = 4 the
/// relay idles and per-wake costs dominate both).
const FLOOR_TARGET_MIN_ROOMS: usize = 16;

fn main() {
    let settings = Settings::from_env();
    let _ = load::epoch();
    let cells_planned = settings.rooms.len() * settings.modes.len() * settings.systems.len();
    println!(
        "relay: {cells_planned} cells of {:.1} s (+{:.1} s warm-up): rooms {:?} × {} × {}; {} msg/s per player, {} B, berth on {} port(s), quic on 1 current_thread runtime, floor on 1 thread",
        settings.duration.as_secs_f64(),
        settings.warmup.as_secs_f64(),
        settings.rooms,
        mode_names(&settings.modes),
        settings
            .systems
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(","),
        settings.rate,
        settings.size,
        settings.ports,
    );
    let started = Instant::now();
    let mut cells = Vec::new();
    let mut index = 0;
    for &rooms in &settings.rooms {
        for &reliable in &settings.modes {
            for &system in &settings.systems {
                index += 1;
                let label = format!("[{index:>2}/{cells_planned}]");
                if let Some(cell) = run_cell(&settings, &label, system, rooms, reliable) {
                    cells.push(cell);
                }
            }
        }
    }
    let half = half_capacity(&settings, &cells).filter(|_| settings.half_step);
    if let Some(rooms) = half {
        let mut systems = vec![System::Berth];
        if settings.systems.contains(&System::Floor) {
            systems.push(System::Floor);
        }
        for run in 1..=settings.half_repeats {
            for &system in &systems {
                let label = format!("[half {run}/{}]", settings.half_repeats);
                if let Some(mut cell) = run_cell(&settings, &label, system, rooms, true) {
                    cell.half_capacity_cell = true;
                    cells.push(cell);
                }
            }
        }
    }
    println!();
    println!(
        "forwarded messages per second, per server CPU-second, server cores busy, added latency (µs); b÷q, f÷q, b÷f = ratios of fwd/CPU-s (berth, quic, floor)"
    );
    print!("{}", report::table(&cells));
    if half.is_some() {
        println!(
            "(* = first of the cells at half of berth's measured capacity; all of them below)"
        );
        for system in ["berth", "floor"] {
            if let Some(line) = half_line(&cells, system) {
                println!("{line}");
            }
        }
        if let Some(line) = half_dwell_line(&cells) {
            println!("{line}");
        }
    }
    let targets = targets(&settings, &cells);
    println!();
    println!("targets:");
    for target in &targets {
        println!("{}", target.line());
    }
    let bounds = bounds(&settings, &cells);
    for mode in ["reliable", "unreliable"] {
        if let Some(line) = bound_line(&bounds, mode) {
            println!("{line}");
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    match write_json(&settings, &cells, &targets, &bounds) {
        Ok(()) => println!("\nwrote {} in {elapsed:.0} s", settings.out),
        Err(e) => eprintln!("\ncould not write {}: {e}", settings.out),
    }
    let svg = std::path::Path::new(&settings.out).with_extension("svg");
    match plot_cells(&svg, &cells) {
        Ok(()) => println!("wrote {}", svg.display()),
        Err(e) => eprintln!("could not plot {}: {e}", svg.display()),
    }
}

/// Forwarded messages per server CPU-second by room count, one line per
/// relay and mode.
fn plot_cells(path: &std::path::Path, cells: &[Cell]) -> Result<(), Box<dyn std::error::Error>> {
    let mut series: Vec<plot::Series> = Vec::new();
    for system in ["berth", "quic", "floor"] {
        for mode in ["reliable", "unreliable"] {
            let points: Vec<(f64, f64)> = cells
                .iter()
                .filter(|c| c.system == system && c.mode == mode)
                .filter_map(|c| Some((c.rooms as f64, c.forwarded_per_cpu_s?)))
                .collect();
            if !points.is_empty() {
                series.push(plot::Series {
                    label: format!("{system} {mode}"),
                    points,
                });
            }
        }
    }
    plot::lines(
        path,
        &plot::Chart {
            title: "relay: forwarded messages per server CPU-second (higher is better)",
            x: "rooms of four (R)",
            y: "forwards per CPU-second",
            x_names: None,
        },
        &series,
    )
}

/// `reliable,unreliable` or one of them.
fn mode_names(modes: &[bool]) -> String {
    modes
        .iter()
        .map(|&m| if m { "reliable" } else { "unreliable" })
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs one cell and prints its progress line.
fn run_cell(
    settings: &Settings,
    label: &str,
    system: System,
    rooms: usize,
    reliable: bool,
) -> Option<Cell> {
    print!(
        "{label} {:<5} {:<10} R={rooms:<4}: ",
        system.name(),
        if reliable { "reliable" } else { "unreliable" }
    );
    let _ = std::io::stdout().flush();
    let result = match system {
        System::Berth => berth_relay::run(settings, rooms, reliable),
        System::Quic => quic_relay::run(settings, rooms, reliable),
        System::Floor => floor_relay::run(settings, rooms, reliable),
    };
    match result {
        Ok(cell) => {
            println!("{}", cell.progress_line());
            Some(cell)
        }
        Err(e) => {
            println!("failed: {e}");
            None
        }
    }
}

/// berth's capacity in forwarded messages per second: its best forwarded
/// messages per CPU-second (reliable) times its port threads.
fn capacity(settings: &Settings, cells: &[Cell]) -> Option<f64> {
    cells
        .iter()
        .filter(|c| c.system == "berth" && c.mode == "reliable" && !c.half_capacity_cell)
        .filter_map(|c| c.forwarded_per_cpu_s)
        .reduce(f64::max)
        .map(|per_cpu_s| per_cpu_s * f64::from(settings.ports))
}

/// The room count at half of berth's capacity.
fn half_capacity(settings: &Settings, cells: &[Cell]) -> Option<usize> {
    let capacity = capacity(settings, cells)?;
    let per_room = 4.0 * 3.0 * f64::from(settings.rate);
    Some(((capacity / 2.0 / per_room).round() as usize).clamp(1, settings.max_rooms))
}

/// berth's in-relay p99s (kernel arrival to the send that followed) at
/// half capacity and their median: the part of the added latency the relay
/// itself holds a datagram, without the players' side of the machine.
fn half_dwell_line(cells: &[Cell]) -> Option<String> {
    let p99s: Vec<f64> = cells
        .iter()
        .filter(|c| c.half_capacity_cell && c.system == "berth")
        .filter_map(|c| c.dwell_p99_us)
        .collect();
    runs_line("berth in-relay p99 µs (arrival stamp to send)", &p99s)
}

/// The p99s of `system`'s half-capacity cells, in run order.
fn half_p99s(cells: &[Cell], system: &str) -> Vec<f64> {
    cells
        .iter()
        .filter(|c| c.half_capacity_cell && c.system == system)
        .filter_map(|c| c.p99_us)
        .collect()
}

/// The median of `values` (the upper one of an even count).
fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied()
}

/// `system`'s half-capacity p99s and their median, if it ran there.
fn half_line(cells: &[Cell], system: &str) -> Option<String> {
    runs_line(&format!("{system:<5} p99 µs"), &half_p99s(cells, system))
}

/// One printed line of half-capacity figures: each run's, then the median.
fn runs_line(what: &str, values: &[f64]) -> Option<String> {
    let median = median(values)?;
    let runs = values
        .iter()
        .map(|v| format!("{v:.0}"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(format!(
        "  half capacity, {what} by run: {runs}; median {median:.0}"
    ))
}

/// One verdict.
#[derive(Debug, serde::Serialize)]
struct Target {
    /// What is compared.
    what: String,
    /// The measured figure.
    value: Option<f64>,
    /// The limit.
    limit: f64,
    /// Whether the figure must be at least (true) or under (false) the limit.
    at_least: bool,
}

impl Target {
    /// Whether it holds; `None` when not measured.
    fn holds(&self) -> Option<bool> {
        self.value.map(|v| {
            if self.at_least {
                v >= self.limit
            } else {
                v < self.limit
            }
        })
    }

    /// The printed line.
    fn line(&self) -> String {
        let verdict = match self.holds() {
            Some(true) => "HOLDS ",
            Some(false) => "MISSES",
            None => "NOT MEASURED",
        };
        let by = match self.value {
            Some(v) if self.at_least => format!("{:.2}× the limit", v / self.limit),
            Some(v) => format!("{:.0}% of the limit", 100.0 * v / self.limit),
            None => String::new(),
        };
        format!(
            "{verdict:<7} {:<62} {:>9} ({} {}; {by})",
            self.what,
            report::opt(self.value, 2),
            if self.at_least { "at least" } else { "under" },
            self.limit
        )
    }
}

/// `system`'s forwarded messages per CPU-second in the planned (not
/// half-capacity) cell of `mode` at `rooms`, if it ran.
fn planned_per_cpu_s(cells: &[Cell], system: &str, mode: &str, rooms: usize) -> Option<f64> {
    cells
        .iter()
        .find(|c| c.system == system && c.mode == mode && c.rooms == rooms && !c.half_capacity_cell)
        .and_then(|c| c.forwarded_per_cpu_s)
}

/// The targets ("Session core"): berth ÷ floor at every room count from
/// [`FLOOR_TARGET_MIN_ROOMS`], reliable and unreliable. The floor pays only
/// the kernel's per-datagram cost, so this says how much of what the kernel
/// allows berth's own work leaves. (Earlier targets, 4× QUIC and a p99 under
/// 1 ms, were shown below what the floor itself reaches on this machine;
/// PERF.md.)
fn targets(settings: &Settings, cells: &[Cell]) -> Vec<Target> {
    let mut targets = Vec::new();
    for mode in ["reliable", "unreliable"] {
        for &rooms in settings
            .rooms
            .iter()
            .filter(|&&r| r >= FLOOR_TARGET_MIN_ROOMS)
        {
            let per_cpu_s = |system| planned_per_cpu_s(cells, system, mode, rooms);
            let (Some(berth), Some(floor)) = (per_cpu_s("berth"), per_cpu_s("floor")) else {
                continue;
            };
            targets.push(Target {
                what: format!("berth ÷ floor fwd msgs per server CPU-s, {mode}, R={rooms}"),
                value: Some(berth / floor),
                limit: FLOOR_TARGET,
                at_least: true,
            });
        }
    }
    targets
}

/// floor ÷ quic forwarded messages per CPU-second in one mode at one room
/// count: the most berth ÷ quic any relay forwarding within the wake could
/// reach there.
#[derive(Debug, serde::Serialize)]
struct Bound {
    /// `reliable` or `unreliable` (the floor's work is the same in both).
    mode: &'static str,
    /// Rooms of four.
    rooms: usize,
    /// floor ÷ quic.
    floor_over_quic: f64,
}

/// The bounds for every mode and room count with both a floor and a quic cell.
fn bounds(settings: &Settings, cells: &[Cell]) -> Vec<Bound> {
    let mut bounds = Vec::new();
    for mode in ["reliable", "unreliable"] {
        for &rooms in &settings.rooms {
            let per_cpu_s = |system| planned_per_cpu_s(cells, system, mode, rooms);
            if let (Some(floor), Some(quic)) = (per_cpu_s("floor"), per_cpu_s("quic")) {
                bounds.push(Bound {
                    mode,
                    rooms,
                    floor_over_quic: floor / quic,
                });
            }
        }
    }
    bounds
}

/// The printed bound for `mode`, if it was measured.
fn bound_line(bounds: &[Bound], mode: &str) -> Option<String> {
    let figures = bounds
        .iter()
        .filter(|b| b.mode == mode)
        .map(|b| format!("R={} {:.2}", b.rooms, b.floor_over_quic))
        .collect::<Vec<_>>();
    if figures.is_empty() {
        return None;
    }
    Some(format!(
        "BOUND   highest berth ÷ quic any relay with this datagram pattern could reach, {mode} (= floor ÷ quic): {}",
        figures.join(", ")
    ))
}

/// The version of `name` in the workspace's Cargo.lock, if it has one.
fn locked_version(name: &str) -> Option<String> {
    let lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock")).ok()?;
    let needle = format!("name = \"{name}\"\nversion = \"");
    let start = lock.find(&needle)? + needle.len();
    let end = lock[start..].find('"')? + start;
    Some(lock[start..end].to_string())
}

/// Writes the cells, settings, versions, targets and bounds as JSON.
fn write_json(
    settings: &Settings,
    cells: &[Cell],
    targets: &[Target],
    bounds: &[Bound],
) -> std::io::Result<()> {
    let path = Path::new(&settings.out);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let json = serde_json::json!({
        "bench": "relay",
        "settings": {
            "rooms": settings.rooms,
            "secs": settings.duration.as_secs_f64(),
            "warmup_secs": settings.warmup.as_secs_f64(),
            "modes": mode_names(&settings.modes),
            "berth_ports": settings.ports,
            "rate_per_player": settings.rate,
            "message_bytes": settings.size,
            "probe_rooms": settings.probe_rooms,
            "quic_runtime": "tokio current_thread, 1 thread",
            "floor": "raw UDP on one BatchSocket thread, no protocol, same work in both modes",
        },
        "versions": {
            "quinn": locked_version("quinn"),
            "quinn-proto": locked_version("quinn-proto"),
            "rustls": locked_version("rustls"),
            "tokio": locked_version("tokio"),
        },
        "berth_capacity_fwd_per_s": capacity(settings, cells),
        "cells": cells,
        "targets": targets.iter().map(|t| serde_json::json!({
            "what": t.what, "value": t.value, "limit": t.limit,
            "at_least": t.at_least, "holds": t.holds(),
        })).collect::<Vec<_>>(),
        "bounds_floor_over_quic": bounds,
    });
    let text = serde_json::to_string_pretty(&json).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}
