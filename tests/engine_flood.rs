//! A flood of junk and forged connection requests on every port does not
//! stop connected peers' traffic.

mod common;

use berth::engine::{BatchSocket, Server};
use berth::proto::server::DropReason;
use common::PROTOCOL_ID;
use common::engine::*;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Most datagrams the flood sends: it is bounded, and stops by itself.
const FLOOD_MAX: u64 = 200_000;

/// xorshift64*, seeded: the flood is the same every run.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next() as u8;
        }
    }
}

/// A connection request that parses but carries a private token sealed with no key we know.
fn forged_request(noise: &mut Noise) -> Vec<u8> {
    let mut request = vec![0u8; 1078];
    request[1..14].copy_from_slice(b"NETCODE 1.02\0");
    request[14..22].copy_from_slice(&PROTOCOL_ID.to_le_bytes());
    request[22..30].copy_from_slice(&u64::MAX.to_le_bytes());
    noise.fill(&mut request[30..]);
    request
}

/// Floods `targets` from eight source sockets until `stop` or [`FLOOD_MAX`].
fn flood(targets: Vec<SocketAddr>, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) {
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut sockets: Vec<BatchSocket> = (0..8)
        .map(|_| BatchSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap())
        .collect();
    let mut junk = vec![0u8; 1300];
    while !stop.load(Ordering::Relaxed) && sent.load(Ordering::Relaxed) < FLOOD_MAX {
        for (i, socket) in sockets.iter_mut().enumerate() {
            for target in &targets {
                if i % 2 == 0 {
                    socket.queue(*target, &forged_request(&mut noise));
                } else {
                    let len = (noise.next() % 1300) as usize;
                    noise.fill(&mut junk[..len]);
                    socket.queue(*target, &junk[..len]);
                }
            }
            let n = socket.flush().unwrap_or(0);
            sent.fetch_add(n, Ordering::Relaxed);
        }
    }
}

#[test]
fn connected_peers_keep_talking_through_a_flood() {
    let server = Server::bind(config(4)).unwrap();
    let echo = echo_events(&server);
    let mut clients = clients(&server, 8);
    connect_all(&mut clients);

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let flooder = {
        let (targets, stop, sent) = (server.local_addrs().to_vec(), stop.clone(), sent.clone());
        std::thread::spawn(move || flood(targets, stop, sent))
    };
    // Let the flood get going before the echoes start, so they cross it.
    common::drive("the flood starts", || sent.load(Ordering::Relaxed) > 5_000);
    let before = sent.load(Ordering::Relaxed);
    echo_round(&mut clients, 250, 8, 200);
    let during = sent.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    flooder.join().unwrap();

    let stats = server.shutdown();
    echo.join().unwrap();
    let dropped: u64 = stats.iter().map(|s| s.protocol.dropped_total()).sum();
    let forged_refused: u64 = stats
        .iter()
        .map(|s| {
            s.protocol.dropped(DropReason::TokenInvalid)
                + s.protocol.dropped(DropReason::RateLimited)
        })
        .sum();
    assert!(during > 0, "the flood did not overlap the echoes");
    assert!(dropped > 0 && forged_refused > 0, "{stats:#?}");
    assert_eq!(
        stats.iter().map(|s| s.protocol.connects).sum::<u64>(),
        8,
        "a forged request got in"
    );
    eprintln!(
        "{during} flood datagrams sent while 2,000 echoes crossed; {dropped} dropped by the server"
    );
}
