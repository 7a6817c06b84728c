//! The engine: sockets, one thread per port, batched I/O, placement, and the public handles.
//!
//! This is the only layer that knows sockets, threads and clocks exist. It
//! drives the sans-IO [`crate::proto`] state machines: one server shard per
//! port thread, no lock on the per-packet path.
//!
//! Two ways to use a [`Server`]:
//!
//! - **handle**: [`Server::bind`], then read [`Server::events`] and call
//!   [`Server::send`] from any thread;
//! - **handler**: [`Server::bind_with_handler`] runs your [`Handler`] on each
//!   port's thread, where a reply to a peer of the same port never leaves the
//!   thread.
//!
//! Channel mode (the default): messages travel on the channels of a
//! [`crate::proto::channel::ChannelTable`], reliable or not, many per packet.
//! Raw mode ([`ServerConfig::raw`]): each message is one netcode payload
//! (1..=1200 bytes), which is what plain netcode.io peers speak.

mod balancer;
mod batch;
mod batch_socket;
mod buffer_pool;
mod client;
mod config;
mod event;
mod handler;
mod ip_limit;
mod issuer;
mod latency;
mod mailbox;
mod memory;
mod peer;
mod port;
mod server;
mod socket;
mod stats;
pub mod transport;

/// The engine's cross-thread structures, for the loom models in `loom-tests/`.
///
/// Only built with `RUSTFLAGS="--cfg loom"`; not part of the API.
#[cfg(loom)]
pub mod loom_models {
    pub use super::balancer::Balancer;
    pub use super::mailbox::{Mailbox, Wake};
}

pub use batch_socket::BatchSocket;
pub use client::{Client, ClientError};
pub use config::ServerConfig;
pub use event::{SendError, ServerEvent};
pub use handler::{Context, Handler};
pub use latency::LatencyHistogram;
pub use memory::{
    DEFAULT_INBOX_LEN, Faults, MAX_DATAGRAM_LEN, MemoryNetwork, MemorySocket, NetworkStats,
};
pub use peer::PeerId;
pub use server::{BindError, NO_USER_DATA, Server, ServerSender};
pub use stats::PortStats;
