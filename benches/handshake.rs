//! A full netcode handshake through the sans-IO state machines, no sockets.
//!
//! `handshake/full`: request → challenge → response → keep-alive, both
//! sides' work. `server_request` + `server_response`: only the server's half
//! (open the private token, seal the challenge; open the response and the
//! challenge token, admit, seal the keep-alive), the cost a flood of valid
//! handshakes puts on a server. Server, client and token are made outside the timing.

use berth::proto::WallClock;
use berth::proto::client::{Client, ClientState};
use berth::proto::server::{Server, ServerConfig};
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

fn setup() -> (Server, Client, ConnectToken, Instant) {
    let now = Instant::now();
    let config = ServerConfig::new(PROTOCOL_ID, Key::from_bytes(KEY), server_addr()).max_clients(8);
    let server = Server::new(config, now, WallClock::system(), &mut OsRandom).unwrap();
    let token = ConnectTokenBuilder::new(PROTOCOL_ID, 1)
        .server(server_addr())
        .build(&Key::from_bytes(KEY))
        .unwrap();
    (server, Client::new(), token, now)
}

/// Delivers every datagram in `out` to the server, collecting its replies.
fn to_server(server: &mut Server, now: Instant, out: &mut Datagrams) -> Datagrams {
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
    // The server's half, in two timed parts whose sum is its cost per handshake.
    group.bench_function("server_request", |b| {
        b.iter_batched(
            || {
                let (server, mut client, token, now) = setup();
                client.connect(now, token);
                let mut request = Vec::new();
                client.update(now, &mut request);
                (server, request, now)
            },
            |(mut server, mut request, now)| {
                let challenge = to_server(&mut server, now, &mut request);
                assert_eq!(challenge.len(), 1);
                black_box((server, challenge))
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("server_response", |b| {
        b.iter_batched(
            || {
                let (mut server, mut client, token, now) = setup();
                client.connect(now, token);
                let mut out = Vec::new();
                client.update(now, &mut out);
                for (_, mut bytes) in to_server(&mut server, now, &mut out) {
                    client.handle_datagram(now, server_addr(), &mut bytes);
                }
                client.update(now, &mut out);
                (server, out, now)
            },
            |(mut server, mut response, now)| {
                let keep_alive = to_server(&mut server, now, &mut response);
                assert_eq!(server.connected_count(), 1);
                black_box((server, keep_alive))
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, full);
criterion_main!(benches);
