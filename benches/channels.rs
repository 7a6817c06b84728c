//! Channel layer: berth's sans-IO [`Connection`] against renet's, in one run.
//!
//! Both sides do the same work on one reliable-ordered channel with
//! [`N`] messages of 16 and of 512 bytes (distinct contents):
//!
//! - `channels_send/{berth,renet}/{16,512}`: queue the N messages on a fresh
//!   connection and write them all into packets. berth: [`Connection::send`]
//!   each, then [`Connection::write_packet`] into one reused 1200-byte buffer
//!   until it returns 0. renet: [`RenetClient::send_message`] each (a
//!   `Bytes` copied from the slice, as berth copies), then one
//!   [`RenetClient::get_packets_to_send`].
//! - `channels_recv/{berth,renet}/{16,512}`: feed the packets the send side
//!   made, made once ahead, into a fresh receiving connection, then drain
//!   every message. berth: [`Connection::read_packet`] each, then
//!   [`Connection::recv`] until `None`. renet: [`RenetClient::process_packet`]
//!   each, then [`RenetClient::receive_message`] until `None`.
//!
//! Criterion reports elements (messages) per second. Before timing, each
//! size prints once, to stderr, the packets and payload bytes each side
//! writes and the framing bytes per message: payload bytes / N minus the
//! message size. Both count only the payload a netcode packet would carry:
//! berth takes its packet number from the netcode sequence, renet writes its
//! own sequence inside the payload, so renet's figure includes it.
//!
//! renet is configured the default way ([`DefaultChannel::config`]: a
//! reliable-ordered channel with 5 MiB of memory and a 300 ms resend time)
//! except that `available_bytes_per_tick` is unlimited, so one call writes
//! all N messages as berth's loop does (the default 60 000 bytes per tick
//! would hold back most of the 512-byte ones). berth uses its default table
//! limits: N × 512 bytes fits in the 1 MiB send budget and N in the
//! 4096-message window.
//!
//! # Timing
//!
//! As in `benches/crypto.rs`: the bench machine is shared, so each
//! iteration (all N messages) is timed on its own and the median iteration,
//! scaled to criterion's iteration count, is reported ([`median_iteration`]).
//! Making the fresh connection and dropping it afterwards are not timed,
//! nor is dropping the packets renet returns.

use berth::proto::channel::{ChannelId, ChannelKind, ChannelTable, Connection};
use berth::wire::packet::MAX_PAYLOAD_LEN;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use renet::{Bytes, ConnectionConfig, DefaultChannel, RenetClient};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Messages per iteration.
const N: usize = 1000;
/// Message sizes, in bytes.
const SIZES: [usize; 2] = [16, 512];
/// berth's reliable-ordered channel.
const BERTH_CHANNEL: u32 = 1;

/// Runs `setup` then times `routine` on its result, `iters` times, and
/// returns the median time scaled to `iters` runs. `routine`'s result is
/// dropped after its time is taken.
fn median_iteration<S, O>(
    iters: u64,
    mut setup: impl FnMut() -> S,
    mut routine: impl FnMut(&mut S) -> O,
) -> Duration {
    let mut times = Vec::with_capacity(iters as usize);
    for _ in 0..iters {
        let mut state = setup();
        let start = Instant::now();
        let out = routine(&mut state);
        times.push(start.elapsed());
        drop(black_box(out));
        drop(state);
    }
    times.sort_unstable();
    times[times.len() / 2].mul_f64(iters as f64)
}

/// N messages of `len` bytes, each with its own contents.
fn messages(len: usize) -> Vec<Vec<u8>> {
    (0..N)
        .map(|i| (0..len).map(|j| (i + j) as u8).collect())
        .collect()
}

/// berth's channel id for [`BERTH_CHANNEL`].
fn berth_channel() -> ChannelId {
    ChannelId::new(BERTH_CHANNEL).expect("a 24-bit id")
}

/// A fresh berth connection with one reliable-ordered channel.
fn berth_connection() -> Connection {
    let table = ChannelTable::new()
        .channel(BERTH_CHANNEL, ChannelKind::ReliableOrdered)
        .build()
        .expect("a valid table");
    Connection::new(table)
}

/// Queues `messages` on `conn`, then writes packets until there is nothing
/// left, handing each to `sink` with its number. Returns the packet count.
fn berth_send(
    conn: &mut Connection,
    now: Instant,
    messages: &[Vec<u8>],
    buf: &mut [u8],
    mut sink: impl FnMut(u64, &[u8]),
) -> u64 {
    let channel = berth_channel();
    for message in messages {
        conn.send(channel, message).expect("room for N messages");
    }
    let mut number = 0;
    loop {
        let len = conn.write_packet(now, number, buf);
        if len == 0 {
            return number;
        }
        sink(number, &buf[..len]);
        number += 1;
    }
}

/// Feeds numbered `packets` to `conn`, then drains its messages into
/// `sink`. Returns the message count.
fn berth_recv(
    conn: &mut Connection,
    now: Instant,
    packets: &[(u64, Vec<u8>)],
    mut sink: impl FnMut(Vec<u8>),
) -> usize {
    for (number, payload) in packets {
        conn.read_packet(now, *number, payload)
            .expect("a valid packet");
    }
    let mut count = 0;
    while let Some(message) = conn.recv() {
        sink(message.bytes);
        count += 1;
    }
    count
}

/// A fresh renet connection: default channels, no per-tick byte limit.
fn renet_connection() -> RenetClient {
    RenetClient::new(ConnectionConfig {
        available_bytes_per_tick: u64::MAX,
        ..ConnectionConfig::default()
    })
}

/// Queues `messages` on renet's reliable-ordered channel and returns the
/// packets renet writes for them.
fn renet_send(conn: &mut RenetClient, messages: &[Vec<u8>]) -> Vec<Vec<u8>> {
    for message in messages {
        conn.send_message(
            DefaultChannel::ReliableOrdered,
            Bytes::copy_from_slice(message),
        );
    }
    conn.get_packets_to_send()
}

/// Feeds `packets` to `conn`, then drains its reliable-ordered channel into
/// `sink`. Returns the message count.
fn renet_recv(conn: &mut RenetClient, packets: &[Vec<u8>], mut sink: impl FnMut(Bytes)) -> usize {
    for packet in packets {
        conn.process_packet(packet);
    }
    let mut count = 0;
    while let Some(message) = conn.receive_message(DefaultChannel::ReliableOrdered) {
        sink(message);
        count += 1;
    }
    count
}

/// The packets both sides write for one size, checked to carry the
/// messages back intact.
struct Packets {
    /// berth's payloads, with their packet numbers.
    berth: Vec<(u64, Vec<u8>)>,
    /// renet's packets.
    renet: Vec<Vec<u8>>,
}

/// Makes and checks both sides' packets for `messages`, and prints their
/// counts and framing bytes per message.
fn packets(messages: &[Vec<u8>], now: Instant) -> Packets {
    let len = messages[0].len();
    let mut berth = Vec::new();
    let mut buf = [0u8; MAX_PAYLOAD_LEN];
    berth_send(&mut berth_connection(), now, messages, &mut buf, |n, p| {
        berth.push((n, p.to_vec()));
    });
    let mut got = Vec::new();
    berth_recv(&mut berth_connection(), now, &berth, |m| got.push(m));
    assert!(got == messages, "berth delivers the messages in order");

    let mut sender = renet_connection();
    let renet = renet_send(&mut sender, messages);
    assert!(!sender.is_disconnected(), "renet took the messages");
    let mut receiver = renet_connection();
    let mut got = Vec::new();
    renet_recv(&mut receiver, &renet, |m| got.push(m.to_vec()));
    assert!(!receiver.is_disconnected(), "renet read the packets");
    assert!(got == messages, "renet delivers the messages in order");

    let report = |name: &str, sizes: Vec<usize>| {
        let total: usize = sizes.iter().sum();
        let framing = total as f64 / N as f64 - len as f64;
        eprintln!(
            "channels {len:>3} B x {N}: {name:<5} {:>4} packets, {total:>7} payload bytes, \
             {framing:.3} framing bytes/message",
            sizes.len(),
        );
    };
    report("berth", berth.iter().map(|(_, p)| p.len()).collect());
    report("renet", renet.iter().map(Vec::len).collect());
    Packets { berth, renet }
}

/// `channels_send` and `channels_recv`: see the module docs.
fn channels(c: &mut Criterion) {
    let now = Instant::now();
    let sizes: Vec<_> = SIZES
        .iter()
        .map(|&len| {
            let messages = messages(len);
            let packets = packets(&messages, now);
            (len, messages, packets)
        })
        .collect();

    let mut group = c.benchmark_group("channels_send");
    group.throughput(Throughput::Elements(N as u64));
    for (len, messages, _) in &sizes {
        let mut buf = [0u8; MAX_PAYLOAD_LEN];
        group.bench_with_input(BenchmarkId::new("berth", len), messages, |b, messages| {
            b.iter_custom(|iters| {
                median_iteration(iters, berth_connection, |conn| {
                    berth_send(conn, now, black_box(messages), &mut buf, |_, p| {
                        black_box(p);
                    })
                })
            });
        });
        group.bench_with_input(BenchmarkId::new("renet", len), messages, |b, messages| {
            b.iter_custom(|iters| {
                median_iteration(iters, renet_connection, |conn| {
                    renet_send(conn, black_box(messages))
                })
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("channels_recv");
    group.throughput(Throughput::Elements(N as u64));
    for (len, _, packets) in &sizes {
        group.bench_with_input(BenchmarkId::new("berth", len), packets, |b, packets| {
            b.iter_custom(|iters| {
                median_iteration(iters, berth_connection, |conn| {
                    berth_recv(conn, now, black_box(&packets.berth), |m| {
                        black_box(m);
                    })
                })
            });
        });
        group.bench_with_input(BenchmarkId::new("renet", len), packets, |b, packets| {
            b.iter_custom(|iters| {
                median_iteration(iters, renet_connection, |conn| {
                    renet_recv(conn, black_box(&packets.renet), |m| {
                        black_box(m);
                    })
                })
            });
        });
    }
    group.finish();
}

/// Small, quick groups: the whole bench runs in well under two minutes.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = channels
}
criterion_main!(benches);
