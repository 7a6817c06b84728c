//! WebTransport for berth: browser players in the same rooms as native ones.
//!
//! A [`WebTransportServer`] runs one WebTransport endpoint (HTTP/3 over
//! QUIC) beside each UDP port of a berth server, on the port's own thread
//! as one more [`berth::engine::transport::Transport`]
//! ([`berth::engine::ServerConfig::add_transport`]). Each session is one
//! peer, known by the address its QUIC connection comes from, and each of
//! its datagrams is a netcode 1.02 packet, byte for byte what UDP carries.
//! So the port's shard, its channels, the relay and its rooms treat a
//! browser player as any other: one room can hold both kinds.
//!
//! Tokens for browser players name the WebTransport address
//! ([`berth::engine::Server::issue_token_via`] with this transport's
//! index); the browser opens [`WebTransportServer::url`] and, for the
//! self-signed certificates made by default, trusts them through
//! `serverCertificateHashes` ([`WebTransportServer::certificate_hashes`]:
//! the certificate presented now and the next, so a token fetched just
//! before a rotation still connects after it).
//!
//! ```no_run
//! use berth::engine::transport::Transport;
//! use berth::engine::ServerConfig;
//! use berth::{Key, OsRandom};
//! use berth_webtransport::{WebTransportConfig, WebTransportServer};
//!
//! let webtransport = WebTransportServer::start(WebTransportConfig::new("127.0.0.1:4433".parse()?))?;
//! let wt = webtransport.clone();
//! let config = ServerConfig::new("127.0.0.1:40000".parse()?, 7, Key::generate(&mut OsRandom))
//!     .add_transport(move |port| Ok(Box::new(wt.port(port)?) as Box<dyn Transport>));
//! let server = berth::engine::Server::bind(config)?;
//! let token = server.issue_token_via(1, 42, [0; 256])?;
//! let url = WebTransportServer::url(token.server_addresses.as_slice()[0]);
//! let hashes = webtransport.certificate_hashes();
//! # let _ = (url, hashes);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What a session may do
//!
//! Sessions carry datagrams only. The server refuses, closes or drops,
//! always counting ([`WebTransportStats`]):
//! - connection attempts from an address that already holds
//!   [`WebTransportConfig::max_sessions_per_ip`] sessions, before their TLS
//!   handshake;
//! - sessions past [`WebTransportConfig::max_sessions_per_port`], with
//!   HTTP 429;
//! - sessions that send no datagram within
//!   [`WebTransportConfig::first_datagram_timeout`], or none for
//!   [`WebTransportConfig::idle_timeout`];
//! - sessions that open a stream;
//! - datagrams longer than any netcode packet (1225 bytes).
//!
//! A slow browser is a slow peer like any other: the relay's budgets and
//! its too-slow rule apply to it unchanged.
//!
//! # Why web-transport-quinn
//!
//! Both maintained Rust WebTransport servers run on quinn:
//! [web-transport-quinn] and [wtransport]. This crate was first built on
//! wtransport, then the same port was built on web-transport-quinn and the
//! two measured side by side in one run (the `forward` bench, PERF.md,
//! "WebTransport"): the relay's CPU per forwarded message was 4.4-5.0
//! times UDP's on wtransport and 3.5-4.0 times on web-transport-quinn, with
//! the port thread's own share the same. wtransport hands each datagram to
//! its session through a channel of its driver; web-transport-quinn reads
//! it from quinn directly. Both send synchronously, so the port thread
//! sends without entering the runtime. web-transport-quinn also closes a
//! session with a WebTransport close (code and reason), which a browser
//! reads from `WebTransport.closed`.
//!
//! [web-transport-quinn]: https://docs.rs/web-transport-quinn
//! [wtransport]: https://docs.rs/wtransport

mod cert;
mod client;
mod inbound;
mod ip_sessions;
mod runtime;
mod server;
mod session;
mod stats;

pub use cert::{CertificateError, CertificateSource, Certificates, MAX_PINNED_VALIDITY};
pub use client::{ConnectError, WebTransportClient};
pub use server::{StartError, WebTransportConfig, WebTransportPort, WebTransportServer};
pub use stats::WebTransportStats;

/// QUIC's first packet size on both sides: large enough that the largest
/// netcode packet (1225 bytes) fits one datagram from the first packet on,
/// within an Ethernet path's 1500 bytes. (QUIC's floor, 1200, would hold
/// only datagrams of about 1,160 bytes until path MTU discovery had run.)
const INITIAL_MTU: u16 = 1350;

/// QUIC transport settings for both sides: a connection silent for `idle`
/// times out, keep-alives every 2 s, datagrams buffered, few streams (berth
/// uses none).
fn transport_config(idle: std::time::Duration) -> web_transport_quinn::quinn::TransportConfig {
    let mut transport = web_transport_quinn::quinn::TransportConfig::default();
    transport
        .max_idle_timeout(idle.try_into().ok())
        .keep_alive_interval(Some(std::time::Duration::from_secs(2)))
        .initial_mtu(INITIAL_MTU)
        .max_concurrent_uni_streams(4u32.into())
        .max_concurrent_bidi_streams(4u32.into())
        .datagram_receive_buffer_size(Some(256 * 1024))
        .datagram_send_buffer_size(256 * 1024);
    transport
}
