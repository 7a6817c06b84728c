//! A full netcode handshake through the sans-IO state machines, no sockets.
//!
//! `handshake/full`: request → challenge → response → keep-alive, both
//! sides' work, on a fresh server. `server_steady_state`: only the server's
//! half (open the private token, seal the challenge; open the response and
//! the challenge token, admit, seal the keep-alive) on one long-lived
//! server, the cost a stream of valid handshakes puts on a running server.
//! Servers, clients and tokens are made outside the timing.

use berth::proto::WallClock;
use berth::proto::client::{ClientSession, ClientState};
use berth::proto::server::{Shard, ShardConfig};
use berth::{ConnectToken, ConnectTokenBuilder, Key, OsRandom};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const PROTOCOL_ID: u64 = 0x1122_3344_5566_7788;
const KEY: [u8; 32] = [0x42; 32];

type Datagrams = Vec<(SocketAddr, Vec<u8>)>;

fn server_addr() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn client_addr() -> SocketAddr {
    "127.0.0.1:50000".parse().unwrap()
}

fn setup() -> (Shard, ClientSession, ConnectToken, Instant) {
    let now = Instant::now();
    let config = ShardConfig::new(PROTOCOL_ID, Key::from_bytes(KEY), server_addr()).max_clients(8);
    let server = Shard::new(config, now, WallClock::system(), &mut OsRandom).unwrap();
    let token = ConnectTokenBuilder::new(PROTOCOL_ID, 1)
        .server(server_addr())
        .build(&Key::from_bytes(KEY))
        .unwrap();
    (server, ClientSession::new(), token, now)
}

/// Times only the server's work for `iters` handshakes on one long-lived
/// server, in chunks: client work, token making and freeing slots stay
/// outside the timing.
fn server_handshakes(iters: u64) -> Duration {
    const CHUNK: u64 = 512;
    let now = Instant::now();
    let config = ShardConfig::new(PROTOCOL_ID, Key::from_bytes(KEY), server_addr())
        .max_clients(CHUNK as usize);
    let mut server = Shard::new(config, now, WallClock::system(), &mut OsRandom).unwrap();
    let mut timed = Duration::ZERO;
    let mut done = 0;
    let mut client_id = 0u64;
    while done < iters {
        let n = CHUNK.min(iters - done);
        for i in 0..n {
            client_id += 1;
            let from = SocketAddr::from(([127, 0, 0, 1], 1024 + i as u16));
            let token = ConnectTokenBuilder::new(PROTOCOL_ID, client_id)
                .server(server_addr())
                .build(&Key::from_bytes(KEY))
                .unwrap();
            let mut client = ClientSession::new();
            client.connect(now, token);
            let mut out = Vec::new();
            client.update(now, &mut out);
            let (_, mut request) = out.pop().unwrap();
            let mut replies = Vec::with_capacity(1);

            let start = Instant::now();
            server.handle_datagram(now, from, &mut request, &mut replies);
            timed += start.elapsed();

            let (_, mut challenge) = replies.pop().unwrap();
            client.handle_datagram(now, server_addr(), &mut challenge);
            client.update(now, &mut out);
            let (_, mut response) = out.pop().unwrap();

            let start = Instant::now();
            server.handle_datagram(now, from, &mut response, &mut replies);
            timed += start.elapsed();
        }
        assert_eq!(server.connected_count(), n as usize);
        let mut sink = Vec::new();
        server.disconnect_all(&mut sink);
        while server.poll_event().is_some() {}
        done += n;
    }
    timed
}

/// Delivers every datagram in `out` to the server, collecting its replies.
fn to_server(server: &mut Shard, now: Instant, out: &mut Datagrams) -> Datagrams {
    let mut replies = Vec::new();
    for (_, mut bytes) in out.drain(..) {
        server.handle_datagram(now, client_addr(), &mut bytes, &mut replies);
    }
    replies
}

fn full(c: &mut Criterion) {
    let mut group = c.benchmark_group("handshake");
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("full", |b| {
        b.iter_batched(
            setup,
            |(mut server, mut client, token, now)| {
                client.connect(now, token);
                let mut out = Vec::new();
                client.update(now, &mut out); // request
                let mut replies = to_server(&mut server, now, &mut out); // challenge
                for (_, mut bytes) in replies.drain(..) {
                    client.handle_datagram(now, server_addr(), &mut bytes);
                }
                client.update(now, &mut out); // response
                let replies = to_server(&mut server, now, &mut out); // keep-alive
                for (_, mut bytes) in replies {
                    client.handle_datagram(now, server_addr(), &mut bytes);
                }
                assert_eq!(client.state(), ClientState::Connected);
                black_box((server, client))
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("server_steady_state", |b| {
        b.iter_custom(server_handshakes);
    });
    group.finish();
}

criterion_group!(benches, full);
criterion_main!(benches);
