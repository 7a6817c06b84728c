//! The matchmaker and relay: rooms, lobbies and proxy forwarding on top of
//! the engine, so players who cannot reach each other play through one
//! server that never shows one player another's address.
//!
//! - [`RelayServer`] runs the relay as a handler on every port thread of an
//!   engine server: a message between players on the same port never leaves
//!   the thread; across ports it goes through the mailboxes in batches.
//! - [`RelayClient`] is the game's side: ask for a match or a lobby, watch
//!   [`RelayEvent`]s, send to one player or all others, reliably or not.
//! - [`protocol`] has the messages, on two channels from the block the
//!   channel layer reserves for the relay.
//!
//! Players with byte-identical [`MatchInfo`] share a waiting room; when it
//! is full, each gets `Matched` with the same seed and its own index. A
//! player who leaves (or drops) is reported to the rest, who keep playing;
//! a dropped player may take its seat back within the rejoin window; an
//! empty room is removed. Every table has a bound ([`RelayConfig`]).
//!
//! Overload: reliable forwards are never dropped. A recipient that does not
//! ack fast enough to take the room's reliable traffic (its send budget is
//! full) is disconnected; the rest hear `PlayerLeft` with
//! [`LeaveReason::TooSlow`] and play on, and it may rejoin its seat like
//! any dropped player. Unreliable forwards to it are dropped and counted.

mod address_check;
mod budgets;
mod client;
mod config;
mod direct;
mod fleet_rejoin;
mod handler;
mod matchmaker;
pub mod protocol;
mod routes;
mod server;

pub use client::{RelayClient, RelayEvent};
pub use config::RelayConfig;
pub use direct::{DirectConfig, PathCounters, PeerPath, Route};
pub use fleet_rejoin::FleetRejoin;
pub use protocol::{LeaveReason, LobbyCode, LobbyEntry, MatchInfo, RelayError, Target};
pub use server::{RelayServer, RelayStats, channel_table, protocol_id};
