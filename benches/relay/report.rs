//! The results: one [`Cell`] per relay × mode × room count, the table, the JSON.

use super::cpu;
use super::load::Shared;
use super::settings::Settings;
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// What one relay did with one room count in one mode.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Cell {
    /// `berth`, `quic` or `floor`.
    pub(crate) system: String,
    /// `reliable` or `unreliable`.
    pub(crate) mode: String,
    /// Rooms of four players.
    pub(crate) rooms: usize,
    /// Players (4 per room).
    pub(crate) players: usize,
    /// Rooms whose players gave the latency samples.
    pub(crate) probe_rooms: usize,
    /// Whether this cell was added at half of berth's measured capacity.
    pub(crate) half_capacity_cell: bool,
    /// Seconds measured.
    pub(crate) secs: f64,
    /// Messages per second the players were asked to send (players × rate).
    pub(crate) offered_per_s: f64,
    /// Messages the players handed to their transport while measured.
    pub(crate) sent: u64,
    /// Sends refused by the transport while measured.
    pub(crate) send_errors: u64,
    /// Messages the players received while measured.
    pub(crate) received: u64,
    /// Messages the server wrote to a player (one per recipient) while measured.
    pub(crate) forwarded: u64,
    /// `forwarded` per second.
    pub(crate) forwarded_per_s: f64,
    /// Server threads' CPU while measured, seconds.
    pub(crate) server_cpu_s: f64,
    /// Forwarded messages per server CPU-second: the figure compared.
    pub(crate) forwarded_per_cpu_s: Option<f64>,
    /// Server threads' CPU over wall time (1.0 = one core busy).
    pub(crate) server_cores_busy: f64,
    /// Server threads' time runnable but waiting for a CPU, over wall time.
    pub(crate) server_cores_waiting: f64,
    /// Load generator threads' CPU over wall time.
    pub(crate) load_cores_busy: f64,
    /// Latency samples (probe players' received messages).
    pub(crate) samples: usize,
    /// Added latency, median, µs.
    pub(crate) p50_us: Option<f64>,
    /// Added latency, 99th percentile, µs.
    pub(crate) p99_us: Option<f64>,
    /// Added latency, maximum, µs.
    pub(crate) max_us: Option<f64>,
    /// Messages the relay dropped over the whole cell (berth's counter; 0 for the others).
    pub(crate) dropped: u64,
    /// berth: datagrams its ports sent per forwarded message (data and acks);
    /// floor: datagrams it queued per forwarded message.
    pub(crate) datagrams_out_per_fwd: Option<f64>,
    /// berth and floor: datagrams received per message the players sent.
    pub(crate) datagrams_in_per_sent: Option<f64>,
    /// berth: datagrams per send syscall.
    pub(crate) datagrams_per_send_syscall: Option<f64>,
    /// berth and floor: datagrams received per wake of the server thread
    /// (how much each wake batches).
    pub(crate) datagrams_in_per_wake: Option<f64>,
    /// berth: reliable resends by its ports while measured.
    pub(crate) resends: Option<u64>,
    /// berth: median time a datagram waited in the relay, from the
    /// kernel's arrival stamp to the end of the send that followed its
    /// handling (`PortStats::dwell`), µs.
    pub(crate) dwell_p50_us: Option<f64>,
    /// berth: the same, 99th percentile.
    pub(crate) dwell_p99_us: Option<f64>,
    /// Share of the machine's CPU time the hypervisor stole while measured,
    /// percent: a virtual CPU that wants to run and cannot.
    pub(crate) steal_pct: Option<f64>,
    /// Server threads found by name (a check that CPU was read from the right ones).
    pub(crate) server_threads: usize,
    /// UDP datagrams the kernel dropped on full receive buffers while
    /// measured, machine-wide.
    pub(crate) udp_rcvbuf_drops: u64,
}

/// Counters read at the start of the measured window.
#[derive(Debug)]
pub(crate) struct Window {
    /// When the window opened.
    started: Instant,
    /// Server threads' CPU, ns.
    server_ns: u64,
    /// Server threads' wait for a CPU, ns.
    wait_ns: u64,
    /// Load threads' CPU, ns.
    load_ns: u64,
    /// Machine-wide UDP receive buffer drops.
    drops: u64,
    /// The machine's stolen and total CPU ticks.
    ticks: (u64, u64),
}

/// The machine's CPU time in clock ticks, as `(stolen, all)`: the `steal`
/// column of `/proc/stat` (time the hypervisor ran something else while a
/// virtual CPU wanted to run) and the sum of every column.
fn machine_ticks() -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return (0, 0);
    };
    let Some(cpu) = stat.lines().find(|line| line.starts_with("cpu ")) else {
        return (0, 0);
    };
    let ticks: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    (ticks.get(7).copied().unwrap_or(0), ticks.iter().sum())
}

impl Window {
    /// Reads the counters of the server threads (`server`) and load threads (`load`).
    pub(crate) fn open(server: &str, load: &str) -> Self {
        Self {
            started: Instant::now(),
            server_ns: cpu::threads_ns(server),
            wait_ns: cpu::threads_wait_ns(server),
            load_ns: cpu::threads_ns(load),
            drops: cpu::udp_rcvbuf_errors(),
            ticks: machine_ticks(),
        }
    }

    /// Reads them again and fills in `cell`'s figures for the window.
    pub(crate) fn close(self, cell: &mut Cell, server: &str, load: &str, shared: &Shared) {
        let secs = self.started.elapsed().as_secs_f64();
        let server_ns = cpu::threads_ns(server).saturating_sub(self.server_ns);
        let wait_ns = cpu::threads_wait_ns(server).saturating_sub(self.wait_ns);
        let load_ns = cpu::threads_ns(load).saturating_sub(self.load_ns);
        cell.secs = secs;
        cell.server_threads = cpu::thread_count(server);
        cell.server_cpu_s = server_ns as f64 / 1e9;
        cell.server_cores_busy = cell.server_cpu_s / secs;
        cell.server_cores_waiting = wait_ns as f64 / 1e9 / secs;
        cell.load_cores_busy = load_ns as f64 / 1e9 / secs;
        cell.udp_rcvbuf_drops = cpu::udp_rcvbuf_errors().saturating_sub(self.drops);
        let (stolen, all) = machine_ticks();
        let all = all.saturating_sub(self.ticks.1);
        cell.steal_pct =
            (all > 0).then(|| 100.0 * stolen.saturating_sub(self.ticks.0) as f64 / all as f64);
        cell.sent = shared.sent.load(Ordering::Relaxed);
        cell.send_errors = shared.send_errors.load(Ordering::Relaxed);
        cell.received = shared.received.load(Ordering::Relaxed);
    }
}

impl Cell {
    /// An empty cell for `system` with `rooms` rooms.
    pub(crate) fn new(system: &str, rooms: usize, reliable: bool, settings: &Settings) -> Self {
        Self {
            system: system.into(),
            mode: if reliable { "reliable" } else { "unreliable" }.into(),
            rooms,
            players: rooms * 4,
            probe_rooms: settings.probe_rooms.min(rooms),
            offered_per_s: (rooms * 4) as f64 * f64::from(settings.rate),
            ..Self::default()
        }
    }

    /// Measures for the configured time: opens the players' counting, reads
    /// the server's forward counter through `forwarded` at both ends, and
    /// fills in the CPU, rate and latency figures.
    pub(crate) fn measure(
        &mut self,
        settings: &Settings,
        shared: &Shared,
        server: &str,
        load: &str,
        forwarded: impl Fn() -> u64,
    ) {
        let window = Window::open(server, load);
        let forwarded0 = forwarded();
        shared.measuring.store(true, Ordering::Relaxed);
        std::thread::sleep(settings.duration);
        shared.measuring.store(false, Ordering::Relaxed);
        self.forwarded = forwarded().saturating_sub(forwarded0);
        window.close(self, server, load, shared);
        self.forwarded_per_s = self.forwarded as f64 / self.secs;
        self.forwarded_per_cpu_s =
            (self.server_cpu_s > 0.0).then(|| self.forwarded as f64 / self.server_cpu_s);
        let mut latencies = std::mem::take(&mut *shared.latencies.lock());
        latencies.sort_unstable();
        self.samples = latencies.len();
        self.p50_us = percentile(&latencies, 0.50);
        self.p99_us = percentile(&latencies, 0.99);
        self.max_us = latencies.last().map(|&ns| ns as f64 / 1e3);
    }

    /// The one line printed when the cell is done.
    pub(crate) fn progress_line(&self) -> String {
        format!(
            "{:>9.0} fwd/s ({:.0}% of offered×3), server {:.2} cores (+{:.2} waiting), {} fwd/CPU-s, p50 {} µs, p99 {} µs, load gen {:.2} cores, steal {}%{}{}",
            self.forwarded_per_s,
            100.0 * self.forwarded_per_s / (3.0 * self.offered_per_s),
            self.server_cores_busy,
            self.server_cores_waiting,
            opt(self.forwarded_per_cpu_s, 0),
            opt(self.p50_us, 0),
            opt(self.p99_us, 0),
            self.load_cores_busy,
            opt(self.steal_pct, 1),
            match (self.datagrams_out_per_fwd, self.datagrams_in_per_sent) {
                (Some(out), Some(inn)) => format!(
                    ", dgrams out/fwd {out:.2} in/msg {inn:.2} in/wake {} per sendmmsg {}, resends {}, in-relay p50/p99 {}/{} µs",
                    opt(self.datagrams_in_per_wake, 2),
                    opt(self.datagrams_per_send_syscall, 1),
                    opt(self.resends.map(|r| r as f64), 0),
                    opt(self.dwell_p50_us, 0),
                    opt(self.dwell_p99_us, 0)
                ),
                _ => String::new(),
            },
            if self.send_errors > 0 {
                format!(", {} sends refused", self.send_errors)
            } else {
                String::new()
            }
        )
    }
}

/// The `q` quantile of sorted nanoseconds, in µs.
fn percentile(sorted: &[u64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).map(|&ns| ns as f64 / 1e3)
}

/// A figure with `decimals`, or `-`.
pub(crate) fn opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.decimals$}"))
}

/// The final table: per mode and room count, berth, quic and the floor
/// side by side, and the ratios of their forwarded messages per CPU-second.
pub(crate) fn table(cells: &[Cell]) -> String {
    let side_header = |name: &str| {
        format!(
            "{:>8} {:>9} {:>5} {:>6} {:>6}",
            format!("{name}/s"),
            "fwd/CPU-s",
            "cores",
            "p50µs",
            "p99µs"
        )
    };
    let mut out = format!(
        "{:<11} {:>4} {:>5} | {} | {} | {} | {:>5} {:>5} {:>5}\n",
        "mode",
        "R",
        "plyrs",
        side_header("berth"),
        side_header("quic"),
        side_header("floor"),
        "b÷q",
        "f÷q",
        "b÷f"
    );
    let mut keys: Vec<(String, usize, bool)> = Vec::new();
    for cell in cells {
        let key = (cell.mode.clone(), cell.rooms, cell.half_capacity_cell);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for key in keys {
        let find = |system: &str| {
            cells.iter().find(|c| {
                c.system == system
                    && c.mode == key.0
                    && c.rooms == key.1
                    && c.half_capacity_cell == key.2
            })
        };
        let (berth, quic, floor) = (find("berth"), find("quic"), find("floor"));
        let side = |cell: Option<&Cell>| match cell {
            Some(c) => format!(
                "{:>8.0} {:>9} {:>5.2} {:>6} {:>6}",
                c.forwarded_per_s,
                opt(c.forwarded_per_cpu_s, 0),
                c.server_cores_busy,
                opt(c.p50_us, 0),
                opt(c.p99_us, 0)
            ),
            None => format!("{:>8} {:>9} {:>5} {:>6} {:>6}", "-", "-", "-", "-", "-"),
        };
        let ratio = |top: Option<&Cell>, bottom: Option<&Cell>| match (
            top.and_then(|c| c.forwarded_per_cpu_s),
            bottom.and_then(|c| c.forwarded_per_cpu_s),
        ) {
            (Some(t), Some(b)) if b > 0.0 => format!("{:.2}", t / b),
            _ => "-".into(),
        };
        let mode = if key.2 {
            format!("{}*", key.0)
        } else {
            key.0.clone()
        };
        out.push_str(&format!(
            "{:<11} {:>4} {:>5} | {} | {} | {} | {:>5} {:>5} {:>5}\n",
            mode,
            key.1,
            key.1 * 4,
            side(berth),
            side(quic),
            side(floor),
            ratio(berth, quic),
            ratio(floor, quic),
            ratio(berth, floor)
        ));
    }
    out
}
