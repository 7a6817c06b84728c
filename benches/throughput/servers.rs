//! The servers under test, each echoing every payload back to its sender.
//!
//! - berth: [`Server::bind_with_handler`] with an [`Echo`] handler, the fast
//!   path; its port threads are `berth-port-N`.
//! - renetcode 2.x: its sans-IO `NetcodeServer` over a std `UdpSocket` with
//!   4 MiB buffers, one `recv_from`/`send_to` per datagram, as renet's own
//!   transport does; thread `renetcode-srv`.
//! - netcode-official: its `Server` owns a non-blocking socket; `update(time)`
//!   reads everything waiting, then the loop drains each slot's queue and
//!   echoes; thread `netcode-srv`.
//! - raw: a [`BatchSocket`] that echoes datagrams with no protocol and no
//!   crypto, the floor; thread `raw-echo`.
//!
//! The loops this harness writes for netcode-official and the floor poll a
//! non-blocking socket; after a pass that finds nothing they yield a few
//! times, then sleep [`IDLE_BACKOFF`] ([`Idle`]), so an idle server does not
//! burn the CPU we measure. renetcode's loop blocks in `recv_from`. Each server counts the payloads it delivered to the application
//! in a [`Counter`] the harness reads.

use super::cpu;
use super::settings::Kind;
use berth::engine::{
    BatchSocket, Context, Handler, NO_USER_DATA, PeerId, PortStats, Server, ServerConfig,
};
use berth::proto::channel::ChannelId;
use berth::{ConnectToken, ConnectTokenBuilder, Key};
use renetcode::{NetcodeServer, ServerAuthentication, ServerResult};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The protocol id every server and token in the run uses.
pub(crate) const PROTOCOL_ID: u64 = 0x7468_726f_7567_6870;
/// The private key every server and token in the run uses.
pub(crate) const PRIVATE_KEY: [u8; 32] = [0x5a; 32];
/// Connection timeout in every token: long, so a slow handshake of 256
/// clients on a busy machine never times out the first ones.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);
/// Token lifetime: tokens are made before the packets are sealed ahead,
/// which on a busy machine can take a while.
const TOKEN_EXPIRY: Duration = Duration::from_secs(600);
/// Sleep of a harness-written server loop that found nothing to do for a while.
const IDLE_BACKOFF: Duration = Duration::from_micros(100);
/// Empty passes a harness-written loop answers with a yield before it sleeps.
const IDLE_YIELDS: u32 = 16;
/// Kernel buffer size for the sockets this harness opens (berth's default).
const SOCKET_BUFFER: usize = 4 << 20;
/// How often the renetcode loop runs its timers (keep-alives, timeouts).
const RENETCODE_TICK: Duration = Duration::from_millis(10);

/// A payload count one server thread writes and the harness reads, alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Publishes the thread's running total (a plain store: one writer).
    fn set(&self, total: u64) {
        self.0.store(total, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What a polling loop does after a pass: nothing after work, else yield
/// [`IDLE_YIELDS`] times (a packet is likely on its way), then sleep.
#[derive(Debug, Default)]
struct Idle {
    empty_passes: u32,
}

impl Idle {
    fn after(&mut self, worked: bool) {
        if worked {
            self.empty_passes = 0;
        } else if self.empty_passes < IDLE_YIELDS {
            self.empty_passes += 1;
            std::thread::yield_now();
        } else {
            std::thread::sleep(IDLE_BACKOFF);
        }
    }
}

/// berth's echo handler: sends each message back on the port thread.
#[derive(Debug)]
struct Echo {
    delivered: u64,
    counter: Arc<Counter>,
}

impl Handler for Echo {
    fn message(&mut self, ctx: &mut Context<'_>, peer: PeerId, channel: ChannelId, bytes: &[u8]) {
        let _ = ctx.send(peer, channel, bytes);
        self.delivered += 1;
        self.counter.set(self.delivered);
    }
}

/// How a running server is stopped.
#[derive(Debug)]
enum Stop {
    Berth(Server),
    Thread {
        stop: Arc<AtomicBool>,
        thread: JoinHandle<()>,
    },
}

/// A server under test, started for one cell.
#[derive(Debug)]
pub(crate) struct Running {
    /// Where clients send: the bound addresses, port 0 first.
    pub(crate) addrs: Vec<SocketAddr>,
    thread_prefix: &'static str,
    counters: Vec<Arc<Counter>>,
    stop: Stop,
}

impl Running {
    /// Starts a server of `kind` on loopback with room for `max_clients`.
    ///
    /// # Errors
    ///
    /// When a socket cannot be bound or a thread started.
    pub(crate) fn start(kind: Kind, max_clients: usize) -> io::Result<Self> {
        let running = match kind {
            Kind::Raw => start_thread("raw-echo", |stop, counter| {
                let socket = BatchSocket::bind(loopback())?;
                let addr = socket.local_addr()?;
                Ok((addr, move || raw_loop(socket, &stop, &counter)))
            }),
            Kind::Berth(ports) => start_berth(ports, max_clients),
            Kind::Renetcode => start_thread("renetcode-srv", move |stop, counter| {
                let socket = buffered_udp(loopback())?;
                let addr = socket.local_addr()?;
                let server = NetcodeServer::new(renetcode::ServerConfig {
                    current_time: unix_now(),
                    max_clients,
                    protocol_id: PROTOCOL_ID,
                    public_addresses: vec![addr],
                    authentication: ServerAuthentication::Secure {
                        private_key: PRIVATE_KEY,
                    },
                });
                Ok((addr, move || {
                    renetcode_loop(&socket, server, &stop, &counter)
                }))
            }),
            Kind::NetcodeOfficial => start_netcode(max_clients),
        }?;
        Ok(running)
    }

    /// A connect token for `client_id` to this server. berth issues its
    /// own (placing the client on the least-loaded port); the others get
    /// one from [`ConnectTokenBuilder`] with the shared key.
    ///
    /// # Panics
    ///
    /// If berth's token settings are out of range (they are constants).
    pub(crate) fn token(&self, client_id: u64) -> ConnectToken {
        match &self.stop {
            Stop::Berth(server) => server.issue_token(client_id, NO_USER_DATA),
            Stop::Thread { .. } => ConnectTokenBuilder::new(PROTOCOL_ID, client_id)
                .server(self.addrs[0])
                .timeout(Some(TOKEN_TIMEOUT))
                .expire_after(TOKEN_EXPIRY)
                .build(&Key::from_bytes(PRIVATE_KEY)),
        }
        .expect("token settings in range")
    }

    /// Payloads delivered to the application so far, over all threads.
    pub(crate) fn delivered(&self) -> u64 {
        self.counters.iter().map(|c| c.get()).sum()
    }

    /// Nanoseconds the server's threads have spent on CPU.
    pub(crate) fn cpu_ns(&self) -> u64 {
        cpu::threads_ns(self.thread_prefix)
    }

    /// Nanoseconds the server's threads have waited for a CPU while runnable.
    pub(crate) fn wait_ns(&self) -> u64 {
        cpu::threads_wait_ns(self.thread_prefix)
    }

    /// How many threads the server runs now (a check that the name matched).
    pub(crate) fn threads(&self) -> usize {
        cpu::thread_count(self.thread_prefix)
    }

    /// berth's per-port counters (published every 100 ms); empty for the others.
    pub(crate) fn berth_stats(&self) -> Vec<PortStats> {
        match &self.stop {
            Stop::Berth(server) => server.stats(),
            Stop::Thread { .. } => Vec::new(),
        }
    }

    /// Stops the server and waits for its threads.
    pub(crate) fn stop(self) {
        match self.stop {
            Stop::Berth(server) => {
                server.shutdown();
            }
            Stop::Thread { stop, thread } => {
                stop.store(true, Ordering::Relaxed);
                if thread.join().is_err() {
                    eprintln!("warning: a {} thread panicked", self.thread_prefix);
                }
            }
        }
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// A blocking std UDP socket on `addr` with [`SOCKET_BUFFER`]-byte kernel buffers.
fn buffered_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    socket.set_recv_buffer_size(SOCKET_BUFFER)?;
    socket.set_send_buffer_size(SOCKET_BUFFER)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn start_berth(ports: u16, max_clients: usize) -> io::Result<Running> {
    let config = ServerConfig::new(loopback(), PROTOCOL_ID, Key::from_bytes(PRIVATE_KEY))
        .ports(ports)
        .max_clients_per_port(max_clients)
        .token_timeout(Some(TOKEN_TIMEOUT))
        .token_expiry(TOKEN_EXPIRY)
        // Its peers' clients speak plain netcode: compare like with like.
        .raw();
    let counters: Vec<Arc<Counter>> = (0..ports).map(|_| Arc::default()).collect();
    let handlers = counters.clone();
    let server = Server::bind_with_handler(config, move |port| Echo {
        delivered: 0,
        counter: handlers[usize::from(port)].clone(),
    })
    .map_err(io::Error::other)?;
    Ok(Running {
        addrs: server.local_addrs().to_vec(),
        thread_prefix: "berth-port-",
        counters,
        stop: Stop::Berth(server),
    })
}

/// Starts a thread named `name`: `setup` runs on it, binds, and returns the
/// address and the loop to run until the stop flag is set.
fn start_thread<F, L>(name: &'static str, setup: F) -> io::Result<Running>
where
    F: FnOnce(Arc<AtomicBool>, Arc<Counter>) -> io::Result<(SocketAddr, L)> + Send + 'static,
    L: FnOnce(),
{
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(Counter::default());
    let (tx, rx) = mpsc::channel();
    let (thread_stop, thread_counter) = (stop.clone(), counter.clone());
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || match setup(thread_stop, thread_counter) {
            Ok((addr, run)) => {
                let _ = tx.send(Ok(addr));
                run();
            }
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        })?;
    let addr = rx
        .recv()
        .map_err(|_| io::Error::other(format!("{name} died during setup")))??;
    Ok(Running {
        addrs: vec![addr],
        thread_prefix: name,
        counters: vec![counter],
        stop: Stop::Thread { stop, thread },
    })
}

fn start_netcode(max_clients: usize) -> io::Result<Running> {
    start_thread("netcode-srv", move |stop, counter| {
        let mut server = netcode::Server::new(loopback(), PROTOCOL_ID, &PRIVATE_KEY, 0.0)
            .map_err(io::Error::other)?;
        server.start(max_clients).map_err(io::Error::other)?;
        // It binds 0.0.0.0:port and advertises 127.0.0.1:port.
        let addr = server.address();
        Ok((addr, move || netcode_loop(server, &stop, &counter)))
    })
}

/// netcode-official: update, then drain and echo every slot's queue.
fn netcode_loop(mut server: netcode::Server, stop: &AtomicBool, counter: &Counter) {
    let start = Instant::now();
    let mut delivered = 0;
    let mut idle = Idle::default();
    while !stop.load(Ordering::Relaxed) {
        server.update(start.elapsed().as_secs_f64());
        let mut echoed = 0;
        for slot in 0..server.max_clients() {
            while let Some((payload, _)) = server.receive_packet(slot) {
                let _ = server.send_packet(slot, &payload);
                echoed += 1;
            }
        }
        idle.after(echoed > 0);
        if echoed > 0 {
            delivered += echoed;
            counter.set(delivered);
        }
    }
    server.stop();
}

/// renetcode: one blocking `recv_from` per datagram (1 ms timeout so the
/// stop flag and timers are seen), the reply sent at once; timers every
/// [`RENETCODE_TICK`].
fn renetcode_loop(
    socket: &UdpSocket,
    mut server: NetcodeServer,
    stop: &AtomicBool,
    counter: &Counter,
) {
    if socket
        .set_read_timeout(Some(Duration::from_millis(1)))
        .is_err()
    {
        return;
    }
    let mut buf = [0u8; 1500];
    let mut delivered = 0;
    let mut next_tick = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let Ok((len, from)) = socket.recv_from(&mut buf) {
            if renetcode_datagram(&mut server, socket, from, &mut buf[..len]) {
                delivered += 1;
                counter.set(delivered);
            }
        }
        let now = Instant::now();
        if now >= next_tick {
            renetcode_tick(&mut server, socket);
            next_tick = now + RENETCODE_TICK;
        }
    }
    for client_id in server.clients_id() {
        if let ServerResult::ClientDisconnected {
            addr,
            payload: Some(packet),
            ..
        } = server.disconnect(client_id)
        {
            let _ = socket.send_to(packet, addr);
        }
    }
}

/// Feeds one datagram to renetcode and sends what it answers; true for a
/// payload (echoed).
fn renetcode_datagram(
    server: &mut NetcodeServer,
    socket: &UdpSocket,
    from: SocketAddr,
    bytes: &mut [u8],
) -> bool {
    // The result borrows the server, so the echo is sealed after the match.
    let echo = match server.process_packet(from, bytes) {
        ServerResult::Payload { client_id, payload } => Some((client_id, payload)),
        ServerResult::PacketToSend { addr, payload }
        | ServerResult::ClientConnected { addr, payload, .. }
        | ServerResult::ClientDisconnected {
            addr,
            payload: Some(payload),
            ..
        } => {
            let _ = socket.send_to(payload, addr);
            None
        }
        ServerResult::None | ServerResult::ClientDisconnected { payload: None, .. } => None,
    };
    let Some((client_id, payload)) = echo else {
        return false;
    };
    if let Ok((addr, packet)) = server.generate_payload_packet(client_id, payload) {
        let _ = socket.send_to(packet, addr);
    }
    true
}

/// renetcode's timers: advance its clock, then keep-alives and timeouts per client.
fn renetcode_tick(server: &mut NetcodeServer, socket: &UdpSocket) {
    let delta = unix_now().saturating_sub(server.current_time());
    server.update(delta);
    for client_id in server.clients_id() {
        match server.update_client(client_id) {
            ServerResult::PacketToSend { addr, payload }
            | ServerResult::ClientDisconnected {
                addr,
                payload: Some(payload),
                ..
            } => {
                let _ = socket.send_to(payload, addr);
            }
            _ => {}
        }
    }
}

/// The floor: echo each datagram as received, batched both ways, no crypto.
fn raw_loop(mut socket: BatchSocket, stop: &AtomicBool, counter: &Counter) {
    // recv lends the socket to its callback, so datagrams are copied out first.
    let mut held: Vec<u8> = Vec::with_capacity(64 * 1500);
    let mut lens: Vec<(SocketAddr, usize)> = Vec::with_capacity(64);
    let mut delivered = 0;
    let mut idle = Idle::default();
    while !stop.load(Ordering::Relaxed) {
        held.clear();
        lens.clear();
        let got = socket
            .recv(|from, bytes| {
                held.extend_from_slice(bytes);
                lens.push((from, bytes.len()));
            })
            .unwrap_or(0);
        let mut start = 0;
        for &(to, len) in &lens {
            socket.queue(to, &held[start..start + len]);
            start += len;
        }
        let _ = socket.flush();
        idle.after(got > 0 || socket.pending() > 0);
        if got > 0 {
            delivered += got;
            counter.set(delivered);
        }
    }
}
