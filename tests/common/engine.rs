//! Helpers for tests of the threaded engine over loopback.

use super::{DEADLINE, PRIVATE_KEY, PROTOCOL_ID};
use berth::Key;
use berth::engine::{Client, PeerId, Server, ServerConfig, ServerEvent};
use berth::proto::channel::{ChannelId, standard};
use berth::proto::server::DisconnectReason;
use std::collections::HashSet;
use std::collections::VecDeque;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The channel the engine tests talk on: the standard reliable-ordered one.
pub const CHANNEL: ChannelId = standard::RELIABLE_ORDERED;

/// A config for `ports` ports on loopback, each with an OS-chosen port number.
pub fn config(ports: u16) -> ServerConfig {
    ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        PROTOCOL_ID,
        Key::from_bytes(PRIVATE_KEY),
    )
    .ports(ports)
}

/// `n` clients holding tokens from `server`, connecting.
pub fn clients(server: &Server, n: usize) -> Vec<Client> {
    (0..n)
        .map(|i| {
            let token = server.issue_token(i as u64 + 1, [0; 256]).expect("token");
            let mut client = Client::bind("127.0.0.1:0".parse().unwrap()).expect("client socket");
            client.connect(Instant::now(), token);
            client
        })
        .collect()
}

/// Updates `clients` until `done` holds; fails the test at the deadline.
#[track_caller]
pub fn drive_clients(
    what: &str,
    clients: &mut [Client],
    mut done: impl FnMut(&mut [Client]) -> bool,
) {
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        let now = Instant::now();
        for client in clients.iter_mut() {
            client.update(now);
        }
        if done(clients) {
            return;
        }
        wait_any(clients);
    }
    panic!("{what}: not done within {DEADLINE:?}");
}

/// The longest a drive loop sleeps on one client before it looks at the
/// others again.
pub const WAIT_SLICE: Duration = Duration::from_millis(1);

/// Sleeps until the first client has a datagram or a timer due, for at
/// most [`WAIT_SLICE`]: the loop wakes for real input instead of spinning.
pub fn wait_any(clients: &mut [Client]) {
    if let Some(client) = clients.first_mut() {
        client
            .wait(Instant::now() + WAIT_SLICE)
            .expect("client wait");
    }
}

/// Connects every client.
#[track_caller]
pub fn connect_all(clients: &mut [Client]) {
    drive_clients("clients connect", clients, |cs| {
        cs.iter().all(Client::is_connected)
    });
}

/// Echoes every message back to its sender until the server's event queue closes.
pub fn echo_events(server: &Server) -> JoinHandle<()> {
    let events = server.events().clone();
    let sender = server.sender();
    std::thread::spawn(move || {
        for event in events.iter() {
            if let ServerEvent::Message {
                peer,
                channel,
                bytes,
            } = event
            {
                let _ = sender.send(peer, channel, &bytes);
            }
        }
    })
}

/// The `seq`th message of client `c`: its index and sequence, padded to `len`.
pub fn message(c: usize, seq: u32, len: usize) -> Vec<u8> {
    let mut m = vec![0xa5u8; len.max(8)];
    m[..4].copy_from_slice(&(c as u32).to_le_bytes());
    m[4..8].copy_from_slice(&seq.to_le_bytes());
    m
}

/// Each client sends `per_client` messages with at most `window` unanswered,
/// and checks every echo comes back, in order, intact.
#[track_caller]
pub fn echo_round(clients: &mut [Client], per_client: u32, window: u32, len: usize) {
    let mut sent = vec![0u32; clients.len()];
    let mut expected: Vec<VecDeque<Vec<u8>>> = vec![VecDeque::new(); clients.len()];
    let mut received = 0u64;
    let total = u64::from(per_client) * clients.len() as u64;
    drive_clients("echoes arrive", clients, |cs| {
        let now = Instant::now();
        for (c, client) in cs.iter_mut().enumerate() {
            while let Some(echo) = client.recv() {
                let want = expected[c].pop_front().expect("an echo nobody sent");
                assert_eq!(echo.bytes, want, "client {c}: echo out of order or damaged");
                received += 1;
            }
            while sent[c] < per_client && (expected[c].len() as u32) < window {
                let m = message(c, sent[c], len);
                client.send(now, CHANNEL, &m).expect("send");
                expected[c].push_back(m);
                sent[c] += 1;
            }
        }
        received == total
    });
}

/// Reads `events` after port `port`'s transport was failed: every peer it
/// held reported gone with `TransportFailed`, then the port itself. Returns
/// the peers reported and the port's error text.
#[track_caller]
pub fn expect_port_failure(
    events: &crossbeam_channel::Receiver<ServerEvent>,
    port: u16,
) -> (HashSet<PeerId>, String) {
    let mut disconnected = HashSet::new();
    loop {
        match events.recv_timeout(DEADLINE).expect("the port reports") {
            ServerEvent::Disconnected { peer, reason } => {
                assert_eq!(reason, DisconnectReason::TransportFailed);
                disconnected.insert(peer);
            }
            ServerEvent::PortFailed {
                port: failed,
                error,
            } => {
                assert_eq!(failed, port);
                return (disconnected, error);
            }
            other => panic!("unexpected event after the failure: {other:?}"),
        }
    }
}
