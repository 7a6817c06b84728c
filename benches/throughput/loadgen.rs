//! The load generator: K clients on one thread, cheap enough that the server is what gets measured.
//!
//! Each client owns a [`BatchSocket`] (its address is its identity to the
//! server). It does the real netcode 1.02 handshake with berth's sans-IO
//! [`ClientSession`], then sends payload packets sealed ahead of time with
//! [`packet::seal`] under the token's client-to-server key, with sequences
//! from [`FIRST_SEQUENCE`] up (far above the handshake's, so every server's
//! replay window takes them). Sending is closed-loop: each client keeps at
//! most a window of payloads in flight and queues at most a burst per
//! round, so the kernel buffers rarely overflow and the server is kept busy.
//! Payload lengths rise through a cycle of [`LENGTH_CYCLE`] (see
//! [`Lengths`]), so a burst never leaves as one UDP GSO message.
//! Echoes are counted by the prefix byte without decrypting; the first echo
//! of each client is decrypted to check it is the payload sent.

use super::cpu;
use super::servers::PROTOCOL_ID;
use berth::ConnectToken;
use berth::crypto::PacketCipher;
use berth::engine::BatchSocket;
use berth::proto::client::{ClientSession, ClientState};
use berth::wire::packet::{self, Body};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Sequence of the first payload packet: three bytes on the wire for up
/// to 16 million packets, so every packet of a cell has the same length.
const FIRST_SEQUENCE: u64 = 1 << 16;
/// Bytes of a payload packet around the payload: prefix, 3-byte sequence, tag.
const OVERHEAD: usize = 1 + 3 + 16;
/// Datagrams one [`BatchSocket::recv`] returns at most without GRO.
const RECV_BATCH: u64 = 32;
/// How often the generator looks for lost packets.
const STALE_AFTER: Duration = Duration::from_millis(300);
/// With no echo at all for this long, every client's packets in flight are lost.
const ALL_LOST_AFTER: Duration = Duration::from_secs(1);
/// The netcode payload packet type, in the low nibble of the prefix byte.
const PAYLOAD_TYPE: u8 = 5;
/// Payload lengths cycle through this many values below the nominal size.
const LENGTH_CYCLE: usize = 8;

/// The length of one sealed payload packet carrying `payload` bytes.
pub(crate) const fn packet_len(payload: usize) -> usize {
    payload + OVERHEAD
}

/// One simulated client.
#[derive(Debug)]
pub(crate) struct LoadClient {
    socket: BatchSocket,
    proto: ClientSession,
    token: Option<ConnectToken>,
    server: SocketAddr,
    /// Opens the server's packets, to check the first echo.
    recv_cipher: PacketCipher,
    payload_len: usize,
    /// Packets sealed ahead, one per `packet_len(payload_len)` bytes.
    packets: Vec<u8>,
    lengths: Lengths,
    next: usize,
    sent: u64,
    echoed: u64,
    written_off: u64,
    echoed_at_check: u64,
    /// Whether the first echo is to be decrypted and checked.
    check_echo: bool,
    first_echo: Option<bool>,
}

impl LoadClient {
    /// A client with `token`, sending `count` payloads of `payload_len`
    /// bytes, sealed now; `server` is where it sends until a handshake
    /// finds otherwise. Unless `coalesce`, payload lengths cycle (see
    /// [`Lengths`]).
    ///
    /// # Errors
    ///
    /// When its socket cannot be bound.
    pub(crate) fn new(
        token: ConnectToken,
        server: SocketAddr,
        payload_len: usize,
        count: usize,
        coalesce: bool,
    ) -> io::Result<Self> {
        let socket = BatchSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let lengths = Lengths {
            nominal: payload_len,
            cycle: !coalesce,
        };
        let packets = seal_all(&token, lengths, count);
        Ok(Self {
            socket,
            proto: ClientSession::new(),
            recv_cipher: PacketCipher::new(&token.server_to_client_key),
            token: Some(token),
            server,
            payload_len,
            packets,
            lengths,
            next: 0,
            sent: 0,
            echoed: 0,
            written_off: 0,
            echoed_at_check: 0,
            check_echo: true,
            first_echo: None,
        })
    }

    /// Counts echoes without checking any: for the raw floor, whose echoes
    /// are the client's own packets.
    pub(crate) fn without_echo_check(mut self) -> Self {
        self.check_echo = false;
        self
    }

    /// One handshake step: read replies, send what is due.
    fn pump_handshake(&mut self, now: Instant, out: &mut Vec<(SocketAddr, Vec<u8>)>) {
        let Self { socket, proto, .. } = self;
        while socket
            .recv(|from, bytes| {
                let _ = proto.handle_datagram(now, from, bytes);
            })
            .unwrap_or(0)
            > 0
        {}
        proto.update(now, out);
        for (to, datagram) in out.drain(..) {
            socket.queue(to, &datagram);
        }
        let _ = socket.flush();
    }

    /// Reads waiting echoes, counting payload packets (servers also send
    /// keep-alives) and checking the first one.
    fn receive_echoes(&mut self) {
        let Self {
            socket,
            echoed,
            first_echo,
            recv_cipher,
            payload_len,
            check_echo,
            ..
        } = self;
        loop {
            let got = socket
                .recv(|_, bytes| {
                    if bytes.first().map(|b| b & 0x0f) == Some(PAYLOAD_TYPE) {
                        *echoed += 1;
                        if *check_echo && first_echo.is_none() {
                            *first_echo = Some(is_echo_of(bytes, recv_cipher, *payload_len));
                        }
                    }
                })
                .unwrap_or(0);
            if got < RECV_BATCH {
                break;
            }
        }
    }

    /// Queues up to `burst` payloads, keeping at most `window` in flight
    /// and never crossing a length cycle, and sends them; false once every
    /// packet has gone.
    fn send_burst(&mut self, window: usize, burst: usize) -> bool {
        let count = self.packets.len() / packet_len(self.payload_len);
        if self.socket.pending() == 0 {
            let in_flight = self.sent.saturating_sub(self.echoed + self.written_off);
            let room = (window as u64).saturating_sub(in_flight) as usize;
            let take = room
                .min(burst)
                .min(self.lengths.left_in_cycle(self.next))
                .min(count - self.next);
            for _ in 0..take {
                let packet = self.lengths.packet(&self.packets, self.next);
                self.socket.queue(self.server, packet);
                self.next += 1;
            }
        }
        if self.socket.pending() > 0 {
            self.sent += self.socket.flush().unwrap_or(0);
        }
        self.next < count || self.socket.pending() > 0
    }

    /// Gives up on what is in flight if no echo came since the last check
    /// (`force`), or none came while the server echoed others' (a slow
    /// server is not a lossy one).
    fn write_off_stale(&mut self, server_progressed: bool, force: bool) {
        if self.echoed == self.echoed_at_check && (server_progressed || force) {
            self.written_off = self.sent.saturating_sub(self.echoed);
        }
        self.echoed_at_check = self.echoed;
    }
}

/// The payload length of each packet of a cell.
///
/// With `cycle`, packet `i` carries `nominal - 7 + i % 8` bytes (at least
/// one): lengths rise through each cycle of [`LENGTH_CYCLE`], and a send
/// never crosses a cycle. A datagram longer than the one before it cannot
/// join its UDP GSO message, so every datagram leaves on its own and the
/// server receives them one by one, as from game clients on other hosts,
/// whatever the burst (and whether or not its socket has GRO on). Without
/// `cycle` every payload is `nominal` bytes and a burst may travel as one
/// GSO/GRO message.
#[derive(Debug, Clone, Copy)]
struct Lengths {
    nominal: usize,
    cycle: bool,
}

impl Lengths {
    /// Payload bytes of packet `i`.
    fn at(self, i: usize) -> usize {
        if self.cycle {
            let below = LENGTH_CYCLE - 1 - i % LENGTH_CYCLE;
            self.nominal.saturating_sub(below).max(1)
        } else {
            self.nominal
        }
    }

    /// Packets from `i` to the end of its cycle.
    fn left_in_cycle(self, i: usize) -> usize {
        if self.cycle {
            LENGTH_CYCLE - i % LENGTH_CYCLE
        } else {
            usize::MAX
        }
    }

    /// Packet `i` of what [`seal_all`] made.
    fn packet(self, packets: &[u8], i: usize) -> &[u8] {
        let start = i * packet_len(self.nominal);
        &packets[start..start + packet_len(self.at(i))]
    }
}

/// Seals `count` payload packets for `token`'s client, one per slot of
/// `packet_len(lengths.nominal)` bytes, lengths as [`Lengths::at`] says.
fn seal_all(token: &ConnectToken, lengths: Lengths, count: usize) -> Vec<u8> {
    let cipher = PacketCipher::new(&token.client_to_server_key);
    let stride = packet_len(lengths.nominal);
    let payload: Vec<u8> = (0..lengths.nominal).map(|i| i as u8).collect();
    let mut packets = vec![0u8; stride * count];
    for (i, slot) in packets.chunks_exact_mut(stride).enumerate() {
        let len = lengths.at(i);
        let sequence = FIRST_SEQUENCE + i as u64;
        let sealed = packet::seal(
            &Body::Payload(&payload[..len]),
            sequence,
            PROTOCOL_ID,
            &cipher,
            slot,
        )
        .expect("a payload packet fits its slot");
        assert_eq!(
            sealed,
            packet_len(len),
            "sequences past 2^24 change the packet length"
        );
    }
    packets
}

/// Whether `datagram` opens under the server's key as a payload sent: the
/// pattern [`seal_all`] wrote, at most `len` bytes and at most a length
/// cycle shorter.
fn is_echo_of(datagram: &mut [u8], cipher: &PacketCipher, len: usize) -> bool {
    let Ok(header) = packet::parse_header(datagram) else {
        return false;
    };
    matches!(
        packet::open(datagram, &header, PROTOCOL_ID, cipher),
        Ok(Body::Payload(p)) if (len.saturating_sub(LENGTH_CYCLE)..=len).contains(&p.len())
            && p.iter().enumerate().all(|(i, &b)| b == i as u8)
    )
}

/// Connects every client, all at once; returns the wall time until the last one is in.
///
/// # Errors
///
/// A message when a client fails or the handshakes outlast `timeout`.
pub(crate) fn handshake(clients: &mut [LoadClient], timeout: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    for client in clients.iter_mut() {
        if let Some(token) = client.token.take() {
            client.proto.connect(start, token);
        }
    }
    let mut out = Vec::new();
    loop {
        let now = Instant::now();
        let mut connected = 0;
        for (i, client) in clients.iter_mut().enumerate() {
            client.pump_handshake(now, &mut out);
            match client.proto.state() {
                ClientState::Connected => connected += 1,
                state if state.is_error() => {
                    return Err(format!("client {i} failed to connect: {state:?}"));
                }
                _ => {}
            }
        }
        if connected == clients.len() {
            break;
        }
        if start.elapsed() > timeout {
            return Err(format!(
                "{connected}/{} clients connected after {timeout:?}",
                clients.len()
            ));
        }
        std::thread::yield_now();
    }
    let elapsed = start.elapsed();
    for client in clients.iter_mut() {
        if let Some(server) = client.proto.server_address() {
            client.server = server;
        }
    }
    Ok(elapsed)
}

/// What a blast did, from the clients' side.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Blast {
    /// Wall time from the first send to the last.
    pub(crate) elapsed: Duration,
    /// Payload packets sent.
    pub(crate) sent: u64,
    /// Payload packets echoed back.
    pub(crate) echoed: u64,
    /// Nanoseconds the generator thread spent on CPU.
    pub(crate) cpu_ns: u64,
    /// Whether the packets sealed ahead ran out before the time did.
    pub(crate) exhausted: bool,
    /// Clients whose first echo opened as the payload sent.
    pub(crate) echoes_checked: usize,
    /// Clients whose first echo did not.
    pub(crate) echoes_bad: usize,
}

/// Sends until `duration` passes or the sealed packets run out, `window`
/// in flight and `burst` per round per client.
pub(crate) fn blast(
    clients: &mut [LoadClient],
    duration: Duration,
    window: usize,
    burst: usize,
) -> Blast {
    let cpu_start = cpu::this_thread_ns();
    let start = Instant::now();
    let deadline = start + duration;
    let mut next_check = start + STALE_AFTER;
    let (mut echoed_at_check, mut last_progress) = (0, start);
    let mut exhausted = false;
    loop {
        let mut active = false;
        for client in clients.iter_mut() {
            client.receive_echoes();
            active |= client.send_burst(window, burst);
        }
        let now = Instant::now();
        if !active {
            exhausted = true;
            break;
        }
        if now >= deadline {
            break;
        }
        if now >= next_check {
            let echoed: u64 = clients.iter().map(|c| c.echoed).sum();
            let progressed = echoed > echoed_at_check;
            if progressed {
                last_progress = now;
            }
            let force = now - last_progress >= ALL_LOST_AFTER;
            for client in clients.iter_mut() {
                client.write_off_stale(progressed, force);
            }
            echoed_at_check = echoed;
            next_check = now + STALE_AFTER;
        }
    }
    let elapsed = start.elapsed();
    Blast {
        elapsed,
        sent: clients.iter().map(|c| c.sent).sum(),
        echoed: clients.iter().map(|c| c.echoed).sum(),
        cpu_ns: cpu::this_thread_ns().saturating_sub(cpu_start),
        exhausted,
        echoes_checked: clients
            .iter()
            .filter(|c| c.first_echo == Some(true))
            .count(),
        echoes_bad: clients
            .iter()
            .filter(|c| c.first_echo == Some(false))
            .count(),
    }
}
