//! Interoperability with netcode-official (the reference Rust port) over loopback UDP.
//!
//! Its client against a berth server shard, a berth client against its
//! server, tokens made by each side used by the other, IPv4 and IPv6.

mod common;

use berth::proto::client::ClientState;
use berth::proto::server::{DropReason, Event};
use berth::wire::packet::{ConnectionRequest, REQUEST_LEN};
use berth::{ConnectToken, ConnectTokenBuilder, Key};
use common::*;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

fn berth_token(server: SocketAddr, client_id: u64) -> [u8; 2048] {
    ConnectTokenBuilder::new(PROTOCOL_ID, client_id)
        .server(server)
        .expire_after(Duration::from_secs(30))
        .timeout(Some(Duration::from_secs(5)))
        .build(&Key::from_bytes(PRIVATE_KEY))
        .expect("token")
        .to_bytes()
}

fn netcode_token(server: SocketAddr, client_id: u64) -> [u8; 2048] {
    netcode::generate_connect_token(
        &[server],
        &[server],
        30,
        5,
        client_id,
        PROTOCOL_ID,
        &PRIVATE_KEY,
        &[0; 256],
    )
    .expect("netcode token")
}

/// A netcode-official client paced by wall-clock seconds.
struct TheirClient {
    client: netcode::Client,
    start: Instant,
}

impl TheirClient {
    fn connect(bind: &str, token: &[u8; 2048]) -> Self {
        let mut client = netcode::Client::new(bind.parse().unwrap(), 0.0).expect("netcode client");
        client.connect(token).expect("netcode connect");
        Self {
            client,
            start: Instant::now(),
        }
    }

    fn update(&mut self) {
        self.client.update(self.start.elapsed().as_secs_f64());
    }
}

fn their_client_with_our_server(bind: &str, token_maker: fn(SocketAddr, u64) -> [u8; 2048]) {
    let mut server = UdpServer::bind(bind, 16);
    let mut theirs = TheirClient::connect(bind, &token_maker(server.addr, 42));
    drive("netcode client connects to berth", || {
        server.pump();
        theirs.update();
        theirs.client.state() == netcode::ClientState::Connected
    });
    let Some(Event::Connected {
        client: slot,
        client_id: 42,
        ..
    }) = server.server.poll_event()
    else {
        panic!("their client connected without an event");
    };
    assert_eq!(slot.get(), theirs.client.client_index() as u32);
    for payload in payloads() {
        theirs.client.send_packet(&payload).expect("their send");
        server.send(slot, &payload);
        let mut echoed = None;
        drive("payloads cross both ways", || {
            server.pump();
            theirs.update();
            if let Some((bytes, _)) = theirs.client.receive_packet() {
                echoed = Some(bytes);
            }
            echoed.is_some() && !server.received.is_empty()
        });
        assert_eq!(server.received.pop(), Some((slot, payload.clone())));
        assert_eq!(echoed, Some(payload));
    }
}

fn our_client_with_their_server(bind: &str, token_maker: fn(SocketAddr, u64) -> [u8; 2048]) {
    let start = Instant::now();
    let addr: SocketAddr = bind.parse().unwrap();
    let mut theirs =
        netcode::Server::new(addr, PROTOCOL_ID, &PRIVATE_KEY, 0.0).expect("netcode server");
    theirs.start(16).expect("start");
    let server_addr = theirs.address();
    let mut ours = UdpClient::connect(bind, &token_maker(server_addr, 43));
    drive("berth client connects to netcode", || {
        theirs.update(start.elapsed().as_secs_f64());
        ours.pump();
        ours.client.state() == ClientState::Connected
    });
    let slot = ours.client.client_index() as usize;
    assert_eq!(theirs.client_id(slot), 43);
    for payload in payloads() {
        ours.send(&payload);
        theirs.send_packet(slot, &payload).expect("their send");
        let mut got = None;
        drive("payloads cross both ways", || {
            theirs.update(start.elapsed().as_secs_f64());
            ours.pump();
            if let Some((bytes, _)) = theirs.receive_packet(slot) {
                got = Some(bytes);
            }
            got.is_some() && !ours.received.is_empty()
        });
        assert_eq!(got, Some(payload.clone()));
        assert_eq!(ours.received.pop(), Some(payload));
    }
}

#[test]
fn their_client_our_server_our_token_ipv4() {
    their_client_with_our_server("127.0.0.1:0", berth_token);
}

#[test]
fn their_client_our_server_their_token_ipv6() {
    their_client_with_our_server("[::1]:0", netcode_token);
}

#[test]
fn their_client_our_server_their_token_ipv4() {
    their_client_with_our_server("127.0.0.1:0", netcode_token);
}

#[test]
fn our_client_their_server_their_token_ipv4() {
    our_client_with_their_server("127.0.0.1:0", netcode_token);
}

#[test]
fn our_client_their_server_our_token_ipv6() {
    our_client_with_their_server("[::1]:0", berth_token);
}

#[test]
fn our_client_their_server_our_token_ipv4() {
    our_client_with_their_server("127.0.0.1:0", berth_token);
}

#[test]
fn tokens_parse_on_both_sides() {
    let server: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let theirs = ConnectToken::parse(&netcode_token(server, 7)).expect("berth reads their token");
    assert_eq!(theirs.protocol_id, PROTOCOL_ID);
    assert_eq!(theirs.server_addresses.as_slice(), &[server]);
    assert_eq!(theirs.timeout_secs, 5);
    assert_eq!(theirs.expire_unix_secs - theirs.create_unix_secs, 30);
}

#[test]
fn full_server_denies_their_client() {
    let mut server = UdpServer::bind("127.0.0.1:0", 1);
    let mut first = TheirClient::connect("127.0.0.1:0", &berth_token(server.addr, 1));
    drive("first client connects", || {
        server.pump();
        first.update();
        first.client.state() == netcode::ClientState::Connected
    });
    let mut second = TheirClient::connect("127.0.0.1:0", &berth_token(server.addr, 2));
    drive("second client is denied", || {
        server.pump();
        first.update();
        second.update();
        second.client.state() == netcode::ClientState::ConnectionDenied
    });
    assert_eq!(server.server.connected_count(), 1);
    assert!(server.server.stats().denied >= 1);
}

#[test]
fn a_token_replayed_from_a_second_port_is_ignored() {
    let mut server = UdpServer::bind("127.0.0.1:0", 16);
    let token = ConnectToken::parse(&netcode_token(server.addr, 9)).unwrap();
    let mut request = [0u8; REQUEST_LEN];
    ConnectionRequest::from_token(&token)
        .emit(&mut request)
        .unwrap();
    let first = UdpSocket::bind("127.0.0.1:0").unwrap();
    let second = UdpSocket::bind("127.0.0.1:0").unwrap();
    first
        .set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    first.send_to(&request, server.addr).unwrap();
    let mut buf = [0u8; 2048];
    drive("the first address is challenged", || {
        server.pump();
        first.recv_from(&mut buf).is_ok()
    });
    second.send_to(&request, server.addr).unwrap();
    drive("the second address's request is dropped as reused", || {
        server.pump();
        server.server.stats().dropped(DropReason::TokenReused) == 1
    });
    second.set_nonblocking(true).unwrap();
    assert!(
        second.recv_from(&mut buf).is_err(),
        "no reply to the second address"
    );
    assert_eq!(server.server.pending_count(), 1);
}
