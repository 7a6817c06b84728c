//! A shard and clients driven together over in-memory queues with a fake clock.
//!
//! Modelled on quinn-proto's `Pair`: a seeded network with latency and loss,
//! `drive_until` that fails on livelock, `#[track_caller]` helpers.

mod handshake;
mod hostile;
mod lifecycle;
mod sessions;

use super::client::{ClientSession, ClientState};
use super::server::{ClientIndex, Event, Shard, ShardConfig};
use super::{Outbox, WallClock};
use crate::crypto::{Key, Random};
use crate::token_builder::ConnectTokenBuilder;
use crate::wire::connect_token::ConnectToken;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub(super) const PROTOCOL_ID: u64 = 0x1122_3344_5566_7788;
pub(super) const PRIVATE_KEY: [u8; 32] = [0x42; 32];
pub(super) const UNIX_START: u64 = 1_800_000_000;
/// Fake time advances by this much per step.
pub(super) const TICK: Duration = Duration::from_millis(10);

/// SplitMix64: a small seeded generator for loss decisions and keys.
#[derive(Debug, Clone)]
pub(super) struct SeededRandom(u64);

impl SeededRandom {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `p`.
    pub(super) fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 > 1.0 - p
    }
}

impl Random for SeededRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

pub(super) fn server_addr() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

pub(super) fn client_addr(n: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 2], 50_000 + n))
}

/// A datagram in flight.
#[derive(Debug)]
struct InFlight {
    deliver_at: Instant,
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

/// One client of the pair, with what it received.
#[derive(Debug)]
pub(super) struct TestClient {
    pub(super) client: ClientSession,
    pub(super) addr: SocketAddr,
    pub(super) received: Vec<Vec<u8>>,
}

/// A server shard and clients joined by a simulated network.
#[derive(Debug)]
pub(super) struct Pair {
    pub(super) epoch: Instant,
    pub(super) now: Instant,
    pub(super) server: Shard,
    pub(super) clients: Vec<TestClient>,
    /// Payloads the server received, with their sender.
    pub(super) server_received: Vec<(ClientIndex, Vec<u8>)>,
    pub(super) events: Vec<Event>,
    /// One-way delay of every datagram.
    pub(super) latency: Duration,
    /// Probability that a datagram is lost.
    pub(super) loss: f64,
    /// Datagrams the server sent, by size, for amplification checks.
    pub(super) server_sent_sizes: Vec<usize>,
    /// Set to false to stop the server from sending keep-alives (a server that hangs).
    pub(super) server_alive: bool,
    pub(super) rng: SeededRandom,
    /// Draws token keys and nonces, apart from the loss stream.
    keys: SeededRandom,
    in_flight: VecDeque<InFlight>,
}

impl Pair {
    pub(super) fn new() -> Self {
        Self::with_config(ShardConfig::new(
            PROTOCOL_ID,
            Key::from_bytes(PRIVATE_KEY),
            server_addr(),
        ))
    }

    /// A pair whose server has only `n` slots.
    pub(super) fn with_max_clients(n: usize) -> Self {
        Self::with_config(
            ShardConfig::new(PROTOCOL_ID, Key::from_bytes(PRIVATE_KEY), server_addr())
                .max_clients(n),
        )
    }

    pub(super) fn with_config(config: ShardConfig) -> Self {
        let epoch = Instant::now();
        let mut rng = SeededRandom::new(7);
        let server =
            Shard::new(config, epoch, WallClock::new(epoch, UNIX_START), &mut rng).unwrap();
        Self {
            epoch,
            now: epoch,
            server,
            clients: Vec::new(),
            server_received: Vec::new(),
            events: Vec::new(),
            latency: Duration::from_millis(5),
            loss: 0.0,
            server_sent_sizes: Vec::new(),
            server_alive: true,
            rng,
            keys: SeededRandom::new(99),
            in_flight: VecDeque::new(),
        }
    }

    /// A token for `client_id` naming only this pair's server.
    pub(super) fn token(&mut self, client_id: u64) -> ConnectToken {
        let builder = Self::builder(client_id);
        self.build(&builder)
    }

    /// Seals `builder` now with the pair's private key.
    pub(super) fn build(&mut self, builder: &ConnectTokenBuilder) -> ConnectToken {
        let now = self.unix_now();
        builder
            .build_with(&Key::from_bytes(PRIVATE_KEY), now, &mut self.keys)
            .unwrap()
    }

    /// A builder for `client_id` naming this pair's server, timeout 5 s.
    pub(super) fn builder(client_id: u64) -> ConnectTokenBuilder {
        ConnectTokenBuilder::new(PROTOCOL_ID, client_id)
            .server(server_addr())
            .timeout(Some(Duration::from_secs(5)))
    }

    pub(super) fn unix_now(&self) -> u64 {
        UNIX_START + self.now.duration_since(self.epoch).as_secs()
    }

    /// Adds a client that starts connecting with `token`; returns its index in `clients`.
    pub(super) fn add_client(&mut self, token: ConnectToken) -> usize {
        let n = self.clients.len();
        // The server's table, as a matching build would have.
        let mut client = ClientSession::new().channels(self.server.channel_table().cloned());
        client.connect(self.now, token);
        self.clients.push(TestClient {
            client,
            addr: client_addr(n as u16),
            received: Vec::new(),
        });
        n
    }

    pub(super) fn client(&self, n: usize) -> &ClientSession {
        &self.clients[n].client
    }

    /// Queues `datagrams` sent from `from` now, applying loss.
    fn transmit(&mut self, from: SocketAddr, datagrams: Vec<(SocketAddr, Vec<u8>)>) {
        for (to, bytes) in datagrams {
            if self.loss > 0.0 && self.rng.chance(self.loss) {
                continue;
            }
            self.in_flight.push_back(InFlight {
                deliver_at: self.now + self.latency,
                from,
                to,
                bytes,
            });
        }
    }

    /// Injects a raw datagram, delivered at the next step.
    pub(super) fn inject(&mut self, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        self.in_flight.push_back(InFlight {
            deliver_at: self.now,
            from,
            to,
            bytes,
        });
    }

    /// Delivers what is due, then lets every endpoint update, then advances the clock one tick.
    pub(super) fn step(&mut self) {
        let now = self.now;
        let due: Vec<InFlight> = {
            let (due, later): (VecDeque<_>, VecDeque<_>) =
                self.in_flight.drain(..).partition(|d| d.deliver_at <= now);
            self.in_flight = later;
            due.into()
        };
        for mut d in due {
            if d.to == server_addr() {
                let mut out = Vec::new();
                if let Some(client) =
                    self.server
                        .handle_datagram(now, d.from, &mut d.bytes, &mut out)
                {
                    let mut messages = crate::proto::channel::Inbox::new();
                    self.server.take_messages(&mut messages);
                    for (_, bytes) in messages.iter() {
                        self.server_received.push((client, bytes.to_vec()));
                    }
                }
                self.record_server_sends(&out);
                self.transmit(server_addr(), out);
            } else if let Some(c) = self.clients.iter_mut().find(|c| c.addr == d.to) {
                if c.client.handle_datagram(now, d.from, &mut d.bytes) {
                    while let Some(message) = c.client.recv() {
                        c.received.push(message.bytes);
                    }
                }
            }
        }
        if self.server_alive {
            let mut out = Vec::new();
            self.server.update(now, &mut out);
            self.server.poll_transmit(now, &mut out);
            self.record_server_sends(&out);
            self.transmit(server_addr(), out);
        }
        while let Some(e) = self.server.poll_event() {
            self.events.push(e);
        }
        for n in 0..self.clients.len() {
            let mut out = Vec::new();
            self.clients[n].client.update(now, &mut out);
            self.clients[n].client.poll_transmit(now, &mut out);
            let from = self.clients[n].addr;
            self.transmit(from, out);
        }
        self.now += TICK;
    }

    fn record_server_sends(&mut self, out: &[(SocketAddr, Vec<u8>)]) {
        self.server_sent_sizes
            .extend(out.iter().map(|(_, b)| b.len()));
    }

    /// Steps until `done` holds; fails after `max_steps` (a livelock guard).
    #[track_caller]
    pub(super) fn drive_until(&mut self, max_steps: usize, mut done: impl FnMut(&Self) -> bool) {
        for _ in 0..max_steps {
            if done(self) {
                return;
            }
            self.step();
        }
        assert!(done(self), "condition not met after {max_steps} steps");
    }

    /// Steps `n` times.
    pub(super) fn run(&mut self, n: usize) {
        for _ in 0..n {
            self.step();
        }
    }

    /// Connects client `n`, failing if it takes more than 2 s of fake time.
    #[track_caller]
    pub(super) fn expect_connected(&mut self, n: usize) {
        self.drive_until(200, |p| p.client(n).state() == ClientState::Connected);
    }

    /// Sends a payload from client `n` to the server.
    pub(super) fn client_send(&mut self, n: usize, payload: &[u8]) {
        let mut out = Vec::new();
        self.clients[n]
            .client
            .send(
                self.now,
                crate::proto::channel::ChannelId::RAW,
                payload,
                &mut out,
            )
            .unwrap();
        let from = self.clients[n].addr;
        self.transmit(from, out);
    }

    /// Sends a payload from the server to `client`.
    pub(super) fn server_send(&mut self, client: ClientIndex, payload: &[u8]) {
        let mut out = Vec::new();
        self.server
            .send(
                self.now,
                client,
                crate::proto::channel::ChannelId::RAW,
                payload,
                &mut out,
            )
            .unwrap();
        self.transmit(server_addr(), out);
    }

    /// Runs a server-side call that emits datagrams, and sends them.
    pub(super) fn with_server_out(&mut self, f: impl FnOnce(&mut Shard, &mut dyn Outbox)) {
        let mut out = Vec::new();
        f(&mut self.server, &mut out);
        self.record_server_sends(&out);
        self.transmit(server_addr(), out);
    }

    /// Runs a call on client `n` that emits datagrams, and sends them.
    pub(super) fn with_client_out(
        &mut self,
        n: usize,
        f: impl FnOnce(&mut ClientSession, &mut dyn Outbox),
    ) {
        let mut out = Vec::new();
        f(&mut self.clients[n].client, &mut out);
        let from = self.clients[n].addr;
        self.transmit(from, out);
    }
}

/// An epoch for unit tests of the proto layer: the one real clock read
/// they need, kept here where the layering check allows it. Tests move
/// time by adding to it.
pub(crate) fn epoch() -> Instant {
    Instant::now()
}
