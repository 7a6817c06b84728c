//! What the WebTransport side of a server has done, counted.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters over every port of a [`crate::WebTransportServer`]. Each
/// refusal names what a hostile or broken peer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebTransportStats {
    /// Sessions accepted.
    pub sessions_opened: u64,
    /// Sessions open now.
    pub sessions_open: u64,
    /// Connection attempts refused before their handshake: their address
    /// already had [`crate::WebTransportConfig::max_sessions_per_ip`].
    pub refused_per_ip: u64,
    /// Sessions refused because the port held
    /// [`crate::WebTransportConfig::max_sessions_per_port`].
    pub refused_full: u64,
    /// Sessions refused because another session already had their address
    /// (the port knows peers by address).
    pub refused_address_in_use: u64,
    /// Connections that did not finish the QUIC and HTTP/3 handshake in
    /// time, or failed it.
    pub handshakes_failed: u64,
    /// Sessions closed because they sent no datagram within
    /// [`crate::WebTransportConfig::first_datagram_timeout`].
    pub closed_silent: u64,
    /// Sessions closed after [`crate::WebTransportConfig::idle_timeout`]
    /// without a datagram.
    pub closed_idle: u64,
    /// Sessions closed because they opened a stream: berth uses datagrams only.
    pub closed_stream: u64,
    /// Datagrams dropped for being longer than any netcode packet.
    pub datagrams_oversized: u64,
    /// Datagrams dropped because the port thread was not keeping up.
    pub datagrams_queue_full: u64,
    /// Datagrams the port sent that no session took: the peer's session
    /// had closed, or QUIC could not carry one that large yet.
    pub datagrams_unsent: u64,
}

/// The live counters behind [`WebTransportStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) sessions_opened: AtomicU64,
    pub(crate) sessions_closed: AtomicU64,
    pub(crate) refused_per_ip: AtomicU64,
    pub(crate) refused_full: AtomicU64,
    pub(crate) refused_address_in_use: AtomicU64,
    pub(crate) handshakes_failed: AtomicU64,
    pub(crate) closed_silent: AtomicU64,
    pub(crate) closed_idle: AtomicU64,
    pub(crate) closed_stream: AtomicU64,
    pub(crate) datagrams_oversized: AtomicU64,
    pub(crate) datagrams_queue_full: AtomicU64,
    pub(crate) datagrams_unsent: AtomicU64,
}

impl Counters {
    /// Adds one to `counter`.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot.
    pub(crate) fn snapshot(&self) -> WebTransportStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let opened = get(&self.sessions_opened);
        WebTransportStats {
            sessions_opened: opened,
            sessions_open: opened.saturating_sub(get(&self.sessions_closed)),
            refused_per_ip: get(&self.refused_per_ip),
            refused_full: get(&self.refused_full),
            refused_address_in_use: get(&self.refused_address_in_use),
            handshakes_failed: get(&self.handshakes_failed),
            closed_silent: get(&self.closed_silent),
            closed_idle: get(&self.closed_idle),
            closed_stream: get(&self.closed_stream),
            datagrams_oversized: get(&self.datagrams_oversized),
            datagrams_queue_full: get(&self.datagrams_queue_full),
            datagrams_unsent: get(&self.datagrams_unsent),
        }
    }
}
