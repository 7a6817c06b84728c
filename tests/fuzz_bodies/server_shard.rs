//! Fuzz body for the sans-IO server shard: arbitrary bytes as a script of
//! operations against one [`Shard`] and a few real [`ClientSession`]s.
//!
//! A shard is only interesting past the handshake, and a fuzzer cannot forge
//! a connect token or a packet tag. So the bytes do not become datagrams
//! directly: they decode into [`Op`]s (advance the fake clock, let client
//! `k` update and send, deliver the server's queued datagrams, mutate or
//! replay an earlier datagram, inject raw bytes from one of a few source
//! addresses, call the server's `update`/`send`/`disconnect`, ...) played
//! against clients that hold valid tokens. Two rounds of [`Op::Pump`] connect
//! the clients; everything after that runs against live connections.
//!
//! After every operation the body checks what must hold whatever the
//! datagrams were (STYLE.md §4): no panic; the tables stay within their
//! configured bounds; the events the shard reports match its getters; its
//! [`Stats`] account for every datagram handed to it, once; a dropped
//! datagram changes nothing a peer can see; and nothing the shard sends in
//! reply to a source that is not connected is as large as what caused it.
//!
//! The same script runs against raw sessions ([`server_shard`], what
//! standard netcode peers speak) and against sessions on the standard
//! channel table ([`server_shard_channels`]): there sends are queued and
//! written by `poll_transmit`, payloads carry acks and any number of
//! messages, and reliable data is resent on the shard's own deadlines.
//!
//! Everything is fixed: keys and nonces come from a seeded SplitMix64, the
//! wall clock is anchored at [`UNIX_START`], and time only moves forward, by
//! [`Op::Advance`]. One body, two drivers: `tests/server_shard_properties.rs`
//! runs it under proptest, `fuzz/fuzz_targets/server_shard.rs` under
//! libFuzzer.

use super::{PRIVATE_KEY, PROTOCOL_ID};
use berth::proto::WallClock;
use berth::proto::channel::{ChannelId, ChannelTable, Inbox, standard};
use berth::proto::client::{ClientSession, ClientState};
use berth::proto::server::{ClientIndex, DisconnectReason, Event, Shard, ShardConfig, Stats};
use berth::proto::{DISCONNECT_PACKETS, Outbox};
use berth::wire::packet::{ConnectionRequest, MAX_PAYLOAD_LEN, REQUEST_LEN};
use berth::{ConnectToken, ConnectTokenBuilder, Key, Random};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Unix time at the fake clock's epoch; every token is issued then.
pub const UNIX_START: u64 = 1_800_000_000;
/// Slots of the shard under test: fewer than [`NUM_CLIENTS`], so one is denied.
pub const MAX_CLIENTS: usize = 2;
/// Handshakes the shard may hold at once.
pub const MAX_PENDING: usize = 2;
/// Tokens the shard remembers; small, so old ones are forgotten.
pub const TOKEN_LOG_LEN: usize = 2;
/// Real clients driven by the script.
pub const NUM_CLIENTS: usize = 3;
/// Most operations one input runs.
pub const MAX_OPS: usize = 256;
/// Longest raw datagram an [`Op::Inject`] carries.
pub const MAX_INJECT_LEN: usize = 1300;
/// Longest single clock step, in milliseconds.
pub const MAX_ADVANCE_MS: u16 = 2000;
/// Handshake timeout for tokens without one.
const PENDING_TIMEOUT: Duration = Duration::from_secs(3);
/// Datagrams remembered for replay and mutation, per direction.
const HISTORY_LEN: usize = 16;
/// Datagrams the server may have queued before the oldest is lost.
const SERVER_QUEUE_LEN: usize = 64;
/// Most packets one `poll_transmit` writes for one peer (the shard's and
/// the client's bound), plus the keep-alive that may precede them.
const MAX_PACKETS_PER_WRITE: usize = 64 + 1;

/// The address the shard's tokens name.
pub fn server_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40_000))
}

/// A server nobody runs: named by some tokens, datagrams to it are lost.
pub fn unreachable_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40_001))
}

/// Where client `k` sends from.
pub fn client_addr(k: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 2], 50_000 + k as u16))
}

/// Source addresses for injected and spoofed datagrams: the clients' own,
/// two strangers (IPv4 and IPv6) and the server's.
pub fn source_addr(s: u8) -> SocketAddr {
    let s = usize::from(s) % NUM_SOURCES;
    if s < NUM_CLIENTS {
        return client_addr(s);
    }
    match s - NUM_CLIENTS {
        0 => SocketAddr::from(([10, 9, 8, 7], 6_000)),
        1 => "[2001:db8::1]:7000".parse().expect("a literal address"),
        _ => server_addr(),
    }
}

/// How many addresses [`source_addr`] picks from.
pub const NUM_SOURCES: usize = NUM_CLIENTS + 3;

/// SplitMix64: the seeded generator behind every key and nonce here.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Random for SplitMix64 {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// The tokens the script can hand a client or inject as a request, all
/// issued at [`UNIX_START`] from fixed seeds. Clients start with 0, 1, 2.
///
/// | # | client id | servers            | timeout | note                     |
/// |---|-----------|--------------------|---------|--------------------------|
/// | 0 | 1         | server             | 5 s     |                          |
/// | 1 | 2         | server             | none    | never times out          |
/// | 2 | 3         | unreachable, server| 1 s     | fails over to the server |
/// | 3 | 1         | server             | 5 s     | same client id as 0      |
/// | 4 | 4         | unreachable        | 5 s     | not for this server      |
/// | 5 | 5         | server             | 5 s     | another protocol id      |
/// | 6 | 6         | server             | 5 s     | expires after 3 s        |
/// | 7 | 7         | server             | 5 s     | sealed with another key  |
pub fn tokens() -> &'static [ConnectToken] {
    static TOKENS: OnceLock<Vec<ConnectToken>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let key = Key::from_bytes(PRIVATE_KEY);
        let other_key = Key::from_bytes([0x5a; 32]);
        let five = Some(Duration::from_secs(5));
        let plain = |id: u64| ConnectTokenBuilder::new(PROTOCOL_ID, id).server(server_addr());
        let specs = [
            (plain(1).timeout(five), &key),
            (plain(2).timeout(None), &key),
            (
                ConnectTokenBuilder::new(PROTOCOL_ID, 3)
                    .server(unreachable_addr())
                    .server(server_addr())
                    .timeout(Some(Duration::from_secs(1))),
                &key,
            ),
            (plain(1).timeout(five), &key),
            (
                ConnectTokenBuilder::new(PROTOCOL_ID, 4)
                    .server(unreachable_addr())
                    .timeout(five),
                &key,
            ),
            (
                ConnectTokenBuilder::new(PROTOCOL_ID ^ 0xff, 5)
                    .server(server_addr())
                    .timeout(five),
                &key,
            ),
            (
                plain(6).timeout(five).expire_after(Duration::from_secs(3)),
                &key,
            ),
            (plain(7).timeout(five), &other_key),
        ];
        specs
            .into_iter()
            .zip(0u8..)
            .map(|((builder, key), n)| {
                builder
                    .user_data([n; 256])
                    .build_with(key, UNIX_START, &mut SplitMix64::new(1000 + u64::from(n)))
                    .expect("fixed token inputs are valid")
            })
            .collect()
    })
}

/// One step of a script. Fields hold raw bytes from the input; the runner
/// reduces them modulo what they index, so every input is a valid script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Moves the fake clock forward by `ms` (0..=2000) milliseconds.
    Advance {
        /// Milliseconds.
        ms: u16,
    },
    /// Client `client` updates; what it sends to the server is delivered.
    ClientUpdate {
        /// Client selector.
        client: u8,
    },
    /// Delivers every queued server datagram, losing the `i`th when bit
    /// `i % 8` of `lose` is set (lost ones are remembered all the same).
    DeliverServer {
        /// Loss mask.
        lose: u8,
    },
    /// Delivers a remembered datagram with byte `at` XORed with `xor`:
    /// `pick & 0x7f` back from the newest of those sent to the server when
    /// `pick < 128`, else of those the server sent.
    Mutate {
        /// History selector; the top bit picks the direction.
        pick: u8,
        /// Byte position, modulo the datagram's length.
        at: u16,
        /// XOR mask (0 replays it unchanged).
        xor: u8,
    },
    /// Delivers raw bytes to the server from [`source_addr`]`(source)`.
    Inject {
        /// Source selector.
        source: u8,
        /// The datagram, at most [`MAX_INJECT_LEN`] bytes.
        bytes: Vec<u8>,
    },
    /// Delivers a remembered datagram again, as [`Op::Mutate`] picks it,
    /// from its original source or, when `source` selects one, a spoofed one.
    Replay {
        /// History selector; the top bit picks the direction.
        pick: u8,
        /// `source % (NUM_SOURCES + 1)`: a [`source_addr`], or the original.
        source: u8,
    },
    /// `server.update(now)`.
    ServerUpdate,
    /// `server.send` of a `len % 1202`-byte payload to a slot (one past
    /// the last slot is out of range).
    ServerSend {
        /// Slot selector.
        slot: u8,
        /// Payload length selector.
        len: u16,
    },
    /// `server.disconnect` of a slot; one past the last is out of range,
    /// two past is `disconnect_all`.
    ServerDisconnect {
        /// Slot selector.
        slot: u8,
    },
    /// Client `client` disconnects; its disconnect packets are delivered
    /// when `deliver`, lost (but remembered) otherwise.
    ClientDisconnect {
        /// Client selector.
        client: u8,
        /// Whether the server hears of it.
        deliver: bool,
    },
    /// Client `client` starts connecting with [`tokens`]`()[token % 8]`.
    ClientConnect {
        /// Client selector.
        client: u8,
        /// Token selector.
        token: u8,
    },
    /// Client `client` sends a `len % 1202`-byte payload, delivered.
    ClientSend {
        /// Client selector.
        client: u8,
        /// Payload length selector.
        len: u16,
    },
    /// The connection request of a token, from any source.
    InjectRequest {
        /// Source selector.
        source: u8,
        /// Token selector.
        token: u8,
    },
    /// Raw bytes to a client, as if from the server.
    InjectToClient {
        /// Client selector.
        client: u8,
        /// The datagram, at most [`MAX_INJECT_LEN`] bytes.
        bytes: Vec<u8>,
    },
    /// `1 + rounds % 4` rounds of: server update, every client updates and
    /// sends, every queued server datagram is delivered.
    Pump {
        /// Round count selector.
        rounds: u8,
    },
}

/// How many kinds of [`Op`] there are; an op byte is read modulo this.
const OP_KINDS: u8 = 15;

/// Reads an input front to back; past the end every read is 0.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// A length-prefixed byte string, cut to what the input still holds.
    ///
    /// A length byte under [`LONG_LEN`] gives a length under 64, so that
    /// arbitrary input is not swallowed by one datagram; from it on, a u16
    /// (modulo `MAX_INJECT_LEN + 1`) follows.
    fn bytes(&mut self) -> Vec<u8> {
        let len = match self.u8() {
            short @ 0..LONG_LEN => usize::from(short % 64),
            _ => usize::from(self.u16()) % (MAX_INJECT_LEN + 1),
        };
        let (bytes, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        bytes.to_vec()
    }
}

impl Op {
    /// Decodes `data` into at most [`MAX_OPS`] operations.
    pub fn decode_all(data: &[u8]) -> Vec<Self> {
        let mut cursor = Cursor(data);
        let mut ops = Vec::new();
        while !cursor.0.is_empty() && ops.len() < MAX_OPS {
            ops.push(Self::decode(&mut cursor));
        }
        ops
    }

    fn decode(c: &mut Cursor<'_>) -> Self {
        match c.u8() % OP_KINDS {
            0 => Self::Advance {
                ms: c.u16() % (MAX_ADVANCE_MS + 1),
            },
            1 => Self::ClientUpdate { client: c.u8() },
            2 => Self::DeliverServer { lose: c.u8() },
            3 => Self::Mutate {
                pick: c.u8(),
                at: c.u16(),
                xor: c.u8(),
            },
            4 => Self::Inject {
                source: c.u8(),
                bytes: c.bytes(),
            },
            5 => Self::Replay {
                pick: c.u8(),
                source: c.u8(),
            },
            6 => Self::ServerUpdate,
            7 => Self::ServerSend {
                slot: c.u8(),
                len: c.u16(),
            },
            8 => Self::ServerDisconnect { slot: c.u8() },
            9 => Self::ClientDisconnect {
                client: c.u8(),
                deliver: c.u8() & 1 == 1,
            },
            10 => Self::ClientConnect {
                client: c.u8(),
                token: c.u8(),
            },
            11 => Self::ClientSend {
                client: c.u8(),
                len: c.u16(),
            },
            12 => Self::InjectRequest {
                source: c.u8(),
                token: c.u8(),
            },
            13 => Self::InjectToClient {
                client: c.u8(),
                bytes: c.bytes(),
            },
            _ => Self::Pump { rounds: c.u8() },
        }
    }

    /// Appends the bytes [`Op::decode_all`] reads back as `self` (for
    /// `ms <= 2000` and byte strings of at most [`MAX_INJECT_LEN`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let u16 = |v: &u16| v.to_le_bytes();
        let (kind, args): (u8, Vec<u8>) = match self {
            Self::Advance { ms } => (0, u16(ms).to_vec()),
            Self::ClientUpdate { client } => (1, vec![*client]),
            Self::DeliverServer { lose } => (2, vec![*lose]),
            Self::Mutate { pick, at, xor } => (3, [&[*pick], &u16(at)[..], &[*xor]].concat()),
            Self::Inject { source, bytes } => (4, with_bytes(*source, bytes)),
            Self::Replay { pick, source } => (5, vec![*pick, *source]),
            Self::ServerUpdate => (6, vec![]),
            Self::ServerSend { slot, len } => (7, [&[*slot], &u16(len)[..]].concat()),
            Self::ServerDisconnect { slot } => (8, vec![*slot]),
            Self::ClientDisconnect { client, deliver } => (9, vec![*client, u8::from(*deliver)]),
            Self::ClientConnect { client, token } => (10, vec![*client, *token]),
            Self::ClientSend { client, len } => (11, [&[*client], &u16(len)[..]].concat()),
            Self::InjectRequest { source, token } => (12, vec![*source, *token]),
            Self::InjectToClient { client, bytes } => (13, with_bytes(*client, bytes)),
            Self::Pump { rounds } => (14, vec![*rounds]),
        };
        out.push(kind);
        out.extend_from_slice(&args);
    }

    /// The bytes of a whole script.
    pub fn encode_all(ops: &[Self]) -> Vec<u8> {
        let mut out = Vec::new();
        for op in ops {
            op.encode(&mut out);
        }
        out
    }
}

/// A byte string's length byte at or past this says a u16 length follows.
const LONG_LEN: u8 = 0xc0;

/// `first`, then `bytes` (cut to [`MAX_INJECT_LEN`]) behind its length, as
/// [`Cursor::bytes`] reads it.
fn with_bytes(first: u8, bytes: &[u8]) -> Vec<u8> {
    let bytes = &bytes[..bytes.len().min(MAX_INJECT_LEN)];
    let mut out = vec![first];
    match u8::try_from(bytes.len()) {
        Ok(short) if short < 64 => out.push(short),
        _ => {
            out.push(LONG_LEN);
            out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        }
    }
    out.extend_from_slice(bytes);
    out
}

/// What one run reached, for drivers that want to know it went deep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Operations run.
    pub ops: usize,
    /// Datagrams handed to the server.
    pub handled: u64,
    /// Connected events.
    pub connects: u64,
    /// Disconnected events.
    pub disconnects: u64,
    /// Payloads the server delivered.
    pub payloads_in: u64,
    /// Payloads the clients delivered.
    pub payloads_out: u64,
    /// Most clients connected at once.
    pub most_connected: usize,
    /// Datagrams dropped by the server.
    pub dropped: u64,
    /// Datagrams the server handled from a connected source without dropping.
    pub accepted_from_connected: u64,
    /// The server's counters at the end.
    pub stats: Stats,
}

/// Runs `data` as a script against raw sessions; panics if an invariant breaks.
pub fn server_shard(data: &[u8]) {
    let _ = server_shard_run(data);
}

/// Runs `data` as a script against sessions on the standard channel
/// table; panics if an invariant breaks.
pub fn server_shard_channels(data: &[u8]) {
    let _ = server_shard_channels_run(data);
}

/// Runs `data` against raw sessions and says how far it got; panics if an
/// invariant breaks.
pub fn server_shard_run(data: &[u8]) -> Summary {
    run(data, None)
}

/// Runs `data` against channel sessions and says how far it got; panics
/// if an invariant breaks.
pub fn server_shard_channels_run(data: &[u8]) -> Summary {
    run(data, Some(ChannelTable::standard()))
}

fn run(data: &[u8], table: Option<ChannelTable>) -> Summary {
    let mut harness = Harness::new(table);
    harness.check();
    for op in Op::decode_all(data) {
        harness.apply(&op);
        harness.check();
        harness.summary.ops += 1;
    }
    harness.summary
}

/// What the events told us is in a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Occupant {
    client: ClientIndex,
    client_id: u64,
    address: SocketAddr,
}

/// A datagram remembered for replay: where it went, from where, and its bytes.
#[derive(Debug, Clone)]
struct Sent {
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

struct Harness {
    /// Whether sessions carry channels (else raw payloads).
    channels: bool,
    now: Instant,
    server: Shard,
    clients: Vec<ClientSession>,
    /// Server datagrams not yet delivered.
    server_queue: VecDeque<(SocketAddr, Vec<u8>)>,
    to_server: VecDeque<Sent>,
    from_server: VecDeque<Sent>,
    /// The slots as the event stream describes them.
    slots: [Option<Occupant>; MAX_CLIENTS],
    /// The last handle each slot was given; stale once its client left.
    handles: [Option<ClientIndex>; MAX_CLIENTS],
    /// Datagrams the server emitted, counted here.
    emitted: u64,
    /// `handle_datagram` calls that dropped nothing.
    successes: u64,
    last_stats: Stats,
    summary: Summary,
}

impl Harness {
    fn new(table: Option<ChannelTable>) -> Self {
        let now = Instant::now();
        let channels = table.is_some();
        let config = ShardConfig::new(PROTOCOL_ID, Key::from_bytes(PRIVATE_KEY), server_addr())
            .max_clients(MAX_CLIENTS)
            .max_pending(MAX_PENDING)
            .token_log_len(TOKEN_LOG_LEN)
            .pending_timeout(PENDING_TIMEOUT)
            .channels(table.clone());
        let clock = WallClock::new(now, UNIX_START);
        let server = Shard::new(config, now, clock, &mut SplitMix64::new(7))
            .expect("the fixed configuration is valid");
        let clients = (0..NUM_CLIENTS)
            .map(|k| {
                let mut client = ClientSession::new().channels(table.clone());
                client.connect(now, tokens()[k].clone());
                client
            })
            .collect();
        Self {
            channels,
            now,
            server,
            clients,
            server_queue: VecDeque::new(),
            to_server: VecDeque::new(),
            from_server: VecDeque::new(),
            slots: [None; MAX_CLIENTS],
            handles: [None; MAX_CLIENTS],
            emitted: 0,
            successes: 0,
            last_stats: Stats::default(),
            summary: Summary::default(),
        }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Advance { ms } => {
                self.now += Duration::from_millis(u64::from(*ms % (MAX_ADVANCE_MS + 1)));
            }
            Op::ClientUpdate { client } => self.client_update(client_of(*client)),
            Op::DeliverServer { lose } => self.deliver_server_queue(*lose),
            Op::Mutate { pick, at, xor } => {
                if let Some(mut sent) = self.remembered(*pick) {
                    if !sent.bytes.is_empty() {
                        let at = usize::from(*at) % sent.bytes.len();
                        sent.bytes[at] ^= xor;
                    }
                    self.deliver(sent.from, sent.to, sent.bytes);
                }
            }
            Op::Inject { source, bytes } => {
                self.deliver_to_server(source_addr(*source), bytes.clone(), true);
            }
            Op::Replay { pick, source } => {
                if let Some(sent) = self.remembered(*pick) {
                    let from = if usize::from(*source) % (NUM_SOURCES + 1) == NUM_SOURCES {
                        sent.from
                    } else {
                        source_addr(*source)
                    };
                    self.deliver(from, sent.to, sent.bytes);
                }
            }
            Op::ServerUpdate => self.server_update(),
            Op::ServerSend { slot, len } => self.server_send(*slot, *len),
            Op::ServerDisconnect { slot } => self.server_disconnect(*slot),
            Op::ClientDisconnect { client, deliver } => {
                let k = client_of(*client);
                let mut out = Vec::new();
                let was_connected = self.clients[k].state() == ClientState::Connected;
                self.clients[k].disconnect(&mut out);
                assert_eq!(self.clients[k].state(), ClientState::Disconnected);
                let expected = if was_connected { DISCONNECT_PACKETS } else { 0 };
                assert_eq!(out.len(), expected, "client disconnect packets");
                self.deliver_client_out(k, out, !*deliver);
            }
            Op::ClientConnect { client, token } => {
                let token = &tokens()[usize::from(*token) % tokens().len()];
                let k = client_of(*client);
                self.clients[k].connect(self.now, token.clone());
                assert_eq!(
                    self.clients[k].state(),
                    ClientState::SendingConnectionRequest
                );
            }
            Op::ClientSend { client, len } => {
                let k = client_of(*client);
                let len = usize::from(*len) % (MAX_PAYLOAD_LEN + 2);
                let payload = payload(len);
                let mut out = Vec::new();
                let connected = self.clients[k].state() == ClientState::Connected;
                let now = self.now;
                if self.channels {
                    // Reliable-ordered takes any length up to the table's
                    // largest message, and the budget outlasts a script.
                    let sent =
                        self.clients[k].send(now, standard::RELIABLE_ORDERED, &payload, &mut out);
                    assert_eq!(sent.is_ok(), connected, "client send: {sent:?}");
                    assert!(out.is_empty(), "a channel send only queues");
                    self.clients[k].poll_transmit(now, &mut out);
                    assert_eq!(!out.is_empty(), connected, "queued but not written");
                } else {
                    let sent = self.clients[k].send(now, ChannelId::RAW, &payload, &mut out);
                    assert_eq!(
                        sent.is_ok(),
                        connected && (1..=MAX_PAYLOAD_LEN).contains(&len),
                        "client send of {len} bytes: {sent:?}"
                    );
                    assert_eq!(out.len(), usize::from(sent.is_ok()));
                }
                self.deliver_client_out(k, out, false);
            }
            Op::InjectRequest { source, token } => {
                let token = &tokens()[usize::from(*token) % tokens().len()];
                let mut request = vec![0u8; REQUEST_LEN];
                let len = ConnectionRequest::from_token(token)
                    .emit(&mut request)
                    .expect("a request fits its length");
                assert_eq!(len, REQUEST_LEN);
                self.deliver_to_server(source_addr(*source), request, true);
            }
            Op::InjectToClient { client, bytes } => {
                self.deliver_to_client(server_addr(), client_addr(client_of(*client)), bytes);
            }
            Op::Pump { rounds } => {
                for _ in 0..=rounds % 4 {
                    self.server_update();
                    for k in 0..NUM_CLIENTS {
                        self.client_update(k);
                    }
                    self.deliver_server_queue(0);
                }
            }
        }
    }

    /// A remembered datagram, `pick & 0x7f` back from the newest (modulo
    /// how many there are): one sent to the server when `pick < 128`, else
    /// one the server sent.
    fn remembered(&self, pick: u8) -> Option<Sent> {
        let history = if pick < 128 {
            &self.to_server
        } else {
            &self.from_server
        };
        let back = usize::from(pick & 0x7f) % history.len().max(1);
        history.iter().rev().nth(back).cloned()
    }

    fn client_update(&mut self, k: usize) {
        let mut out = Vec::new();
        self.clients[k].update(self.now, &mut out);
        self.clients[k].poll_transmit(self.now, &mut out);
        self.deliver_client_out(k, out, false);
    }

    /// The server's timers, then what its sessions have due.
    fn server_update(&mut self) {
        self.server_call(|server, now, out| {
            server.update(now, out);
            server.poll_transmit(now, out);
        });
    }

    /// Delivers what client `k` sent to the server, unless `lose`. What is
    /// lost or went elsewhere is still remembered, for replay: an attacker
    /// on the path may have caught it.
    fn deliver_client_out(&mut self, k: usize, out: Vec<(SocketAddr, Vec<u8>)>, lose: bool) {
        let most = if self.channels {
            MAX_PACKETS_PER_WRITE.max(DISCONNECT_PACKETS)
        } else {
            DISCONNECT_PACKETS
        };
        assert!(out.len() <= most, "a client burst of {}", out.len());
        for (to, bytes) in out {
            if to == server_addr() && !lose {
                self.deliver_to_server(client_addr(k), bytes, true);
            } else {
                assert!(
                    to == server_addr() || to == unreachable_addr(),
                    "a client sent to {to}, which no token names"
                );
                remember(
                    &mut self.to_server,
                    Sent {
                        from: client_addr(k),
                        to,
                        bytes,
                    },
                );
            }
        }
    }

    /// Delivers a copy of a remembered datagram (not remembered again)
    /// from `from` to whichever endpoint `to` is.
    fn deliver(&mut self, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        if to == server_addr() || to == unreachable_addr() {
            // Datagrams meant for the other server reach this one too.
            self.deliver_to_server(from, bytes, false);
        } else {
            self.deliver_to_client(from, to, &bytes);
        }
    }

    fn deliver_server_queue(&mut self, lose: u8) {
        let queue = std::mem::take(&mut self.server_queue);
        for (i, (to, bytes)) in queue.into_iter().enumerate() {
            if lose & (1 << (i % 8)) == 0 {
                self.deliver_to_client(server_addr(), to, &bytes);
            }
            remember(
                &mut self.from_server,
                Sent {
                    from: server_addr(),
                    to,
                    bytes,
                },
            );
        }
    }

    fn deliver_to_client(&mut self, from: SocketAddr, to: SocketAddr, bytes: &[u8]) {
        let Some(k) = (0..NUM_CLIENTS).find(|&k| client_addr(k) == to) else {
            return;
        };
        let mut buf = bytes.to_vec();
        if self.clients[k].handle_datagram(self.now, from, &mut buf) {
            if self.channels {
                // Any number of messages, each one a whole message sent.
                while let Some(message) = self.clients[k].recv() {
                    assert_eq!(message.channel, standard::RELIABLE_ORDERED);
                    assert!(message.bytes.len() <= MAX_PAYLOAD_LEN + 1);
                }
            } else {
                let message = self.clients[k]
                    .recv()
                    .expect("a raw payload is one message");
                assert_eq!(self.clients[k].recv(), None, "a raw payload is one message");
                assert!((1..=MAX_PAYLOAD_LEN).contains(&message.bytes.len()));
            }
            assert_eq!(
                self.clients[k].state(),
                ClientState::Connected,
                "a payload reached a client that is not connected"
            );
            self.summary.payloads_out += 1;
        }
    }

    /// Hands one datagram to the server and checks what it did with it;
    /// remembers it for replay when it is `fresh`.
    fn deliver_to_server(&mut self, from: SocketAddr, bytes: Vec<u8>, fresh: bool) {
        let len = bytes.len();
        let slot_before = self.server.client_at(&from);
        let dropped_before = self.server.stats().dropped_total();
        let mut out: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
        let mut buf = bytes.clone();
        let (server, channels) = (&mut self.server, self.channels);
        let payload = server
            .handle_datagram(self.now, from, &mut buf, &mut out)
            .map(|client| {
                let mut messages = Inbox::new();
                server.take_messages(&mut messages);
                assert!(!messages.is_empty(), "a delivery without messages");
                if channels {
                    for (channel, bytes) in messages.iter() {
                        assert_eq!(channel, standard::RELIABLE_ORDERED);
                        assert!(bytes.len() <= MAX_PAYLOAD_LEN + 1);
                    }
                    return (client, None);
                }
                assert_eq!(messages.len(), 1, "a raw payload is one message");
                let (channel, bytes) = messages.iter().next().unwrap();
                assert_eq!(channel, ChannelId::RAW);
                (client, Some(bytes.len()))
            });
        self.summary.handled += 1;
        let dropped = self.server.stats().dropped_total() - dropped_before;
        let events = self.drain_events();

        assert!(dropped <= 1, "one datagram counted as {dropped} drops");
        if dropped == 1 {
            assert!(
                payload.is_none() && out.is_empty() && events.is_empty(),
                "a dropped datagram had an effect: {payload:?}, {} sent, {events:?}",
                out.len()
            );
        } else {
            self.successes += 1;
            if slot_before.is_some() {
                self.summary.accepted_from_connected += 1;
            } else {
                assert!(
                    !out.is_empty(),
                    "a handshake datagram of {len} bytes from {from} was neither dropped nor answered"
                );
            }
        }
        if slot_before.is_none() {
            // No amplification towards an address that has not proved it
            // receives what is sent to it.
            let total: usize = out.iter().map(|(_, b)| b.len()).sum();
            assert!(out.len() <= 1, "{} replies to one datagram", out.len());
            assert!(
                total == 0 || total < len,
                "{total}-byte reply to a {len}-byte datagram from unconnected {from}"
            );
            assert!(
                out.iter().all(|(to, _)| *to == from),
                "reply sent elsewhere"
            );
        }
        if let Some((client, payload_len)) = payload {
            assert_eq!(
                slot_before,
                Some(client),
                "payload from {from} in the wrong slot"
            );
            if let Some(payload_len) = payload_len {
                assert!((1..=MAX_PAYLOAD_LEN).contains(&payload_len));
                assert!(payload_len < len);
            }
            self.summary.payloads_in += 1;
        }
        self.queue_server_out(out);
        if fresh {
            remember(
                &mut self.to_server,
                Sent {
                    from,
                    to: server_addr(),
                    bytes,
                },
            );
        }
    }

    /// Runs a server call that emits datagrams; they may only go to clients
    /// connected before the call.
    fn server_call(&mut self, f: impl FnOnce(&mut Shard, Instant, &mut dyn Outbox)) {
        let connected: Vec<SocketAddr> = self.slots.iter().flatten().map(|o| o.address).collect();
        let mut out = Vec::new();
        f(&mut self.server, self.now, &mut out);
        assert!(
            out.iter().all(|(to, _)| connected.contains(to)),
            "the server sent to an address that was not connected"
        );
        self.drain_events();
        self.queue_server_out(out);
    }

    fn server_send(&mut self, slot: u8, len: u16) {
        let slot = usize::from(slot) % MAX_CLIENTS;
        let len = usize::from(len) % (MAX_PAYLOAD_LEN + 2);
        let occupant = self.slots.get(slot).copied().flatten();
        // The current occupant's handle, or a stale one, which must fail.
        let Some(client) = self.handles.get(slot).copied().flatten() else {
            return;
        };
        let payload = payload(len);
        let mut result = Ok(());
        let channels = self.channels;
        let emitted_before = self.emitted;
        self.server_call(|server, now, out| {
            if channels {
                let mut queued = Vec::new();
                result = server.send(
                    now,
                    client,
                    standard::RELIABLE_ORDERED,
                    &payload,
                    &mut queued,
                );
                assert!(queued.is_empty(), "a channel send only queues");
                server.poll_transmit(now, out);
            } else {
                result = server.send(now, client, ChannelId::RAW, &payload, out);
            }
        });
        let written = self.emitted - emitted_before;
        let len_ok = channels || (1..=MAX_PAYLOAD_LEN).contains(&len);
        assert_eq!(
            result.is_ok(),
            occupant.is_some() && len_ok,
            "server send of {len} bytes to slot {slot}: {result:?}"
        );
        if result.is_ok() {
            assert!(written > 0, "a message sent, nothing written");
        }
    }

    fn server_disconnect(&mut self, slot: u8) {
        let slot = usize::from(slot) % (MAX_CLIENTS + 2);
        let before = self.server.stats().sent;
        let events_before = self.summary.disconnects;
        let expected = if slot == MAX_CLIENTS + 1 {
            self.slots.iter().flatten().count()
        } else {
            usize::from(self.slots.get(slot).copied().flatten().is_some())
        };
        let handle = self.handles.get(slot).copied().flatten();
        self.server_call(|server, _, out| {
            if slot == MAX_CLIENTS + 1 {
                server.disconnect_all(out);
            } else if let Some(client) = handle {
                server.disconnect(client, out);
            }
        });
        assert_eq!(self.summary.disconnects - events_before, expected as u64);
        assert_eq!(
            self.server.stats().sent - before,
            (expected * DISCONNECT_PACKETS) as u64
        );
        if let Some(client) = handle {
            assert!(!self.server.is_connected(client));
        } else if slot == MAX_CLIENTS + 1 {
            assert_eq!(self.server.connected_count(), 0);
        }
    }

    fn queue_server_out(&mut self, out: Vec<(SocketAddr, Vec<u8>)>) {
        self.emitted += out.len() as u64;
        for datagram in out {
            if self.server_queue.len() >= SERVER_QUEUE_LEN {
                self.server_queue.pop_front();
            }
            self.server_queue.push_back(datagram);
        }
    }

    /// Drains the server's events into the slot model, checking each.
    fn drain_events(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(event) = self.server.poll_event() {
            match event {
                Event::Connected {
                    client,
                    client_id,
                    address,
                } => {
                    let slot = self
                        .slots
                        .get_mut(client.get() as usize)
                        .expect("a connected slot within max_clients");
                    assert!(slot.is_none(), "connected into occupied slot {client:?}");
                    *slot = Some(Occupant {
                        client,
                        client_id,
                        address,
                    });
                    let handle = &mut self.handles[client.get() as usize];
                    assert_ne!(*handle, Some(client), "a slot's handle was reused");
                    *handle = Some(client);
                    let ids = self
                        .slots
                        .iter()
                        .flatten()
                        .filter(|o| o.client_id == client_id);
                    assert_eq!(ids.count(), 1, "client id {client_id} connected twice");
                    let addrs = self.slots.iter().flatten().filter(|o| o.address == address);
                    assert_eq!(addrs.count(), 1, "address {address} connected twice");
                    self.summary.connects += 1;
                }
                Event::Disconnected {
                    client,
                    client_id,
                    address,
                    reason,
                } => {
                    let slot = self
                        .slots
                        .get_mut(client.get() as usize)
                        .expect("a disconnected slot within max_clients");
                    let occupant = slot.take().expect("disconnected a free slot");
                    assert_eq!(occupant.client_id, client_id, "{reason:?}");
                    assert_eq!(occupant.address, address, "{reason:?}");
                    assert!(matches!(
                        reason,
                        DisconnectReason::TimedOut
                            | DisconnectReason::ClientDisconnected
                            | DisconnectReason::ServerDisconnected
                    ));
                    self.summary.disconnects += 1;
                }
                _ => {}
            }
            events.push(event);
        }
        events
    }

    /// What must hold after every operation.
    fn check(&mut self) {
        let server = &self.server;
        let stats = server.stats();
        assert_eq!(server.max_clients(), MAX_CLIENTS);
        assert!(server.connected_count() <= MAX_CLIENTS);
        assert!(server.pending_count() <= MAX_PENDING);

        // Events balance, and agree with the getters slot by slot.
        let occupied = self.slots.iter().flatten().count();
        assert_eq!(
            server.connected_count() as u64,
            self.summary.connects - self.summary.disconnects
        );
        assert_eq!(server.connected_count(), occupied);
        for (slot, (occupant, handle)) in self.slots.iter().zip(&self.handles).enumerate() {
            assert_eq!(server.client_in(slot as u32), occupant.map(|o| o.client));
            let Some(index) = *handle else { continue };
            // The last handle names the occupant, or nobody once it left.
            assert_eq!(server.is_connected(index), occupant.is_some());
            assert_eq!(server.client_id(index), occupant.map(|o| o.client_id));
            assert_eq!(server.address(index), occupant.map(|o| o.address));
            if let Some(o) = occupant {
                assert_eq!(server.client_at(&o.address), Some(index));
            }
        }
        assert_eq!(server.client_in(MAX_CLIENTS as u32), None);

        // Every datagram accounted for, once.
        assert_eq!(stats.received, self.summary.handled);
        assert!(stats.dropped_total() + self.successes <= stats.received);
        assert_eq!(stats.dropped_total() + self.successes, stats.received);
        assert_eq!(stats.connects, self.summary.connects);
        assert_eq!(stats.disconnects, self.summary.disconnects);
        if self.channels {
            // A payload of acks alone releases no message.
            assert!(stats.payloads_in >= self.summary.payloads_in);
        } else {
            assert_eq!(stats.payloads_in, self.summary.payloads_in);
        }
        assert_eq!(stats.sent, self.emitted);
        assert!(stats.denied <= stats.sent);

        // Counters never go back.
        let last = &self.last_stats;
        for (now, before) in [
            (stats.received, last.received),
            (stats.payloads_in, last.payloads_in),
            (stats.sent, last.sent),
            (stats.denied, last.denied),
            (stats.dropped_total(), last.dropped_total()),
        ] {
            assert!(now >= before, "a counter went back");
        }
        self.last_stats = stats.clone();
        self.summary.dropped = stats.dropped_total();
        self.summary.stats = stats.clone();
        self.summary.most_connected = self.summary.most_connected.max(occupied);

        // A client only believes what the server authenticated.
        for client in &self.clients {
            if client.state() == ClientState::Connected {
                assert!((client.client_index() as usize) < MAX_CLIENTS);
                assert_eq!(client.max_clients() as usize, MAX_CLIENTS);
                assert_eq!(client.server_address(), Some(server_addr()));
            }
        }
    }
}

fn client_of(selector: u8) -> usize {
    usize::from(selector) % NUM_CLIENTS
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| i as u8).collect()
}

fn remember(history: &mut VecDeque<Sent>, sent: Sent) {
    if history.len() >= HISTORY_LEN {
        history.pop_front();
    }
    history.push_back(sent);
}
