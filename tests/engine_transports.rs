//! Several transports on one port: a UDP socket, an in-memory socket and a
//! transport written against the public trait alone (as an outside crate
//! such as berth-webtransport would), serving one set of peers.

mod common;

use berth::Key;
use berth::engine::transport::{
    IoCount, PortWaker, RecvBatch, Registration, SendBatch, Sent, Transport,
};
use berth::engine::{Client, MemoryNetwork, PeerId, Server, ServerConfig, ServerEvent};
use common::engine::{CHANNEL, drive_clients, expect_port_failure};
use common::{DEADLINE, PRIVATE_KEY, PROTOCOL_ID};
use parking_lot::Mutex;
use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Datagrams in flight one way, and whom to wake when some arrive.
#[derive(Debug, Default)]
struct Direction {
    queue: VecDeque<(SocketAddr, Vec<u8>)>,
    waker: Option<PortWaker>,
}

/// One end of a two-way link made of queues: what a browser session's
/// datagrams look like to the engine. The server end names the peer by the
/// address the client end is bound to.
#[derive(Debug)]
struct QueueEnd {
    addr: SocketAddr,
    inbound: Arc<Mutex<Direction>>,
    outbound: Arc<Mutex<Direction>>,
}

/// A linked pair: the first end is bound at `a`, the second at `b`.
fn queue_link(a: SocketAddr, b: SocketAddr) -> (QueueEnd, QueueEnd) {
    let (ab, ba) = (Arc::default(), Arc::default());
    (
        QueueEnd {
            addr: a,
            inbound: Arc::clone(&ba),
            outbound: Arc::clone(&ab),
        },
        QueueEnd {
            addr: b,
            inbound: ab,
            outbound: ba,
        },
    )
}

impl Transport for QueueEnd {
    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }

    fn register(&mut self, registration: &Registration<'_>) -> std::io::Result<()> {
        self.inbound.lock().waker = Some(registration.waker());
        Ok(())
    }

    fn recv(&mut self, _now: Instant, into: &mut RecvBatch) -> std::io::Result<IoCount> {
        into.clear();
        let mut count = IoCount::default();
        count.syscalls = 1;
        let mut inbound = self.inbound.lock();
        while into.len() < RecvBatch::CAPACITY {
            let Some((from, bytes)) = inbound.queue.pop_front() else {
                break;
            };
            assert!(into.push(from, &bytes));
            count.datagrams += 1;
            count.bytes += bytes.len() as u64;
        }
        count.drained = inbound.queue.is_empty();
        Ok(count)
    }

    fn send(&mut self, _now: Instant, from: &mut SendBatch) -> std::io::Result<IoCount> {
        let mut outbound = self.outbound.lock();
        let own = self.addr;
        let mut count = from.drain(|_to, bytes| {
            outbound.queue.push_back((own, bytes.to_vec()));
            Sent::Sent
        });
        if let Some(waker) = &outbound.waker {
            waker.wake();
        }
        count.syscalls = 1;
        Ok(count)
    }
}

/// Forwards each message to every other connected peer, and reports
/// connections and failures on `seen`.
fn forward_to_the_others(server: &Server) -> crossbeam_channel::Receiver<ServerEvent> {
    let events = server.events().clone();
    let sender = server.sender();
    let (seen_tx, seen) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        let mut peers: Vec<PeerId> = Vec::new();
        for event in events.iter() {
            match &event {
                ServerEvent::Connected { peer, .. } => peers.push(*peer),
                ServerEvent::Disconnected { peer, .. } => peers.retain(|p| p != peer),
                ServerEvent::Message {
                    peer,
                    channel,
                    bytes,
                } => {
                    for other in peers.iter().filter(|p| *p != peer) {
                        let _ = sender.send(*other, *channel, bytes);
                    }
                    continue;
                }
                _ => {}
            }
            if seen_tx.send(event).is_err() {
                return;
            }
        }
    });
    seen
}

struct Rig {
    server: Server,
    network: MemoryNetwork,
    memory_addr: SocketAddr,
    /// UDP, memory, queue.
    clients: Vec<Client>,
    /// The server's peers, one per client.
    peers: HashSet<PeerId>,
    seen: crossbeam_channel::Receiver<ServerEvent>,
}

/// A one-port server on UDP loopback that also serves a memory socket and
/// a queue link, with one client connected through each.
fn rig() -> Rig {
    let network = MemoryNetwork::new(berth::engine::Faults::default());
    let memory_addr: SocketAddr = "10.77.0.1:4000".parse().unwrap();
    let queue_server: SocketAddr = "[fd00:77::1]:4000".parse().unwrap();
    let queue_client: SocketAddr = "[fd00:77::2]:5000".parse().unwrap();
    let (server_end, client_end) = queue_link(queue_server, queue_client);
    let server_end = Mutex::new(Some(server_end));
    let net = network.clone();
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        PROTOCOL_ID,
        Key::from_bytes(PRIVATE_KEY),
    )
    .add_transport(move |_port| Ok(Box::new(net.bind(memory_addr)?) as Box<dyn Transport>))
    .add_transport(move |_port| {
        let end = server_end.lock().take().expect("one port, one queue link");
        Ok(Box::new(end) as Box<dyn Transport>)
    });
    let server = Server::bind(config).expect("server");
    assert_eq!(server.transport_addrs(1), Some(&[memory_addr][..]));
    assert_eq!(server.transport_addrs(2), Some(&[queue_server][..]));
    assert_eq!(server.transport_addrs(3), None);
    assert!(server.issue_token_via(3, 9, [0; 256]).is_err());

    let seen = forward_to_the_others(&server);
    let mut clients = vec![
        Client::bind("127.0.0.1:0".parse().unwrap()).unwrap(),
        Client::bind_in_memory(&network, "10.77.1.1:0".parse().unwrap()).unwrap(),
        Client::with_transport(Box::new(client_end)),
    ];
    let now = Instant::now();
    for (transport, client) in clients.iter_mut().enumerate() {
        let token = server
            .issue_token_via(transport, transport as u64 + 1, [0; 256])
            .unwrap();
        assert_eq!(
            token.server_addresses.as_slice(),
            server.transport_addrs(transport).unwrap()
        );
        client.connect(now, token);
    }
    drive_clients("all three transports connect", &mut clients, |cs| {
        cs.iter().all(Client::is_connected)
    });
    let mut peers = HashSet::new();
    while peers.len() < 3 {
        if let ServerEvent::Connected { peer, .. } = seen.recv_timeout(DEADLINE).unwrap() {
            peers.insert(peer);
        }
    }
    Rig {
        server,
        network,
        memory_addr,
        clients,
        peers,
        seen,
    }
}

#[test]
fn one_port_serves_udp_memory_and_an_outside_transport_as_one_set_of_peers() {
    let Rig {
        server,
        network,
        mut clients,
        peers,
        ..
    } = rig();
    assert!(peers.iter().all(|p| p.port() == 0));
    assert_eq!(server.loads(), [3], "one port holds all three");

    // Each client sends 50 reliable messages; every other client gets them
    // all, in order, whichever transport carried them either way.
    let now = Instant::now();
    for (c, client) in clients.iter_mut().enumerate() {
        for seq in 0..50u32 {
            let mut m = vec![c as u8; 64];
            m[1..5].copy_from_slice(&seq.to_le_bytes());
            client.send(now, CHANNEL, &m).unwrap();
        }
    }
    let mut next = [[0u32; 3]; 3]; // next[receiver][sender]
    drive_clients("every message reaches both others", &mut clients, |cs| {
        for (r, client) in cs.iter_mut().enumerate() {
            while let Some(m) = client.recv() {
                let from = usize::from(m.bytes[0]);
                assert_ne!(from, r, "a message came back to its sender");
                let seq = u32::from_le_bytes(m.bytes[1..5].try_into().unwrap());
                assert_eq!(seq, next[r][from], "out of order from {from} at {r}");
                next[r][from] += 1;
            }
        }
        (0..3).all(|r| (0..3).all(|s| r == s || next[r][s] == 50))
    });
    assert!(
        network.stats().delivered > 0,
        "the memory client's traffic went through the network"
    );
    server.shutdown();
}

#[test]
fn an_added_transport_that_fails_stops_its_port_for_the_peers_of_every_transport() {
    let Rig {
        server,
        network,
        memory_addr,
        mut clients,
        peers: connected,
        seen,
    } = rig();
    assert!(network.fail(memory_addr));
    let (disconnected, error) = expect_port_failure(&seen, 0);
    assert_eq!(disconnected, connected);
    assert!(error.contains("failed on demand"), "{error}");
    // The UDP and queue clients hear the disconnect packets sent on the
    // way out; the memory client's transport is the one that broke.
    let mut live = vec![clients.remove(0), clients.remove(1)];
    drive_clients("the other transports' clients hear it", &mut live, |cs| {
        cs.iter().all(|c| !c.is_connected())
    });
    assert_eq!(server.loads(), [0]);
    server.shutdown();
}
