//! loom models of berth's cross-thread structures.
//!
//! The balancer counters, the cross-port mailbox and shutdown are written
//! against berth's `sync` facade, which swaps in loom's primitives when built
//! with `RUSTFLAGS="--cfg loom"`. The models live here, outside the main
//! crate's test suite, because loom explores every interleaving and is slow:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p berth-loom-tests --release
//! ```
//!
//! The protocol core (wire, crypto, proto) is single-threaded by design and
//! has no model here; the engine's structures join as they are written.
