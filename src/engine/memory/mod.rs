//! An in-memory transport with seeded faults, for host mode and deterministic tests.
//!
//! A [`MemoryNetwork`] stands in for UDP: [`MemorySocket`]s bound to
//! addresses exchange datagrams that [`Faults`] may lose, duplicate,
//! reorder or delay, every choice drawn from one seeded generator. The
//! engine's [`crate::engine::Server`] and [`crate::engine::Client`] run over
//! it unchanged; tests may also drive the sans-IO [`crate::proto`] state
//! machines through its sockets with a fake clock.

mod faults;
mod network;

pub use faults::Faults;
pub use network::{DEFAULT_INBOX_LEN, MAX_DATAGRAM_LEN, MemoryNetwork, MemorySocket, NetworkStats};
