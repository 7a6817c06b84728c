//! berth: a multithreaded raw-UDP transport for real-time games.
//!
//! berth speaks [netcode.io 1.02](https://github.com/mas-bandwidth/netcode/blob/main/STANDARD.md)
//! byte for byte, so any standard netcode client connects to a berth server
//! and a berth client to theirs.
//!
//! # Layers
//!
//! Each layer uses only the ones above it; nothing below the engine knows a
//! socket, a thread or a clock exists.
//!
//! - [`crypto`]: keys and in-place AEAD with netcode's nonces and AAD.
//! - [`wire`]: parse/emit pairs for tokens and packets; parse never panics.
//! - [`proto`]: sans-IO state machines: a server shard and a client, fed
//!   `(now, from, bytes)` and returning what to send.
//!
//! # Examples
//!
//! Make a connect token for a client, as a game's web backend would:
//!
//! ```
//! use berth::{ConnectTokenBuilder, Key, ProtocolId};
//!
//! let protocol_id = ProtocolId::new("my-game").version(1, 0).finish();
//! let private_key = Key::from_bytes([7; 32]); // load yours from a secret store
//! let token = ConnectTokenBuilder::new(protocol_id, 42)
//!     .server("127.0.0.1:40000".parse().unwrap())
//!     .build(&private_key)
//!     .unwrap();
//! let bytes: [u8; 2048] = token.to_bytes(); // send these to the client
//! assert_eq!(berth::wire::connect_token::ConnectToken::parse(&bytes).unwrap(), token);
//! ```
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod clock;
pub mod crypto;
pub mod engine;
pub mod proto;
mod protocol_id;
pub mod relay;
mod sync;
mod token_builder;
pub mod wire;

pub use crypto::{Key, OsRandom, Random};
pub use protocol_id::{Protocol, ProtocolId};
pub use token_builder::{ConnectTokenBuilder, TokenError};
pub use wire::connect_token::ConnectToken;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
