//! One cell against berth's relay: a `RelayServer` on its port threads
//! (`berth-port-N`), players as `berth::relay::RelayClient`s on two threads of
//! this harness.
//!
//! - `relay-load` drives the bulk players like a game at `rate` frames per
//!   second: on each pass, for every player whose frame has come (frames
//!   spread evenly over the frame time), it calls `receive` (read, run
//!   timers, send nothing), queues one message for all others, and then
//!   flushes those players back to back, so each message carries the
//!   player's acks. Its receive times are late by up to a frame, so it
//!   gives no latency samples.
//! - `relay-probe` drives the probe rooms the same way, but receives on
//!   every probe player about every 50 µs (sleeps, not spins). Its latency
//!   samples include that polling delay (tens of µs): berth's figures are
//!   slightly pessimistic.
//!
//! Flushing a pass's players back to back, after their receive work (in
//! the floor's generator too, `load::drive`), keeps the generator's other
//! work from spacing out the datagrams the relay sees.

use super::load::{self, Player, Shared};
use super::report::Cell;
use super::settings::Settings;
use berth::Key;
use berth::engine::{LatencyHistogram, ServerConfig};
use berth::relay::{self, MatchInfo, RelayClient, RelayConfig, RelayEvent, RelayServer, Target};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

/// Prefix of berth's port threads' names.
const SERVER_THREADS: &str = "berth-port-";
/// How long connecting and matching all players may take.
const SETUP_LIMIT: Duration = Duration::from_secs(30);

/// Runs one cell: `rooms` rooms of four, reliable or not.
///
/// # Errors
///
/// A description when the relay cannot bind or the players cannot all be
/// connected and matched in time.
pub(crate) fn run(settings: &Settings, rooms: usize, reliable: bool) -> Result<Cell, String> {
    let players = rooms * 4;
    let probe_players = settings.probe_rooms.min(rooms) * 4;
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        relay::protocol_id(),
        Key::from_bytes([0x5a; 32]),
    )
    .ports(settings.ports)
    .max_clients_per_port(players + 16)
    .requests_per_source(1000);
    let server =
        RelayServer::bind(config, RelayConfig::default()).map_err(|e| format!("bind: {e}"))?;

    let mut clients = Vec::with_capacity(players);
    let start = Instant::now();
    for i in 0..players {
        let mut client = RelayClient::bind("127.0.0.1:0".parse().map_err(|e| format!("{e}"))?)
            .map_err(|e| format!("client bind: {e}"))?;
        let token = server
            .issue_token(1000 + i as u64)
            .map_err(|e| format!("token: {e}"))?;
        client.connect(start, token);
        clients.push(client);
    }
    setup(&mut clients, probe_players)?;

    let shared = Arc::new(Shared::default());
    let frame = settings.frame();
    let mut all = load::players(clients, frame);
    let bulk = all.split_off(probe_players);
    let probes = all;
    let size = settings.size;
    let threads =
        [("relay-probe", probes, true), ("relay-load", bulk, false)].map(|(name, group, probe)| {
            let shared = shared.clone();
            thread::Builder::new()
                .name(name.into())
                .spawn(move || drive(group, probe, reliable, size, frame, &shared))
        });

    let mut cell = Cell::new("berth", rooms, reliable, settings);
    thread::sleep(settings.warmup);
    let before = PortTotals::read(&server);
    cell.measure(settings, &shared, SERVER_THREADS, "relay-", || {
        server.stats().forwarded
    });
    let after = PortTotals::read(&server);
    let fwd = cell.forwarded.max(1) as f64;
    cell.datagrams_out_per_fwd = Some((after.packets_out - before.packets_out) as f64 / fwd);
    cell.datagrams_in_per_sent =
        Some((after.packets_in - before.packets_in) as f64 / cell.sent.max(1) as f64);
    cell.datagrams_per_send_syscall = Some(
        (after.packets_out - before.packets_out) as f64
            / (after.send_syscalls - before.send_syscalls).max(1) as f64,
    );
    cell.datagrams_in_per_wake = Some(
        (after.packets_in - before.packets_in) as f64 / (after.wakes - before.wakes).max(1) as f64,
    );
    cell.resends = Some(after.resends.saturating_sub(before.resends));
    let dwell = after.dwell.since(&before.dwell);
    let micros = |q| dwell.quantile(q).map(|d| d.as_secs_f64() * 1e6);
    cell.dwell_p50_us = micros(0.5);
    cell.dwell_p99_us = micros(0.99);

    shared.stop.store(true, Ordering::Relaxed);
    let mut players = Vec::new();
    for thread in threads {
        match thread {
            Ok(handle) => players.extend(handle.join().unwrap_or_default()),
            Err(e) => return Err(format!("spawn: {e}")),
        }
    }
    let now = Instant::now();
    for player in &mut players {
        player.io.disconnect(now);
    }
    drop(players);
    cell.dropped = server.stats().dropped;
    let _ = server.shutdown();
    Ok(cell)
}

/// berth's port counters summed over ports (published every 100 ms).
#[derive(Debug, Default)]
struct PortTotals {
    /// Datagrams received.
    packets_in: u64,
    /// Datagrams sent.
    packets_out: u64,
    /// Send syscalls.
    send_syscalls: u64,
    /// Wakes of the port threads.
    wakes: u64,
    /// Reliable resends to the connected peers.
    resends: u64,
    /// How long datagrams waited in the ports.
    dwell: LatencyHistogram,
}

impl PortTotals {
    /// Reads them from a running relay.
    fn read(server: &RelayServer) -> Self {
        let mut totals = Self::default();
        for port in server.server().stats() {
            totals.packets_in += port.packets_in;
            totals.packets_out += port.packets_out;
            totals.send_syscalls += port.send_syscalls;
            totals.wakes += port.wakes;
            totals.dwell.merge(&port.dwell);
            totals.resends += port
                .peer_channels
                .iter()
                .map(|(_, c)| c.resends)
                .sum::<u64>();
        }
        totals
    }
}

/// Connects every client, then asks each for a match: the first
/// `probe_players` on their own match data so that they share rooms only
/// with each other.
fn setup(clients: &mut [RelayClient], probe_players: usize) -> Result<(), String> {
    let deadline = Instant::now() + SETUP_LIMIT;
    let mut asked = vec![false; clients.len()];
    let mut matched = vec![false; clients.len()];
    while matched.iter().any(|m| !m) {
        if Instant::now() > deadline {
            let connected = clients.iter().filter(|c| c.is_connected()).count();
            let done = matched.iter().filter(|m| **m).count();
            return Err(format!(
                "setup timed out: {connected} of {} connected, {done} matched",
                clients.len()
            ));
        }
        let now = Instant::now();
        for (i, client) in clients.iter_mut().enumerate() {
            client.update(now);
            if client.is_connected() && !asked[i] {
                let data: &[u8] = if i < probe_players { b"probe" } else { b"bulk" };
                let info = MatchInfo {
                    player_count: 4,
                    match_data: data.to_vec(),
                };
                asked[i] = client.request_match(&info).is_ok();
            }
            while let Some(event) = client.poll_event() {
                match event {
                    RelayEvent::Matched { .. } => matched[i] = true,
                    RelayEvent::Error(e) => return Err(format!("match refused: {e:?}")),
                    _ => {}
                }
            }
        }
        thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// A load thread's loop; returns its players for a clean disconnect.
fn drive(
    mut players: Vec<Player<RelayClient>>,
    probe: bool,
    reliable: bool,
    size: usize,
    frame: Duration,
    shared: &Shared,
) -> Vec<Player<RelayClient>> {
    let mut buf = vec![0u8; size];
    load::drive(
        &mut players,
        probe,
        frame,
        shared,
        |player, samples| {
            let client = &mut player.io;
            client.receive(Instant::now());
            drain(client, probe, samples, shared);
        },
        |player| {
            load::message(&mut buf, player.id);
            let ok = player.io.send_to(Target::AllOthers, &buf, reliable).is_ok();
            shared.count_send(ok);
        },
        |player| player.io.flush(Instant::now()),
    );
    players
}

/// Takes a client's events; probes keep the latency of each message.
fn drain(client: &mut RelayClient, probe: bool, samples: &mut Vec<u64>, shared: &Shared) {
    let received_ns = load::now_ns();
    let mut n = 0;
    while let Some(event) = client.poll_event() {
        if let RelayEvent::Received { data, .. } = event {
            n += 1;
            if probe {
                samples.extend(load::latency(&data, received_ns));
            }
        }
    }
    shared.count_received(n);
}
