//! What a WebTransport port does with sessions that misbehave, over real
//! loopback QUIC: silent and idle sessions, streams, oversized datagrams,
//! many sessions from one address, a full port, and certificates that
//! rotate under open sessions.

use berth::engine::transport::{RecvBatch, Registration, Transport, mio};
use berth_webtransport::{ConnectError, WebTransportClient};
use berth_webtransport::{WebTransportConfig, WebTransportPort, WebTransportServer};
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};
use web_transport_quinn::{SessionError, WebTransportError};

const DEADLINE: Duration = Duration::from_secs(20);

/// Held by the test that opens a thousand sessions and by the one that
/// reads close codes: a graceful close has about 100 ms for its capsule
/// before QUIC closes outright (and the code is lost), which a machine busy
/// with the thousand handshakes can miss.
static BUSY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn config() -> WebTransportConfig {
    WebTransportConfig::new("127.0.0.1:0".parse().unwrap())
}

/// A port whose datagrams the test reads itself, as a berth port would.
struct Port {
    port: WebTransportPort,
    poll: mio::Poll,
    _waker: Arc<mio::Waker>,
}

impl Port {
    fn new(server: &WebTransportServer) -> Self {
        let mut port = server.port(0).unwrap();
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(1)).unwrap());
        port.register(&Registration::new(poll.registry(), mio::Token(0), &waker))
            .unwrap();
        Self {
            port,
            poll,
            _waker: waker,
        }
    }

    /// Blocks until the port has a datagram; returns its bytes.
    fn next_datagram(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + DEADLINE;
        let mut batch = RecvBatch::new();
        let mut events = mio::Events::with_capacity(4);
        loop {
            self.port.recv(Instant::now(), &mut batch).unwrap();
            let mut first = None;
            batch.for_each(|_, bytes| {
                first.get_or_insert_with(|| bytes.to_vec());
            });
            if let Some(bytes) = first {
                return bytes;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no datagram reached the port");
            self.poll.poll(&mut events, Some(left)).unwrap();
        }
    }
}

/// Opens a session the way a browser would, pinning `hashes`.
fn open(url: &str, hashes: &[[u8; 32]]) -> Result<WebTransportClient, ConnectError> {
    WebTransportClient::connect(url, hashes, DEADLINE)
}

/// The application code the server closed `client`'s session with.
fn close_code(client: &WebTransportClient) -> u32 {
    let closed =
        client.block_on(async { tokio::time::timeout(DEADLINE, client.session().closed()).await });
    match closed {
        Some(Ok(SessionError::WebTransportError(WebTransportError::Closed(code, _)))) => code,
        other => panic!("not closed by the server with a code: {other:?}"),
    }
}

/// Sends `bytes` as one datagram on `client`'s session.
fn send(client: &WebTransportClient, bytes: &[u8]) {
    client
        .session()
        .send_datagram(Bytes::copy_from_slice(bytes))
        .unwrap();
}

#[test]
fn silent_idle_and_stream_opening_sessions_are_closed_with_their_reasons() {
    let _quiet = BUSY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let server = WebTransportServer::start(
        config()
            .first_datagram_timeout(Duration::from_millis(300))
            .idle_timeout(Duration::from_millis(600)),
    )
    .unwrap();
    let mut port = Port::new(&server);
    let url = port.port.url();
    let hashes = server.certificate_hashes();
    let silent = open(&url, &hashes).unwrap();
    assert_eq!(close_code(&silent), 1, "silent");

    let idle = open(&url, &hashes).unwrap();
    send(&idle, b"\x05hello");
    assert_eq!(port.next_datagram(), b"\x05hello");
    assert_eq!(close_code(&idle), 2, "idle");

    let streaming = open(&url, &hashes).unwrap();
    send(&streaming, b"\x05first");
    assert_eq!(port.next_datagram(), b"\x05first");
    streaming.block_on(async {
        let mut stream = streaming.session().open_uni().await.unwrap();
        let _ = stream.write_all(b"a stream").await;
    });
    assert_eq!(close_code(&streaming), 3, "stream");
    let stats = server.stats();
    assert_eq!(
        (stats.closed_silent, stats.closed_idle, stats.closed_stream),
        (1, 1, 1)
    );
    assert_eq!(stats.sessions_open, 0);
}

#[test]
fn closing_the_server_tells_every_session_why_before_it_returns() {
    let _quiet = BUSY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let server = WebTransportServer::start(config()).unwrap();
    let mut port = Port::new(&server);
    let url = port.port.url();
    let hashes = server.certificate_hashes();
    let players: Vec<WebTransportClient> = (0..3).map(|_| open(&url, &hashes).unwrap()).collect();
    for player in &players {
        send(player, b"\x05playing");
        assert_eq!(port.next_datagram(), b"\x05playing");
    }
    assert!(server.close_and_wait(DEADLINE), "sessions were still open");
    assert_eq!(server.stats().sessions_open, 0);
    for player in &players {
        // Already closed when close_and_wait returned: no waiting here.
        let why = player.session().close_reason();
        match why {
            Some(SessionError::WebTransportError(WebTransportError::Closed(code, reason))) => {
                assert_eq!((code, reason.as_str()), (0, "server closing"));
            }
            other => panic!("not told why: {other:?}"),
        }
    }
}

#[test]
fn a_datagram_longer_than_any_netcode_packet_is_dropped_and_counted() {
    let server = WebTransportServer::start(config()).unwrap();
    let mut port = Port::new(&server);
    let url = port.port.url();
    let hashes = server.certificate_hashes();
    let session = open(&url, &hashes).unwrap();
    send(&session, &[0x05; 1226]);
    send(&session, &[0x05; 1225]);
    // The session's datagrams are handled in order: once the largest
    // allowed one is through, the one over it has been judged.
    assert_eq!(port.next_datagram().len(), 1225);
    assert_eq!(server.stats().datagrams_oversized, 1);
}

#[test]
fn one_address_cannot_hold_more_than_its_sessions_and_a_full_port_answers_429() {
    let _busy = BUSY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let server = WebTransportServer::start(
        config()
            .max_sessions_per_ip(4)
            .first_datagram_timeout(Duration::from_secs(30)),
    )
    .unwrap();
    let port = Port::new(&server);
    let url = port.port.url();
    let hashes = server.certificate_hashes();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(open(&url, &hashes).unwrap());
    }
    // A thousand more attempts from the same address: each is refused
    // before its TLS handshake.
    for _ in 0..1000 {
        assert!(
            open(&url, &hashes).is_err(),
            "an attempt over the limit got in"
        );
    }
    drop(held);
    let stats = server.stats();
    assert_eq!(stats.sessions_opened, 4);
    assert_eq!(stats.refused_per_ip, 1000);

    let full = WebTransportServer::start(config().max_sessions_per_port(2)).unwrap();
    let port = Port::new(&full);
    let url = port.port.url();
    let hashes = full.certificate_hashes();
    let _a = open(&url, &hashes).unwrap();
    let _b = open(&url, &hashes).unwrap();
    let third = open(&url, &hashes);
    assert!(third.is_err(), "a session past the port's limit got in");
    assert_eq!(full.stats().refused_full, 1);
}

#[test]
fn a_rotation_keeps_open_sessions_and_the_served_hashes_reach_the_new_certificate() {
    let server = WebTransportServer::start(config()).unwrap();
    let mut port = Port::new(&server);
    let url = port.port.url();
    let before = server.certificate_hashes();
    let open_before = open(&url, &before).unwrap();
    send(&open_before, b"\x05before");
    assert_eq!(port.next_datagram(), b"\x05before");

    server.rotate_certificates();
    let after = server.certificate_hashes();
    assert_eq!(after[0], before[1], "the served next is now presented");
    // A token fetched before the rotation still connects after it...
    let with_old_token = open(&url, &before).unwrap();
    send(&with_old_token, b"\x05old token");
    assert_eq!(port.next_datagram(), b"\x05old token");
    // ...but not when it pinned only the certificate that was replaced.
    assert!(open(&url, &before[..1]).is_err());
    // The session opened before the rotation carries on.
    send(&open_before, b"\x05still here");
    assert_eq!(port.next_datagram(), b"\x05still here");
}
