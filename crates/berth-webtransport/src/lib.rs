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
//! # Why wtransport
//!
//! [wtransport] is a maintained WebTransport implementation on quinn with
//! a synchronous `send_datagram`, which lets a berth port thread send
//! without entering the runtime, and builds the self-signed ECDSA P-256
//! certificates browsers pin. Its cost per forwarded message against UDP
//! is measured in PERF.md ("WebTransport").
//!
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
