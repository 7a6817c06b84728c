//! One cell against the QUIC baseline: a minimal room forwarder on quinn,
//! the way bones_matchmaker relays (one QUIC connection per player).
//!
//! Server (`quic-relay`, one thread, tokio `current_thread` runtime): rooms
//! are assigned by connection order, four per room. Per player it keeps one
//! long-lived unidirectional stream from the player (length-prefixed
//! frames: `u16` length, then the message) and opens one long-lived
//! unidirectional stream to the player (frames of `u16` length, sender
//! seat, message), written by one task per player that coalesces whatever
//! is queued into one write. Unreliable messages are QUIC datagrams both
//! ways (the seat byte first on the way out). Each message read is queued
//! to the other three players of its room; that is one "forwarded".
//! (bones_matchmaker opens a new stream per message; one stream per player
//! is cheaper, so the baseline here is the kinder one.)
//!
//! Why one `current_thread` runtime: berth runs here on one port thread,
//! and the figure compared is messages per CPU-second, so each relay gets
//! one thread; a multi-thread runtime adds work-stealing and cross-thread
//! wakes to the same work.
//!
//! Players: one client endpoint (one UDP socket) per group on its own
//! `current_thread` runtime: `qload-probe` for the probe rooms, connected
//! first so that they fill the first rooms, and `qload-bulk` for the rest.
//! Each player sends one message every frame (tokio interval, start spread
//! over the frame, missed ticks skipped) and reads event-driven.

use super::load::{self, Shared};
use super::report::Cell;
use super::settings::Settings;
use bytes::{BufMut, Bytes, BytesMut};
use parking_lot::Mutex;
use quinn::rustls::RootCertStore;
use quinn::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use quinn::{ClientConfig, Connection, Endpoint, Incoming, RecvStream, SendStream, ServerConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, watch};

/// Name of the relay's thread.
const SERVER_THREAD: &str = "quic-relay";
/// Prefix of the load generator's threads.
const LOAD_THREADS: &str = "qload-";
/// How long connecting all players may take.
const SETUP_LIMIT: Duration = Duration::from_secs(30);
/// Handshakes one group runs at once: hundreds at once overflow the
/// relay's socket buffer with Initials and some time out.
const CONCURRENT_HANDSHAKES: usize = 16;
/// How often the runtimes look at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(20);

/// A player as the relay sees it.
#[derive(Debug, Clone)]
struct Member {
    /// Frames for its outgoing stream.
    tx: mpsc::UnboundedSender<Bytes>,
    /// Its connection, for datagrams.
    conn: Connection,
}

/// Four seats.
#[derive(Debug, Default)]
struct Room {
    /// Seated players, by seat.
    members: Mutex<[Option<Member>; 4]>,
}

/// Runs one cell: `rooms` rooms of four, reliable or not.
///
/// # Errors
///
/// A description when the endpoint cannot start or the players cannot all
/// connect in time.
pub(crate) fn run(settings: &Settings, rooms: usize, reliable: bool) -> Result<Cell, String> {
    let players = rooms * 4;
    let probe_players = settings.probe_rooms.min(rooms) * 4;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])
        .map_err(|e| format!("cert: {e}"))?;
    let cert_der: CertificateDer<'static> = cert.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let server_config = ServerConfig::with_single_cert(vec![cert_der.clone()], key)
        .map_err(|e| format!("server config: {e}"))?;
    let mut roots = RootCertStore::empty();
    roots.add(cert_der).map_err(|e| format!("root: {e}"))?;
    let client_config = ClientConfig::with_root_certificates(Arc::new(roots))
        .map_err(|e| format!("client config: {e}"))?;

    let shared = Arc::new(Shared::default());
    let forwarded = Arc::new(AtomicU64::new(0));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let server = {
        let (shared, forwarded) = (shared.clone(), forwarded.clone());
        spawn_runtime(SERVER_THREAD, move || async move {
            let endpoint = match Endpoint::server(server_config, ([127, 0, 0, 1], 0).into()) {
                Ok(endpoint) => endpoint,
                Err(e) => {
                    let _ = addr_tx.send(Err(format!("server endpoint: {e}")));
                    return;
                }
            };
            let _ = addr_tx.send(endpoint.local_addr().map_err(|e| format!("{e}")));
            tokio::spawn(serve(endpoint.clone(), forwarded));
            wait_stop(&shared).await;
            endpoint.close(0u32.into(), b"done");
        })?
    };
    let server_addr = addr_rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|e| format!("server start: {e}"))??;

    let connected = Arc::new(AtomicUsize::new(0));
    let (go_tx, go) = watch::channel(false);
    let group = |name: &'static str, first: usize, count: usize, probe: bool| {
        let plan = Group {
            server: server_addr,
            client_config: client_config.clone(),
            first,
            count,
            probe,
            reliable,
            size: settings.size,
            frame: settings.frame(),
            shared: shared.clone(),
            connected: connected.clone(),
            go: go.clone(),
        };
        spawn_runtime(name, move || plan.run())
    };
    let probes = group("qload-probe", 0, probe_players, true)?;
    wait_connected(&connected, probe_players)?;
    let bulk = group("qload-bulk", probe_players, players - probe_players, false)?;
    wait_connected(&connected, players)?;
    let _ = go_tx.send(true);

    let mut cell = Cell::new("quic", rooms, reliable, settings);
    thread::sleep(settings.warmup);
    cell.measure(settings, &shared, SERVER_THREAD, LOAD_THREADS, || {
        forwarded.load(Ordering::Relaxed)
    });
    shared.stop.store(true, Ordering::Relaxed);
    for handle in [probes, bulk, server] {
        let _ = handle.join();
    }
    Ok(cell)
}

/// Starts a thread named `name` that runs `body`'s future on its own
/// `current_thread` runtime until it ends, then drops the runtime (and every
/// task still on it).
fn spawn_runtime<F, Fut>(name: &str, body: F) -> Result<JoinHandle<()>, String>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let thread_name = name.to_string();
    thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name(thread_name)
                .build();
            match runtime {
                Ok(runtime) => {
                    runtime.block_on(body());
                    runtime.shutdown_background();
                }
                Err(e) => eprintln!("runtime: {e}"),
            }
        })
        .map_err(|e| format!("spawn {name}: {e}"))
}

/// Returns when the cell's stop flag is set.
async fn wait_stop(shared: &Shared) {
    while !shared.stopped() {
        tokio::time::sleep(STOP_POLL).await;
    }
}

/// Waits until `target` players have connected.
fn wait_connected(connected: &AtomicUsize, target: usize) -> Result<(), String> {
    let deadline = Instant::now() + SETUP_LIMIT;
    while connected.load(Ordering::Relaxed) < target {
        if Instant::now() > deadline {
            return Err(format!(
                "setup timed out: {} of {target} connected",
                connected.load(Ordering::Relaxed)
            ));
        }
        thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// The relay's accept loop: seats players in connection order, four per room.
async fn serve(endpoint: Endpoint, forwarded: Arc<AtomicU64>) {
    let mut room = Arc::new(Room::default());
    let mut next = 0usize;
    while let Some(incoming) = endpoint.accept().await {
        let seat = next % 4;
        if seat == 0 && next > 0 {
            room = Arc::new(Room::default());
        }
        next += 1;
        tokio::spawn(seat_player(incoming, room.clone(), seat, forwarded.clone()));
    }
}

/// One player on the relay: seats it, starts its writer and datagram
/// reader, then forwards the frames of its stream.
async fn seat_player(incoming: Incoming, room: Arc<Room>, seat: usize, forwarded: Arc<AtomicU64>) {
    let Ok(conn) = incoming.await else { return };
    let Ok(out) = conn.open_uni().await else {
        return;
    };
    let (tx, rx) = mpsc::unbounded_channel();
    if let Some(slot) = room.members.lock().get_mut(seat) {
        *slot = Some(Member {
            tx,
            conn: conn.clone(),
        });
    }
    tokio::spawn(write_frames(out, rx));
    tokio::spawn(forward_datagrams(
        conn.clone(),
        room.clone(),
        seat,
        forwarded.clone(),
    ));
    let Ok(stream) = conn.accept_uni().await else {
        return;
    };
    forward_stream(stream, &room, seat, &forwarded).await;
}

/// Reads length-prefixed frames from a player's stream and queues each to
/// the others in its room.
async fn forward_stream(mut stream: RecvStream, room: &Room, seat: usize, forwarded: &AtomicU64) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut filled = 0;
    let seat_byte = u8::try_from(seat).unwrap_or(u8::MAX);
    while let Ok(Some(n)) = stream.read(&mut buf[filled..]).await {
        filled += n;
        let mut at = 0;
        while let Some(len) = frame_len(&buf[at..filled]) {
            let data = &buf[at + 2..at + 2 + len];
            let mut frame = BytesMut::with_capacity(3 + len);
            frame.put_u16_le(u16::try_from(len + 1).unwrap_or(u16::MAX));
            frame.put_u8(seat_byte);
            frame.put_slice(data);
            let frame = frame.freeze();
            let mut sent = 0;
            for (i, member) in room.members.lock().iter().enumerate() {
                if let Some(member) = member.as_ref().filter(|_| i != seat) {
                    sent += u64::from(member.tx.send(frame.clone()).is_ok());
                }
            }
            forwarded.fetch_add(sent, Ordering::Relaxed);
            at += 2 + len;
        }
        buf.copy_within(at..filled, 0);
        filled -= at;
    }
}

/// The length of the complete frame at the start of `buf`, if there is one.
fn frame_len(buf: &[u8]) -> Option<usize> {
    let len = usize::from(u16::from_le_bytes(buf.get(..2)?.try_into().ok()?));
    (buf.len() >= 2 + len).then_some(len)
}

/// Writes a player's queued frames to its stream, all that are queued at once.
async fn write_frames(mut out: SendStream, mut rx: mpsc::UnboundedReceiver<Bytes>) {
    let mut buf = Vec::new();
    while let Some(first) = rx.recv().await {
        buf.clear();
        buf.extend_from_slice(&first);
        while let Ok(more) = rx.try_recv() {
            buf.extend_from_slice(&more);
        }
        if out.write_all(&buf).await.is_err() {
            return;
        }
    }
}

/// Forwards a player's datagrams to the others in its room, seat byte first.
async fn forward_datagrams(
    conn: Connection,
    room: Arc<Room>,
    seat: usize,
    forwarded: Arc<AtomicU64>,
) {
    let seat_byte = u8::try_from(seat).unwrap_or(u8::MAX);
    while let Ok(datagram) = conn.read_datagram().await {
        let mut out = BytesMut::with_capacity(1 + datagram.len());
        out.put_u8(seat_byte);
        out.put_slice(&datagram);
        let out = out.freeze();
        let mut sent = 0;
        for (i, member) in room.members.lock().iter().enumerate() {
            if let Some(member) = member.as_ref().filter(|_| i != seat) {
                sent += u64::from(member.conn.send_datagram(out.clone()).is_ok());
            }
        }
        forwarded.fetch_add(sent, Ordering::Relaxed);
    }
}

/// A group of players on one client endpoint and runtime.
#[derive(Debug)]
struct Group {
    /// The relay.
    server: SocketAddr,
    /// Trusts the relay's self-signed certificate.
    client_config: ClientConfig,
    /// Number of the group's first player.
    first: usize,
    /// Players in the group.
    count: usize,
    /// Whether its players give latency samples.
    probe: bool,
    /// Streams (true) or datagrams.
    reliable: bool,
    /// Message bytes.
    size: usize,
    /// Time between two messages of a player.
    frame: Duration,
    /// The cell's counters.
    shared: Arc<Shared>,
    /// Players connected, over both groups.
    connected: Arc<AtomicUsize>,
    /// Turns true when every player is connected: nobody sends before,
    /// as berth's players wait for their match.
    go: watch::Receiver<bool>,
}

impl Group {
    /// Connects the players, runs them until the stop flag, then closes.
    async fn run(self) {
        let endpoint = match Endpoint::client(([127, 0, 0, 1], 0).into()) {
            Ok(mut endpoint) => {
                endpoint.set_default_client_config(self.client_config.clone());
                endpoint
            }
            Err(e) => {
                eprintln!("client endpoint: {e}");
                return;
            }
        };
        let this = Arc::new(self);
        let handshakes = Arc::new(Semaphore::new(CONCURRENT_HANDSHAKES));
        for i in 0..this.count {
            let offset = this.frame.mul_f64(i as f64 / this.count.max(1) as f64);
            let id = this.first + i;
            let player = this
                .clone()
                .player(endpoint.clone(), id, offset, handshakes.clone());
            tokio::spawn(player);
        }
        wait_stop(&this.shared).await;
        endpoint.close(0u32.into(), b"done");
    }

    /// One player: connect, then send a message per frame and read what comes.
    async fn player(
        self: Arc<Self>,
        endpoint: Endpoint,
        id: usize,
        offset: Duration,
        handshakes: Arc<Semaphore>,
    ) {
        let Ok(permit) = handshakes.acquire().await else {
            return;
        };
        let Ok(connecting) = endpoint.connect(self.server, "localhost") else {
            return;
        };
        let connected = connecting.await;
        drop(permit);
        let conn = match connected {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("quic player {id}: connect failed: {e}");
                return;
            }
        };
        self.connected.fetch_add(1, Ordering::Relaxed);
        let Ok(mut out) = conn.open_uni().await else {
            return;
        };
        tokio::spawn(self.clone().receive(conn.clone()));
        let mut go = self.go.clone();
        if go.wait_for(|&go| go).await.is_err() {
            return;
        }
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, self.frame);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut frame = vec![0u8; 2 + self.size];
        frame[..2].copy_from_slice(&u16::try_from(self.size).unwrap_or(0).to_le_bytes());
        let id = u32::try_from(id).unwrap_or(u32::MAX);
        while !self.shared.stopped() {
            ticks.tick().await;
            load::message(&mut frame[2..], id);
            let ok = if self.reliable {
                out.write_all(&frame).await.is_ok()
            } else {
                conn.send_datagram(Bytes::copy_from_slice(&frame[2..]))
                    .is_ok()
            };
            self.shared.count_send(ok);
        }
    }

    /// Reads the relay's stream (or datagrams) to this player; probes keep latencies.
    async fn receive(self: Arc<Self>, conn: Connection) {
        let mut samples = Vec::new();
        if !self.reliable {
            while let Ok(datagram) = conn.read_datagram().await {
                if self.probe {
                    samples.extend(load::latency(
                        datagram.get(1..).unwrap_or(&[]),
                        load::now_ns(),
                    ));
                    self.shared.record(&mut samples);
                }
                self.shared.count_received(1);
            }
            return;
        }
        let Ok(mut stream) = conn.accept_uni().await else {
            return;
        };
        let mut buf = vec![0u8; 64 * 1024];
        let mut filled = 0;
        while let Ok(Some(n)) = stream.read(&mut buf[filled..]).await {
            let received_ns = load::now_ns();
            filled += n;
            let mut at = 0;
            let mut messages = 0;
            while let Some(len) = frame_len(&buf[at..filled]) {
                if self.probe {
                    let data = buf.get(at + 3..at + 2 + len).unwrap_or(&[]);
                    samples.extend(load::latency(data, received_ns));
                }
                messages += 1;
                at += 2 + len;
            }
            buf.copy_within(at..filled, 0);
            filled -= at;
            self.shared.count_received(messages);
            self.shared.record(&mut samples);
        }
    }
}
