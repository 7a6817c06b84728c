//! A fleet of berth relays on NATS JetStream KV.
//!
//! - Each relay node runs a [`agent::NodeAgent`] (the `berth-node` binary:
//!   `berth-relay` plus `--fleet` and `--node-id`). Every 2 s it writes its
//!   record (ports, loads, rooms, draining) to the `berth_nodes` bucket; a
//!   clean exit deletes it; a record older than 6 s marks a dead node.
//! - Fronts (`berth-front`) answer `POST /token`: the body is the relay
//!   message the player means to send (`RequestMatch` with its MatchInfo).
//!   A front places it ([`claim`]: identical MatchInfo meets on one node,
//!   claimed with KV compare-and-set; a new room goes to the less loaded of
//!   two random live nodes) and mints a token naming only that node's
//!   ports. Fronts and nodes never call each other; they share a key file
//!   and NATS, and the key never goes into NATS.
//!
//! Every bucket is bounded (max-bytes and max-age at creation), every
//! value read is checked, and garbage is logged and ignored.

pub mod agent;
pub mod args;
pub mod claim;
pub mod front;
pub mod nats;
pub mod record;
