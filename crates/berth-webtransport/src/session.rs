//! One port's accept loop and each session's task: admit by address, hand
//! datagrams to the port, and close sessions that misbehave, with a reason.

use crate::ip_sessions::{IpSessions, IpSlot};
use crate::server::PortShared;
use crate::stats::Counters;
use berth::wire::packet::MAX_PACKET_LEN;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use wtransport::endpoint::{IncomingSession, endpoint_side};
use wtransport::{Connection, Endpoint, VarInt};

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
    endpoint: Arc<Endpoint<endpoint_side::Server>>,
    port: Arc<PortShared>,
    ip_sessions: Arc<IpSessions>,
    counters: Arc<Counters>,
    limits: SessionLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let incoming = tokio::select! {
            incoming = endpoint.accept() => incoming,
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
    incoming: IncomingSession,
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
        Close::AddressInUse => Counters::bump(&counters.refused_full),
        Close::Shutdown | Close::Gone => {}
    }
    tracing::debug!(%peer, reason = close.reason(), "WebTransport session closed");
    connection.close(VarInt::from_u32(close.code()), close.reason().as_bytes());
    drop(slot);
}

/// The QUIC and HTTP/3 handshakes, bounded in time; `None` when they fail
/// or the port is full.
async fn handshake(
    incoming: IncomingSession,
    port: &PortShared,
    counters: &Counters,
    limits: SessionLimits,
) -> Option<Connection> {
    let Ok(Ok(request)) = tokio::time::timeout(limits.handshake, incoming).await else {
        Counters::bump(&counters.handshakes_failed);
        return None;
    };
    if port.sessions.read().len() >= limits.max_sessions {
        Counters::bump(&counters.refused_full);
        request.too_many_requests().await;
        return None;
    }
    let Ok(Ok(connection)) = tokio::time::timeout(limits.handshake, request.accept()).await else {
        Counters::bump(&counters.handshakes_failed);
        return None;
    };
    Some(connection)
}

/// Hands the session's datagrams to the port until it must close.
async fn serve(
    connection: &Connection,
    peer: SocketAddr,
    port: &PortShared,
    counters: &Counters,
    limits: SessionLimits,
    mut shutdown: watch::Receiver<bool>,
) -> Close {
    let mut last: Option<Instant> = None;
    let timer = tokio::time::sleep(limits.first_datagram);
    tokio::pin!(timer);
    loop {
        tokio::select! {
            datagram = connection.receive_datagram() => {
                let Ok(datagram) = datagram else { return Close::Gone };
                let payload = datagram.payload();
                if payload.len() > MAX_PACKET_LEN {
                    Counters::bump(&counters.datagrams_oversized);
                    continue;
                }
                if !port.inbound.push(peer, &payload) {
                    Counters::bump(&counters.datagrams_queue_full);
                }
                last = Some(Instant::now());
            }
            stream = connection.accept_uni() => {
                return if stream.is_ok() { Close::Stream } else { Close::Gone };
            }
            stream = connection.accept_bi() => {
                return if stream.is_ok() { Close::Stream } else { Close::Gone };
            }
            () = &mut timer => {
                // The timer is moved on lazily, not per datagram.
                let Some(last) = last else { return Close::Silent };
                let due = last + limits.idle;
                if due <= Instant::now() {
                    return Close::Idle;
                }
                timer.as_mut().reset(due);
            }
            _ = shutdown.wait_for(|closing| *closing) => return Close::Shutdown,
        }
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
