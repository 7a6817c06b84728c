//! One port's accept loop and each session's task: admit by address, hand
//! datagrams to the port, and close sessions that misbehave, with a reason.

use crate::ip_sessions::{IpSessions, IpSlot};
use crate::server::PortShared;
use crate::stats::Counters;
use berth::wire::packet::MAX_PACKET_LEN;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use web_transport_quinn::quinn::{Endpoint, Incoming};
use web_transport_quinn::{Request, Session};

/// What each session may do before it is closed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionLimits {
    pub(crate) max_sessions: usize,
    pub(crate) first_datagram: Duration,
    pub(crate) idle: Duration,
    pub(crate) handshake: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            max_sessions: 1024,
            first_datagram: Duration::from_secs(5),
            idle: Duration::from_secs(10),
            handshake: Duration::from_secs(5),
        }
    }
}

impl SessionLimits {
    /// How long a graceful close may take: web-transport-quinn gives its
    /// close capsule at least 100 ms (three round trips) before it closes
    /// QUIC outright; this leaves room for a busy machine on top.
    const CLOSE_GRACE: Duration = Duration::from_secs(1);

    /// QUIC's own idle timeout for a session: later than both of berth's
    /// timers and their close. QUIC times out silently, so were it to fire
    /// first, the peer would learn nothing of why; berth's timers close
    /// with a code and reason the browser reads.
    pub(crate) fn quic_idle(self) -> Duration {
        self.first_datagram
            .max(self.idle)
            .saturating_add(Self::CLOSE_GRACE)
    }
}

/// Why a session ended; its code and reason go to the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Close {
    /// The server is closing.
    Shutdown,
    /// No datagram within the first-datagram timeout.
    Silent,
    /// No datagram within the idle timeout.
    Idle,
    /// The peer opened a stream.
    Stream,
    /// Another session already has the address.
    AddressInUse,
    /// The peer closed it, or the connection was lost.
    Gone,
}

impl Close {
    /// The WebTransport application error code sent with the close.
    pub(crate) const fn code(self) -> u32 {
        match self {
            Self::Shutdown | Self::Gone => 0,
            Self::Silent => 1,
            Self::Idle => 2,
            Self::Stream => 3,
            Self::AddressInUse => 4,
        }
    }

    /// The reason sent with the close.
    pub(crate) const fn reason(self) -> &'static str {
        match self {
            Self::Shutdown => "server closing",
            Self::Silent => "no datagram after opening",
            Self::Idle => "idle",
            Self::Stream => "streams are not used: send datagrams",
            Self::AddressInUse => "another session has this address",
            Self::Gone => "gone",
        }
    }
}

/// Accepts connections on `endpoint` until `shutdown` turns true.
pub(crate) async fn accept_loop(
    endpoint: Endpoint,
    port: Arc<PortShared>,
    ip_sessions: Arc<IpSessions>,
    counters: Arc<Counters>,
    limits: SessionLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let incoming = tokio::select! {
            incoming = endpoint.accept() => match incoming {
                Some(incoming) => incoming,
                None => return,
            },
            _ = shutdown.wait_for(|closing| *closing) => return,
        };
        // Refused before its TLS handshake: an address with many sessions
        // costs the server one lookup per further attempt.
        let Some(slot) = ip_sessions.admit(incoming.remote_address().ip()) else {
            Counters::bump(&counters.refused_per_ip);
            incoming.refuse();
            continue;
        };
        tokio::spawn(session(
            incoming,
            slot,
            port.clone(),
            counters.clone(),
            limits,
            shutdown.clone(),
        ));
    }
}

/// One session, from handshake to close.
async fn session(
    incoming: Incoming,
    slot: IpSlot,
    port: Arc<PortShared>,
    counters: Arc<Counters>,
    limits: SessionLimits,
    shutdown: watch::Receiver<bool>,
) {
    let Some(connection) = handshake(incoming, &port, &counters, limits).await else {
        return;
    };
    let peer = peer_addr(connection.remote_address());
    let admitted = {
        let mut sessions = port.sessions.write();
        !sessions.contains_key(&peer) && sessions.insert(peer, connection.clone()).is_none()
    };
    let close = if admitted {
        Counters::bump(&counters.sessions_opened);
        tracing::debug!(%peer, "WebTransport session opened");
        let close = serve(&connection, peer, &port, &counters, limits, shutdown).await;
        let mut sessions = port.sessions.write();
        if sessions
            .get(&peer)
            .is_some_and(|held| held.stable_id() == connection.stable_id())
        {
            sessions.remove(&peer);
        }
        Counters::bump(&counters.sessions_closed);
        close
    } else {
        Close::AddressInUse
    };
    match close {
        Close::Silent => Counters::bump(&counters.closed_silent),
        Close::Idle => Counters::bump(&counters.closed_idle),
        Close::Stream => Counters::bump(&counters.closed_stream),
        Close::AddressInUse => Counters::bump(&counters.refused_address_in_use),
        Close::Shutdown | Close::Gone => {}
    }
    tracing::debug!(%peer, reason = close.reason(), "WebTransport session closed");
    connection.close(close.code(), close.reason().as_bytes());
    // The close capsule goes out before the connection closes.
    let _ = tokio::time::timeout(limits.handshake, connection.closed()).await;
    drop(slot);
}

/// The QUIC and HTTP/3 handshakes, bounded in time; `None` when they fail
/// or the port is full.
async fn handshake(
    incoming: Incoming,
    port: &PortShared,
    counters: &Counters,
    limits: SessionLimits,
) -> Option<Session> {
    let handshake = async {
        let connection = incoming.accept().ok()?.await.ok()?;
        Request::accept(connection).await.ok()
    };
    let Ok(Some(request)) = tokio::time::timeout(limits.handshake, handshake).await else {
        Counters::bump(&counters.handshakes_failed);
        return None;
    };
    if port.sessions.read().len() >= limits.max_sessions {
        Counters::bump(&counters.refused_full);
        let too_many = web_transport_quinn::http::StatusCode::TOO_MANY_REQUESTS;
        let _ = tokio::time::timeout(limits.handshake, request.reject(too_many)).await;
        return None;
    }
    let Ok(Ok(session)) = tokio::time::timeout(limits.handshake, request.ok()).await else {
        Counters::bump(&counters.handshakes_failed);
        return None;
    };
    Some(session)
}

/// Hands the session's datagrams to the port until it must close. The
/// datagrams are read by a task of their own, so each one costs one wake
/// of a tight loop; this task wakes only for streams, the timer and
/// shutdown.
async fn serve(
    connection: &Session,
    peer: SocketAddr,
    port: &Arc<PortShared>,
    counters: &Arc<Counters>,
    limits: SessionLimits,
    mut shutdown: watch::Receiver<bool>,
) -> Close {
    let opened = Instant::now();
    // When the last datagram came, in ms since `opened`, plus one; 0: none yet.
    let last = Arc::new(AtomicU64::new(0));
    let reader = tokio::spawn(read_datagrams(
        connection.clone(),
        peer,
        port.clone(),
        counters.clone(),
        last.clone(),
        opened,
    ));
    let timer = tokio::time::sleep(limits.first_datagram);
    tokio::pin!(timer);
    let close = loop {
        tokio::select! {
            stream = connection.accept_uni() => {
                break if stream.is_ok() { Close::Stream } else { Close::Gone };
            }
            stream = connection.accept_bi() => {
                break if stream.is_ok() { Close::Stream } else { Close::Gone };
            }
            () = &mut timer => {
                let last_ms = last.load(Ordering::Relaxed);
                if last_ms == 0 {
                    break Close::Silent;
                }
                let due = opened + Duration::from_millis(last_ms - 1) + limits.idle;
                if due <= Instant::now() {
                    break Close::Idle;
                }
                timer.as_mut().reset(due);
            }
            _ = shutdown.wait_for(|closing| *closing) => break Close::Shutdown,
        }
    };
    reader.abort();
    close
}

/// Queues each datagram of the session for the port, until the session ends.
async fn read_datagrams(
    connection: Session,
    peer: SocketAddr,
    port: Arc<PortShared>,
    counters: Arc<Counters>,
    last: Arc<AtomicU64>,
    opened: Instant,
) {
    while let Ok(payload) = connection.read_datagram().await {
        if payload.len() > MAX_PACKET_LEN {
            Counters::bump(&counters.datagrams_oversized);
            continue;
        }
        if !port.inbound.push(peer, payload) {
            Counters::bump(&counters.datagrams_queue_full);
        }
        let ms = u64::try_from(opened.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        last.store(ms + 1, Ordering::Relaxed);
    }
}

/// The address the port knows a session's peer by: its QUIC address, with
/// an IPv4 address mapped into IPv6 written as IPv4.
pub(crate) fn peer_addr(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => v6
            .ip()
            .to_ipv4_mapped()
            .map_or(addr, |v4| SocketAddr::new(v4.into(), v6.port())),
        SocketAddr::V4(_) => addr,
    }
}

#[cfg(test)]
mod tests {
    use crate::{WebTransportConfig, WebTransportServer};
    use std::time::Duration;
    use web_transport_quinn::quinn;
    use web_transport_quinn::{Session, SessionError, WebTransportError};

    /// Two sessions over one QUIC socket share an address, which the port
    /// keys its peers on: the second is closed with code 4 and counted.
    #[test]
    fn a_second_session_from_the_same_address_is_refused() {
        let server =
            WebTransportServer::start(WebTransportConfig::new("127.0.0.1:0".parse().unwrap()))
                .unwrap();
        let port = server.port(0).unwrap();
        let url = port.url();
        let addr: std::net::SocketAddr = url
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        let config = crate::client::client_config(&server.certificate_hashes()).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let code = runtime.block_on(async {
            let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
            let open = || async {
                let connection = endpoint
                    .connect_with(config.clone(), addr, "127.0.0.1")
                    .unwrap()
                    .await
                    .unwrap();
                Session::connect(connection, url::Url::parse(&url).unwrap())
                    .await
                    .unwrap()
            };
            let first = open().await;
            first
                .send_datagram(bytes::Bytes::from_static(b"\x05first"))
                .unwrap();
            let second = open().await;
            let closed = tokio::time::timeout(Duration::from_secs(20), second.closed()).await;
            drop(first);
            match closed {
                Ok(SessionError::WebTransportError(WebTransportError::Closed(code, _))) => code,
                other => panic!("the second session was not refused: {other:?}"),
            }
        });
        assert_eq!(code, 4);
        let stats = server.stats();
        assert_eq!(stats.refused_address_in_use, 1);
        assert_eq!(stats.sessions_opened, 1);
    }

    /// QUIC's silent idle timeout once raced berth's idle close at the same
    /// instant, and a peer could lose its close code: QUIC now waits out
    /// whichever of berth's timers is later, and the close after it.
    #[test]
    fn quic_times_out_only_after_berths_timers_have_closed_with_a_code() {
        let ms = Duration::from_millis;
        for (first_datagram, idle) in [(ms(300), ms(600)), (ms(5000), ms(1000))] {
            let limits = super::SessionLimits {
                first_datagram,
                idle,
                ..super::SessionLimits::default()
            };
            let later = first_datagram.max(idle);
            assert!(limits.quic_idle() >= later + ms(1000), "{limits:?}");
        }
    }
}
