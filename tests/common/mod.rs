//! Real-socket helpers for driving berth's sans-IO state machines over loopback.
//!
//! No sleeps: each pump blocks on its socket for at most a millisecond, and
//! every loop runs against a deadline that fails the test.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different subset.

pub mod engine;
#[cfg(target_os = "linux")]
pub mod netns;

use berth::proto::WallClock;
use berth::proto::channel::{ChannelId, Inbox};
use berth::proto::client::ClientSession;
use berth::proto::server::{ClientIndex, Shard, ShardConfig};
use berth::{Key, OsRandom};
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

pub const PROTOCOL_ID: u64 = 0x1122_3344_5566_7788;
pub const PRIVATE_KEY: [u8; 32] = [
    0x60, 0x6a, 0xbe, 0x6e, 0xc9, 0x19, 0x10, 0xea, 0x9a, 0x65, 0x62, 0xf6, 0x6f, 0x2b, 0x30, 0xe4,
    0x43, 0x71, 0xd6, 0x2c, 0xd1, 0x99, 0x27, 0x26, 0x6b, 0x3c, 0x60, 0xf4, 0xb7, 0x15, 0xab, 0xa1,
];
/// How long any loopback scenario may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

fn bind(addr: &str) -> UdpSocket {
    let socket = UdpSocket::bind(addr).expect("bind loopback");
    socket
        .set_read_timeout(Some(Duration::from_millis(1)))
        .expect("set read timeout");
    socket
}

/// Receives whatever is waiting, blocking at most a millisecond for the first datagram.
fn recv_all(socket: &UdpSocket, mut each: impl FnMut(SocketAddr, &mut [u8])) {
    let mut buf = [0u8; 2048];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((len, from)) => each(from, &mut buf[..len]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return,
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => continue,
            Err(e) => panic!("recv_from: {e}"),
        }
        socket.set_nonblocking(true).expect("nonblocking");
    }
}

fn send_all(socket: &UdpSocket, out: &mut Vec<(SocketAddr, Vec<u8>)>) {
    for (to, bytes) in out.drain(..) {
        socket.send_to(&bytes, to).expect("send_to");
    }
}

/// A berth server shard on a loopback socket.
pub struct UdpServer {
    pub socket: UdpSocket,
    pub server: Shard,
    pub addr: SocketAddr,
    /// Payloads received, with their sender's slot.
    pub received: Vec<(ClientIndex, Vec<u8>)>,
}

impl UdpServer {
    /// Binds `bind` (say `127.0.0.1:0`) and serves with `max_clients` slots.
    pub fn bind(bind_addr: &str, max_clients: usize) -> Self {
        let socket = bind(bind_addr);
        let addr = socket.local_addr().expect("local addr");
        let config = ShardConfig::new(PROTOCOL_ID, Key::from_bytes(PRIVATE_KEY), addr)
            .max_clients(max_clients);
        let now = Instant::now();
        let server = Shard::new(config, now, WallClock::system(), &mut OsRandom).expect("config");
        Self {
            socket,
            server,
            addr,
            received: Vec::new(),
        }
    }

    /// Receives, handles, replies and updates once.
    pub fn pump(&mut self) {
        let now = Instant::now();
        let mut out = Vec::new();
        let (server, received) = (&mut self.server, &mut self.received);
        let mut messages = Inbox::new();
        recv_all(&self.socket, |from, bytes| {
            if let Some(client) = server.handle_datagram(now, from, bytes, &mut out) {
                server.take_messages(&mut messages);
                for (_, bytes) in messages.iter() {
                    received.push((client, bytes.to_vec()));
                }
            }
        });
        self.socket.set_nonblocking(false).expect("blocking");
        self.server.update(now, &mut out);
        send_all(&self.socket, &mut out);
    }

    /// Sends a payload to a client.
    pub fn send(&mut self, client: ClientIndex, payload: &[u8]) {
        let mut out = Vec::new();
        self.server
            .send(Instant::now(), client, ChannelId::RAW, payload, &mut out)
            .expect("server send");
        send_all(&self.socket, &mut out);
    }
}

/// A berth client on a loopback socket.
pub struct UdpClient {
    pub socket: UdpSocket,
    pub client: ClientSession,
    pub received: Vec<Vec<u8>>,
}

impl UdpClient {
    /// Binds `bind` (say `127.0.0.1:0`) and starts connecting with a 2048-byte token.
    pub fn connect(bind_addr: &str, token: &[u8]) -> Self {
        let mut client = ClientSession::new();
        client.connect_bytes(Instant::now(), token);
        Self {
            socket: bind(bind_addr),
            client,
            received: Vec::new(),
        }
    }

    /// Receives, handles and updates once.
    pub fn pump(&mut self) {
        let now = Instant::now();
        let (client, received) = (&mut self.client, &mut self.received);
        recv_all(&self.socket, |from, bytes| {
            if client.handle_datagram(now, from, bytes) {
                while let Some(message) = client.recv() {
                    received.push(message.bytes);
                }
            }
        });
        self.socket.set_nonblocking(false).expect("blocking");
        let mut out = Vec::new();
        self.client.update(now, &mut out);
        send_all(&self.socket, &mut out);
    }

    /// Sends a payload to the server.
    pub fn send(&mut self, payload: &[u8]) {
        let mut out = Vec::new();
        self.client
            .send(Instant::now(), ChannelId::RAW, payload, &mut out)
            .expect("client send");
        send_all(&self.socket, &mut out);
    }
}

/// Runs `step` until it returns true; fails the test at [`DEADLINE`].
#[track_caller]
pub fn drive(what: &str, mut step: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        if step() {
            return;
        }
    }
    panic!("{what}: not done within {DEADLINE:?}");
}

/// Payloads of the sizes the interop tests exchange.
pub fn payloads() -> Vec<Vec<u8>> {
    [1usize, 100, 1200]
        .iter()
        .map(|&len| (0..len).map(|i| (i * 7) as u8).collect())
        .collect()
}
