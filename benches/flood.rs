//! Flood: 64 players keep playing while hostile traffic floods the server.
//!
//! A 2-port berth server echoes every message on the port threads. 64
//! players send an unreliable message 60 times a second each and time the
//! echoes. Meanwhile flood threads send, as fast as the machine lets them,
//! from 256 sockets on 127.0.0.0/8 (64 addresses, 4 ports each):
//! - connection requests with forged tokens (1,078 bytes, the largest
//!   datagram the protocol answers);
//! - bytes that are no packet at all;
//! - spoofed payload packets.
//!
//! Everything goes to loopback, is bounded in time (`FLOOD_SECS`, default
//! 10 s of flood after 2 s of calm) and stops by itself. `FLOOD_THREADS`
//! (default 1) sets how many threads flood: on 2 cores, one floods while
//! the server and the players share the other.
//!
//! It reports the players' delivery ratio and added latency in the calm
//! and under the flood, the flood's rate, and what the server dropped and
//! why. Target: at least 99% of the messages delivered under the flood.
//! Results go to `results/flood.json` (`FLOOD_OUT`).

use berth::Key;
use berth::engine::{BatchSocket, Client, Context, Handler, PeerId, Server, ServerConfig};
use berth::proto::channel::{ChannelId, standard};
use berth::proto::server::DropReason;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PROTOCOL_ID: u64 = 0xf100_d000_0000_0001;
const KEY: [u8; 32] = [0xf1; 32];
const PLAYERS: usize = 64;
const RATE_HZ: u32 = 60;
const CALM: Duration = Duration::from_secs(2);
/// Source addresses of the flood: 127.77.0.1 ..= 127.77.0.64, 4 sockets each.
const FLOOD_ADDRS: u8 = 64;
const SOCKETS_PER_ADDR: usize = 4;
/// Target: messages delivered under the flood.
const DELIVERY_TARGET: f64 = 0.99;

/// Echoes every message back on the port's thread.
struct Echo;

impl Handler for Echo {
    fn message(&mut self, ctx: &mut Context<'_>, peer: PeerId, channel: ChannelId, bytes: &[u8]) {
        let _ = ctx.send(peer, channel, bytes);
    }
}

/// Sent, echoed and latency samples of one phase.
#[derive(Debug, Default)]
struct Phase {
    sent: u64,
    received: u64,
    latencies_us: Vec<u64>,
}

impl Phase {
    fn ratio(&self) -> f64 {
        self.received as f64 / self.sent.max(1) as f64
    }

    fn quantile(&mut self, q: f64) -> u64 {
        self.latencies_us.sort_unstable();
        let n = self.latencies_us.len();
        if n == 0 {
            return 0;
        }
        self.latencies_us[((q * n as f64) as usize).min(n - 1)]
    }
}

/// Flood thread `thread` of `threads`: floods `targets` from its share of
/// the sockets until `stop`, counting datagrams handed to the kernel.
fn flood(
    (thread, threads): (usize, usize),
    targets: Vec<SocketAddr>,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) {
    let mut sockets = Vec::new();
    for a in 1..=FLOOD_ADDRS {
        if usize::from(a) % threads != thread {
            continue;
        }
        for _ in 0..SOCKETS_PER_ADDR {
            let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 77, 0, a), 0));
            if let Ok(socket) = BatchSocket::bind(addr) {
                sockets.push(socket);
            }
        }
    }
    let mut request = vec![0u8; 1078]; // prefix 0: a connection request
    let mut state = 0x1234_5678_9abc_def0u64 ^ thread as u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    while !stop.load(Ordering::Relaxed) {
        for socket in &mut sockets {
            for target in &targets {
                // A request whose token is noise (version and protocol id right).
                request[1..14].copy_from_slice(b"NETCODE 1.02\0");
                request[14..22].copy_from_slice(&PROTOCOL_ID.to_le_bytes());
                request[22..30].copy_from_slice(&u64::MAX.to_le_bytes()); // far future expiry
                for b in request[30..].iter_mut().step_by(61) {
                    *b = next() as u8;
                }
                socket.queue(*target, &request);
                // No packet at all, and a payload from nobody connected.
                let noise = next().to_le_bytes();
                socket.queue(*target, &noise[..1 + (noise[0] as usize % 8)]);
                let mut payload = [0u8; 64];
                payload[0] = 0x35; // a payload packet with a 3-byte sequence
                payload[1..9].copy_from_slice(&next().to_le_bytes());
                socket.queue(*target, &payload);
            }
            if let Ok(n) = socket.flush() {
                sent.fetch_add(n, Ordering::Relaxed);
            }
            // What the socket would not take is dropped: a flood does not queue.
            while socket.pending() > 0 {
                if socket.flush().unwrap_or(0) == 0 {
                    break;
                }
            }
        }
    }
}

/// Drives the players for `length`: each sends a timestamped message at
/// its frame and takes its echoes.
fn play(players: &mut [Client], epoch: Instant, length: Duration) -> Phase {
    let mut phase = Phase::default();
    let frame = Duration::from_secs(1) / RATE_HZ;
    let n = players.len() as u32;
    let start = Instant::now();
    let mut next_send: Vec<Instant> = (0..n).map(|i| start + frame * i / n).collect();
    let stop = start + length;
    // Echoes of messages sent in this phase only; a straggler from the
    // last frame may still arrive after `stop`, so allow it a moment.
    let drain_until = stop + Duration::from_millis(200);
    loop {
        let now = Instant::now();
        if now >= drain_until {
            break;
        }
        for (i, player) in players.iter_mut().enumerate() {
            player.receive(now);
            while let Some(message) = player.recv() {
                let Some(stamp) = message.bytes.get(..8) else {
                    continue;
                };
                let sent_at = u64::from_le_bytes(stamp.try_into().unwrap_or([0; 8]));
                let sent_at = epoch + Duration::from_nanos(sent_at);
                if sent_at >= start {
                    phase.received += 1;
                    phase
                        .latencies_us
                        .push(now.saturating_duration_since(sent_at).as_micros() as u64);
                }
            }
            if now < stop && now >= next_send[i] {
                next_send[i] += frame;
                let mut message = [0u8; 32];
                let stamp = now.duration_since(epoch).as_nanos() as u64;
                message[..8].copy_from_slice(&stamp.to_le_bytes());
                if player.send(now, standard::UNRELIABLE, &message).is_ok() {
                    phase.sent += 1;
                }
            }
            player.flush(now);
        }
        if let Some(first) = players.first_mut() {
            let _ = first.wait(Instant::now() + Duration::from_micros(500));
        }
    }
    phase
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let secs: u64 = std::env::var("FLOOD_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let flood_threads: usize = std::env::var("FLOOD_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let out_path = std::path::PathBuf::from(
        std::env::var("FLOOD_OUT").unwrap_or_else(|_| "results/flood.json".into()),
    );
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        PROTOCOL_ID,
        Key::from_bytes(KEY),
    )
    .ports(2)
    .max_clients_per_port(64);
    let server = Server::bind_with_handler(config, |_| Echo).expect("bind the server");
    let targets = server.local_addrs().to_vec();

    let mut players: Vec<Client> = (0..PLAYERS)
        .map(|i| {
            let token = server.issue_token(i as u64 + 1, [0; 256]).expect("a token");
            let mut client = Client::bind("127.0.0.1:0".parse().unwrap()).expect("a client socket");
            client.connect(Instant::now(), token);
            client
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !players.iter().all(Client::is_connected) {
        assert!(Instant::now() < deadline, "players did not connect");
        for player in &mut players {
            player.update(Instant::now());
        }
        let _ = players[0].wait(Instant::now() + Duration::from_millis(1));
    }
    println!(
        "{PLAYERS} players connected to {targets:?}; {} s calm, then {secs} s of flood",
        CALM.as_secs()
    );

    let epoch = Instant::now();
    let mut calm = play(&mut players, epoch, CALM);
    let before = server.stats();

    let stop = Arc::new(AtomicBool::new(false));
    let flooded = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..flood_threads)
        .map(|t| {
            let (targets, stop, flooded) = (targets.clone(), stop.clone(), flooded.clone());
            std::thread::Builder::new()
                .name(format!("flood-{t}"))
                .spawn(move || flood((t, flood_threads), targets, stop, flooded))
                .expect("a flood thread")
        })
        .collect();
    let flood_start = Instant::now();
    let mut under = play(&mut players, epoch, Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let flood_secs = flood_start.elapsed().as_secs_f64();
    for thread in threads {
        let _ = thread.join();
    }
    // The ports publish their counters every 100 ms.
    std::thread::sleep(Duration::from_millis(250));
    let after = server.stats();
    let flood_rate = flooded.load(Ordering::Relaxed) as f64 / flood_secs;
    let received: u64 = after.iter().map(|p| p.packets_in).sum::<u64>()
        - before.iter().map(|p| p.packets_in).sum::<u64>();
    let mut drops = Vec::new();
    for reason in DropReason::ALL {
        let n: u64 = after
            .iter()
            .map(|p| p.protocol.dropped(reason))
            .sum::<u64>()
            - before
                .iter()
                .map(|p| p.protocol.dropped(reason))
                .sum::<u64>();
        if n > 0 {
            drops.push((format!("{reason:?}"), n));
        }
    }
    let handshakes: u64 = after.iter().map(|p| p.protocol.connects).sum::<u64>()
        - before.iter().map(|p| p.protocol.connects).sum::<u64>();

    let report = |name: &str, phase: &mut Phase| {
        let (p50, p99) = (phase.quantile(0.5), phase.quantile(0.99));
        println!(
            "{name:>6}: {} sent, {} echoed ({:.3}%), round trip p50 {p50} µs, p99 {p99} µs",
            phase.sent,
            phase.received,
            100.0 * phase.ratio()
        );
        serde_json::json!({
            "sent": phase.sent, "echoed": phase.received, "ratio": phase.ratio(),
            "rtt_p50_us": p50, "rtt_p99_us": p99,
        })
    };
    let calm_json = report("calm", &mut calm);
    let flood_json = report("flood", &mut under);
    println!(
        "flood: {:.0} datagrams/s handed to the kernel for {flood_secs:.1} s; the server read {:.0}/s; handshakes completed {handshakes}",
        flood_rate,
        received as f64 / flood_secs
    );
    println!("server drops under the flood: {drops:?}");
    let verdict = if under.ratio() >= DELIVERY_TARGET {
        "HOLDS "
    } else {
        "MISSES"
    };
    println!(
        "\ntarget:\n{verdict}  delivery under the flood {:.3}% (at least {:.0}%)",
        100.0 * under.ratio(),
        100.0 * DELIVERY_TARGET
    );
    let json = serde_json::json!({
        "players": PLAYERS, "rate_hz": RATE_HZ, "flood_secs": flood_secs,
        "flood_datagrams_per_s": flood_rate, "server_read_per_s": received as f64 / flood_secs,
        "handshakes_completed": handshakes, "calm": calm_json, "flood": flood_json,
        "drops": drops.iter().map(|(r, n)| serde_json::json!({ "reason": r, "count": n })).collect::<Vec<_>>(),
    });
    if let Some(dir) = out_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(
        &out_path,
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    ) {
        Ok(()) => println!("wrote {}", out_path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", out_path.display()),
    }
    drop(players);
    let _ = server.shutdown();
}
