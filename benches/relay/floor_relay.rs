//! One cell against the raw-UDP floor: the least work any relay can do
//! for this datagram pattern, so its forwarded messages per CPU-second
//! bound what berth (or anything) can reach on this machine's kernel.
//!
//! Server (`floor-relay`, one thread): one [`BatchSocket`] on loopback,
//! registered with a mio poll through its descriptor and asleep in
//! `epoll_wait` when idle, like berth's port. No protocol, no crypto, no
//! acks or resends: the room table is fixed at construction (player `i`
//! is in room `i / 4`, addresses known because the players bind first). A
//! wake drains the socket with `recvmmsg` (stopping at a short batch, as
//! the port does), appends each message to the packed bytes of each of the
//! three others in its room, then sends one datagram per recipient (split
//! only past 1225 bytes) with `sendmmsg`. Packing a recipient's forwards
//! within a wake is what berth's port does too. A relay that held
//! forwards back across wakes could pack more and use less CPU, at a
//! latency cost; none of the relays measured here does.
//!
//! "Reliable" means nothing here: the floor does the same work in both
//! modes, and a cell in either mode only sits beside that mode's berth and
//! QUIC cells (the two figures per room count also show the run's noise).
//!
//! Players: plain std UDP sockets connected to the relay, driven like
//! berth's (`relay/berth_relay.rs`): `fload-bulk` reads the socket of every
//! player whose frame has come (frames spread evenly over the frame time),
//! then sends their messages back to back; `fload-probe` does the same but
//! reads the probe players' sockets about every 50 µs (sleeps, not spins)
//! and gives the latency samples.
//! The forwarded messages arrive back to back in one datagram, and the
//! receiver splits them by the message size.

use super::load::{self, Player, Shared};
use super::report::Cell;
use super::settings::Settings;
use berth::engine::BatchSocket;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

/// Name of the forwarder's thread.
const SERVER_THREAD: &str = "floor-relay";
/// Prefix of the load generator's threads.
const LOAD_THREADS: &str = "fload-";
/// Poll token of the forwarder's socket.
const SOCKET: Token = Token(0);
/// Poll token of the waker that stops the forwarder.
const STOP: Token = Token(1);
/// Longest datagram [`BatchSocket::queue`] sends.
const MAX_DATAGRAM: usize = 1225;
/// Receive batches per wake before the forwarder sends what it has, as
/// berth's port bounds its own.
const MAX_BATCHES_PER_WAKE: usize = 64;

/// What the forwarder counts, published after every wake.
#[derive(Debug, Default)]
struct Counters {
    /// Messages queued to a recipient (one per recipient).
    forwarded: AtomicU64,
    /// Datagrams received.
    datagrams_in: AtomicU64,
    /// Datagrams queued to send (packed forwards).
    datagrams_out: AtomicU64,
    /// Wakes of the forwarder's thread.
    wakes: AtomicU64,
}

impl Counters {
    /// Reads `(forwarded, datagrams_in, datagrams_out, wakes)`.
    fn read(&self) -> (u64, u64, u64, u64) {
        (
            self.forwarded.load(Ordering::Relaxed),
            self.datagrams_in.load(Ordering::Relaxed),
            self.datagrams_out.load(Ordering::Relaxed),
            self.wakes.load(Ordering::Relaxed),
        )
    }
}

/// Runs one cell: `rooms` rooms of four. `reliable` only labels the cell
/// (see the module doc).
///
/// # Errors
///
/// A description when a socket cannot be bound or a thread spawned.
pub(crate) fn run(settings: &Settings, rooms: usize, reliable: bool) -> Result<Cell, String> {
    let players = rooms * 4;
    let probe_players = settings.probe_rooms.min(rooms) * 4;
    let loopback: SocketAddr = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    let sockets = (0..players)
        .map(|_| UdpSocket::bind(loopback))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| format!("player bind: {e}"))?;
    let addrs = sockets
        .iter()
        .map(UdpSocket::local_addr)
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| format!("player address: {e}"))?;
    let socket = BatchSocket::bind(loopback).map_err(|e| format!("bind: {e}"))?;
    let relay = socket.local_addr().map_err(|e| format!("bind: {e}"))?;
    let poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
    let waker = Waker::new(poll.registry(), STOP).map_err(|e| format!("waker: {e}"))?;
    let forwarder = Forwarder::new(socket, addrs, settings.size);
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::default());
    let server = {
        let (stop, counters) = (stop.clone(), counters.clone());
        thread::Builder::new()
            .name(SERVER_THREAD.into())
            .spawn(move || forwarder.run(poll, &stop, &counters))
            .map_err(|e| format!("spawn: {e}"))?
    };

    let shared = Arc::new(Shared::default());
    let frame = settings.frame();
    for socket in &sockets {
        socket
            .connect(relay)
            .and_then(|()| socket.set_nonblocking(true))
            .map_err(|e| format!("player socket: {e}"))?;
    }
    let mut all = load::players(sockets, frame);
    let bulk = all.split_off(probe_players);
    let probes = all;
    let size = settings.size;
    let threads =
        [("fload-probe", probes, true), ("fload-bulk", bulk, false)].map(|(name, group, probe)| {
            let shared = shared.clone();
            thread::Builder::new()
                .name(name.into())
                .spawn(move || drive(group, probe, size, frame, &shared))
        });

    let mut cell = Cell::new("floor", rooms, reliable, settings);
    thread::sleep(settings.warmup);
    let (_, in0, out0, wakes0) = counters.read();
    cell.measure(settings, &shared, SERVER_THREAD, LOAD_THREADS, || {
        counters.forwarded.load(Ordering::Relaxed)
    });
    let (_, in1, out1, wakes1) = counters.read();
    cell.datagrams_out_per_fwd = Some((out1 - out0) as f64 / cell.forwarded.max(1) as f64);
    cell.datagrams_in_per_wake = Some((in1 - in0) as f64 / (wakes1 - wakes0).max(1) as f64);
    cell.datagrams_in_per_sent = Some((in1 - in0) as f64 / cell.sent.max(1) as f64);

    shared.stop.store(true, Ordering::Relaxed);
    let mut failure = None;
    for thread in threads {
        match thread {
            Ok(handle) => {
                if handle.join().is_err() {
                    failure = Some("a player thread panicked".to_string());
                }
            }
            Err(e) => failure = Some(format!("spawn: {e}")),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let woken = waker.wake();
    match server.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => failure = Some(format!("forwarder: {e}")),
        Err(_) => failure = Some("the forwarder panicked".into()),
    }
    woken.map_err(|e| format!("wake: {e}"))?;
    failure.map_or(Ok(cell), Err)
}

/// The forwarder: its socket, the fixed room table, and one wake's packing.
struct Forwarder {
    /// The relay's socket.
    socket: BatchSocket,
    /// Player number by address.
    players: HashMap<SocketAddr, usize>,
    /// Each player's address, by number; player `i` is in room `i / 4`.
    addrs: Vec<SocketAddr>,
    /// Message bytes: each received datagram holds whole messages.
    size: usize,
    /// Bytes packed for each player during this wake.
    packed: Vec<Vec<u8>>,
    /// Players with packed bytes, in the order they got their first.
    touched: Vec<usize>,
}

impl Forwarder {
    /// A forwarder for the players at `addrs`, in rooms of four by order.
    fn new(socket: BatchSocket, addrs: Vec<SocketAddr>, size: usize) -> Self {
        Self {
            socket,
            players: addrs.iter().enumerate().map(|(i, &a)| (a, i)).collect(),
            packed: vec![Vec::new(); addrs.len()],
            addrs,
            size,
            touched: Vec::new(),
        }
    }

    /// Sleeps on the socket's readiness and forwards until `stop`, adding
    /// each wake's figures to `counters`.
    fn run(mut self, mut poll: Poll, stop: &AtomicBool, counters: &Counters) -> io::Result<()> {
        let fd = self.socket.as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&fd), SOCKET, Interest::READABLE)?;
        let mut events = Events::with_capacity(16);
        let mut more_to_read = false;
        let mut writable_wanted = false;
        while !stop.load(Ordering::Relaxed) {
            let timeout = more_to_read.then_some(Duration::ZERO);
            if let Err(e) = poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            let (forwarded, datagrams_in, more) = self.drain()?;
            counters.wakes.fetch_add(1, Ordering::Relaxed);
            more_to_read = more;
            let datagrams_out = self.queue_packed();
            self.socket.flush()?;
            if datagrams_in > 0 {
                counters.forwarded.fetch_add(forwarded, Ordering::Relaxed);
                counters
                    .datagrams_in
                    .fetch_add(datagrams_in, Ordering::Relaxed);
                counters
                    .datagrams_out
                    .fetch_add(datagrams_out, Ordering::Relaxed);
            }
            // As the port: wake on writability only while sends are held back.
            let held_back = self.socket.pending() > 0;
            if held_back != writable_wanted {
                let interest = if held_back {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                poll.registry()
                    .reregister(&mut SourceFd(&fd), SOCKET, interest)?;
                writable_wanted = held_back;
            }
        }
        Ok(())
    }

    /// Receives until the socket is drained (or the per-wake bound), packing
    /// every message for the three others in its room; returns the messages
    /// forwarded, the datagrams received and whether more may be waiting.
    fn drain(&mut self) -> io::Result<(u64, u64, bool)> {
        let (mut forwarded, mut received) = (0, 0);
        for _ in 0..MAX_BATCHES_PER_WAKE {
            let got = self.socket.recv(|from, bytes| {
                let Some(&sender) = self.players.get(&from) else {
                    return;
                };
                let room = sender / 4 * 4;
                for recipient in (room..room + 4).filter(|&r| r != sender) {
                    let Some(packed) = self.packed.get_mut(recipient) else {
                        continue;
                    };
                    if packed.is_empty() {
                        self.touched.push(recipient);
                    }
                    packed.extend_from_slice(bytes);
                    forwarded += (bytes.len() / self.size).max(1) as u64;
                }
            })?;
            received += got;
            if got == 0 || self.socket.drained() {
                return Ok((forwarded, received, false));
            }
        }
        Ok((forwarded, received, true))
    }

    /// Queues each touched player's packed bytes as one datagram (more
    /// only past [`MAX_DATAGRAM`], split between messages) and clears them;
    /// returns the datagrams queued.
    fn queue_packed(&mut self) -> u64 {
        let mut queued = 0;
        let per_datagram = (MAX_DATAGRAM / self.size).max(1) * self.size;
        for &recipient in &self.touched {
            let (Some(packed), Some(&to)) =
                (self.packed.get_mut(recipient), self.addrs.get(recipient))
            else {
                continue;
            };
            for datagram in packed.chunks(per_datagram) {
                self.socket.queue(to, datagram);
                queued += 1;
            }
            packed.clear();
        }
        self.touched.clear();
        queued
    }
}

/// A load thread's loop: at each player's frame it reads its socket, then
/// sends its message (probes read every player's socket on every pass).
fn drive(
    mut players: Vec<Player<UdpSocket>>,
    probe: bool,
    size: usize,
    frame: Duration,
    shared: &Shared,
) {
    let mut buf = vec![0u8; size];
    let mut incoming = vec![0u8; 1 << 16];
    load::drive(
        &mut players,
        probe,
        frame,
        shared,
        |player, samples| {
            let samples = probe.then_some(samples);
            receive(&player.io, &mut incoming, size, samples, shared);
        },
        // A raw message needs no preparing: stamped as it is sent.
        |_| {},
        |player| {
            load::message(&mut buf, player.id);
            shared.count_send(player.io.send(&buf).is_ok());
        },
    );
}

/// Reads a player's socket until empty, splitting each datagram into
/// `size`-byte messages; probes keep each message's latency in `samples`.
fn receive(
    socket: &UdpSocket,
    incoming: &mut [u8],
    size: usize,
    mut samples: Option<&mut Vec<u64>>,
    shared: &Shared,
) {
    let mut n = 0;
    while let Ok(len) = socket.recv(incoming) {
        let received_ns = load::now_ns();
        for message in incoming.get(..len).unwrap_or_default().chunks(size) {
            n += 1;
            if let Some(samples) = samples.as_deref_mut() {
                samples.extend(load::latency(message, received_ns));
            }
        }
    }
    shared.count_received(n);
}
