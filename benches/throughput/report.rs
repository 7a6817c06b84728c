//! The results: one [`Cell`] per server × K × payload size, the table, the targets, the JSON.

use super::settings::{Kind, Settings};
use serde::Serialize;
use std::io;
use std::path::Path;

/// What one server did with K clients and one payload size.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Cell {
    /// Server name (`berth-1p`, `renetcode`, ...).
    pub(crate) server: String,
    /// Clients (K).
    pub(crate) clients: usize,
    /// Payload bytes per packet, nominal: lengths cycle over the 8 below it
    /// unless `THROUGHPUT_COALESCE=1`.
    pub(crate) payload_bytes: usize,
    /// Payloads in flight per client.
    pub(crate) window: usize,
    /// Payloads per client per send round.
    pub(crate) burst: usize,
    /// Seconds of load.
    pub(crate) secs: f64,
    /// Payload packets the clients sent.
    pub(crate) sent: u64,
    /// Payloads the server delivered to its application (and echoed).
    pub(crate) delivered: u64,
    /// Echoes the clients received.
    pub(crate) echoed: u64,
    /// Server-received payloads per second.
    pub(crate) recv_pps: f64,
    /// Echoes received by clients per second.
    pub(crate) echo_pps: f64,
    /// Server threads' CPU per delivered payload, ns (receive, open, echo, seal, send).
    pub(crate) server_cpu_ns_per_pkt: Option<f64>,
    /// Server threads' CPU over wall time during the load (1.0 = one core busy).
    pub(crate) server_cores_busy: f64,
    /// Server threads' time runnable but waiting for a CPU, over wall time
    /// during the load: how much the rest of the machine got in the way.
    pub(crate) server_cores_waiting: f64,
    /// Wall time for all K handshakes, ms.
    pub(crate) handshake_ms: Option<f64>,
    /// Server threads' CPU during the handshakes, per client, µs.
    pub(crate) server_cpu_us_per_handshake: Option<f64>,
    /// Load generator's CPU per payload sent, ns, including its spinning
    /// while it waits for echoes (an upper bound on its cost).
    pub(crate) gen_cpu_ns_per_pkt: Option<f64>,
    /// UDP datagrams the kernel dropped on full receive buffers during the
    /// load, machine-wide (so other programs' drops count too).
    pub(crate) udp_rcvbuf_drops: u64,
    /// Server threads found by name (a check that CPU was read from the right ones).
    pub(crate) server_threads: usize,
    /// Whether the packets sealed ahead ran out before the time did.
    pub(crate) exhausted: bool,
    /// Clients whose first echo decrypted to the payload sent.
    pub(crate) echoes_checked: usize,
    /// Clients whose first echo did not.
    pub(crate) echoes_bad: usize,
    /// berth: datagrams per receive syscall, whole run of the server.
    pub(crate) berth_pkts_per_recv_syscall: Option<f64>,
    /// berth: datagrams per send syscall, whole run of the server.
    pub(crate) berth_pkts_per_send_syscall: Option<f64>,
    /// Why the cell has no numbers.
    pub(crate) error: Option<String>,
}

impl Cell {
    /// The progress line printed when the cell is done.
    pub(crate) fn progress_line(&self) -> String {
        if let Some(error) = &self.error {
            return format!("FAILED: {error}");
        }
        let mut line = format!(
            "{:>6.1} kpps in, {:>6.1} echoed, {:>5} ns CPU/pkt ({:.2} cores busy, {:.2} waiting), gen {} ns/pkt",
            self.recv_pps / 1e3,
            self.echo_pps / 1e3,
            fmt(self.server_cpu_ns_per_pkt, 0),
            self.server_cores_busy,
            self.server_cores_waiting,
            fmt(self.gen_cpu_ns_per_pkt, 0),
        );
        if let (Some(rx), Some(tx)) = (
            self.berth_pkts_per_recv_syscall,
            self.berth_pkts_per_send_syscall,
        ) {
            line += &format!(", {rx:.1}/{tx:.1} pkts per recv/send syscall");
        }
        if let (Some(ms), Some(us)) = (self.handshake_ms, self.server_cpu_us_per_handshake) {
            line += &format!("; handshakes {ms:.1} ms, {us:.1} µs CPU each");
        }
        if self.udp_rcvbuf_drops > 0 {
            line += &format!("; {} UDP drops", self.udp_rcvbuf_drops);
        }
        if self.exhausted {
            line += "; sealed packets ran out early";
        }
        if self.echoes_bad > 0 {
            line += &format!("; {} BAD ECHOES", self.echoes_bad);
        }
        line
    }
}

/// One target of the issue, checked on this run's K = 256 cells.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Target {
    /// What is compared.
    pub(crate) name: String,
    /// The measured ratio.
    pub(crate) ratio: Option<f64>,
    /// The most the ratio may be.
    pub(crate) limit: f64,
    /// Whether it holds; `None` when a cell is missing or failed.
    pub(crate) holds: Option<bool>,
}

impl Target {
    fn new(name: String, ratio: Option<f64>, limit: f64) -> Self {
        Self {
            name,
            ratio,
            limit,
            holds: ratio.map(|r| r <= limit),
        }
    }
}

/// The K the targets are stated for.
pub(crate) const TARGET_K: usize = 256;

/// The cell of `server` with `k` clients and `size`-byte payloads, if it ran.
fn find<'a>(cells: &'a [Cell], server: &str, k: usize, size: usize) -> Option<&'a Cell> {
    cells.iter().find(|c| {
        c.server == server && c.clients == k && c.payload_bytes == size && c.error.is_none()
    })
}

/// `metric` of `a` over `metric` of `b`, for cells of the same K and size.
fn ratio(a: Option<&Cell>, b: Option<&Cell>, metric: fn(&Cell) -> Option<f64>) -> Option<f64> {
    let (a, b) = (metric(a?)?, metric(b?)?);
    (b > 0.0).then(|| a / b)
}

fn cpu_per_pkt(c: &Cell) -> Option<f64> {
    c.server_cpu_ns_per_pkt
}

fn cpu_per_handshake(c: &Cell) -> Option<f64> {
    c.server_cpu_us_per_handshake
}

/// The targets ("Session core"), from this run's K = 256 cells: berth
/// against renetcode, and against the raw batched UDP echo (no protocol,
/// no crypto), which is the kernel's floor under every server; and the
/// second port costing at most 10% more per packet than the first.
pub(crate) fn targets(cells: &[Cell]) -> Vec<Target> {
    let at = |server: &str, size: usize| find(cells, server, TARGET_K, size);
    let mut targets = Vec::new();
    for (size, limit) in [(64, 0.90), (1200, 0.70)] {
        targets.push(Target::new(
            format!("berth-1p / renetcode, server CPU per packet, {size} B"),
            ratio(at("berth-1p", size), at("renetcode", size), cpu_per_pkt),
            limit,
        ));
    }
    for (size, limit) in [(64, 1.25), (1200, 1.45)] {
        targets.push(Target::new(
            format!("berth-1p / raw-udp floor, server CPU per packet, {size} B"),
            ratio(at("berth-1p", size), at("raw-udp", size), cpu_per_pkt),
            limit,
        ));
    }
    for size in [64, 1200] {
        targets.push(Target::new(
            format!("berth-2p / berth-1p, server CPU per packet, {size} B"),
            ratio(at("berth-2p", size), at("berth-1p", size), cpu_per_pkt),
            1.1,
        ));
    }
    targets
}

/// `value` with `decimals`, or `-`.
fn fmt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.decimals$}"))
}

/// The table: one row per cell, grouped by K and size, with berth's
/// ratios against renetcode (`÷rnc`) and netcode-official (`÷nc`).
pub(crate) fn table(cells: &[Cell]) -> String {
    let mut out = String::new();
    out += &format!(
        "{:<17} {:>4} {:>5} {:>10} {:>10} {:>11} {:>8} {:>10} {:>8} {:>8} {:>8} {:>8}\n",
        "server",
        "K",
        "size",
        "recv kpps",
        "echo kpps",
        "CPU ns/pkt",
        "hs ms",
        "CPU µs/hs",
        "pkt÷rnc",
        "pkt÷nc",
        "hs÷rnc",
        "hs÷nc"
    );
    let mut last_group = None;
    for cell in cells {
        let group = (cell.clients, cell.payload_bytes);
        if last_group.is_some_and(|g| g != group) {
            out += "\n";
        }
        last_group = Some(group);
        out += &row(cells, cell);
    }
    out
}

fn row(cells: &[Cell], cell: &Cell) -> String {
    let head = format!(
        "{:<17} {:>4} {:>5}",
        cell.server, cell.clients, cell.payload_bytes
    );
    if let Some(error) = &cell.error {
        return format!("{head} FAILED: {error}\n");
    }
    let (k, size) = (cell.clients, cell.payload_bytes);
    let ratios = if cell.server.starts_with("berth") {
        let vs = |peer: &str, metric: fn(&Cell) -> Option<f64>| {
            fmt(ratio(Some(cell), find(cells, peer, k, size), metric), 3)
        };
        [
            vs("renetcode", cpu_per_pkt),
            vs("netcode-official", cpu_per_pkt),
            vs("renetcode", cpu_per_handshake),
            vs("netcode-official", cpu_per_handshake),
        ]
    } else {
        ["".into(), "".into(), "".into(), "".into()]
    };
    format!(
        "{head} {:>10.1} {:>10.1} {:>11} {:>8} {:>10} {:>8} {:>8} {:>8} {:>8}{}\n",
        cell.recv_pps / 1e3,
        cell.echo_pps / 1e3,
        fmt(cell.server_cpu_ns_per_pkt, 0),
        fmt(cell.handshake_ms, 1),
        fmt(cell.server_cpu_us_per_handshake, 1),
        ratios[0],
        ratios[1],
        ratios[2],
        ratios[3],
        if cell.exhausted {
            "  (ran out of sealed packets)"
        } else {
            ""
        },
    )
}

/// The target verdicts, one line each.
pub(crate) fn verdicts(targets: &[Target]) -> String {
    targets
        .iter()
        .map(|t| {
            let verdict = match t.holds {
                Some(true) => "HOLDS",
                Some(false) => "MISSES",
                None => "NOT MEASURED",
            };
            format!(
                "{verdict:<12} {:<55} ratio {} (limit {:.3})\n",
                t.name,
                fmt(t.ratio, 3),
                t.limit
            )
        })
        .collect()
}

/// Everything the run measured, as written to `results/throughput.json`.
#[derive(Debug, Serialize)]
struct Report<'a> {
    command: &'a str,
    settings: SettingsJson,
    machine: Machine,
    cells: &'a [Cell],
    targets: &'a [Target],
}

#[derive(Debug, Serialize)]
struct SettingsJson {
    secs_per_cell: f64,
    clients: Vec<usize>,
    payload_bytes: Vec<usize>,
    servers: Vec<String>,
    in_flight: usize,
    preseal_mib: usize,
    coalesce: bool,
}

#[derive(Debug, Serialize)]
struct Machine {
    cpus: usize,
    loadavg_at_end: String,
}

/// Writes the report to `path`, making its folder.
///
/// # Errors
///
/// When the folder or file cannot be written.
pub(crate) fn write_json(
    path: &Path,
    settings: &Settings,
    cells: &[Cell],
    targets: &[Target],
) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let report = Report {
        command: "cargo bench --bench throughput",
        settings: SettingsJson {
            secs_per_cell: settings.duration.as_secs_f64(),
            clients: settings.clients.clone(),
            payload_bytes: settings.sizes.clone(),
            servers: settings.kinds.iter().map(|k| Kind::name(*k)).collect(),
            in_flight: settings.in_flight,
            preseal_mib: settings.preseal_bytes >> 20,
            coalesce: settings.coalesce,
        },
        machine: Machine {
            cpus: std::thread::available_parallelism().map_or(0, usize::from),
            loadavg_at_end: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .trim()
                .into(),
        },
        cells,
        targets,
    };
    let json = serde_json::to_string_pretty(&report).map_err(io::Error::other)?;
    std::fs::write(path, json + "\n")
}
