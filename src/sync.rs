//! The synchronisation primitives the engine's cross-thread structures use.
//!
//! Under `--cfg loom` they come from loom, so `loom-tests/` can explore
//! every interleaving of the balancer, the mailbox and shutdown; otherwise
//! from std. Code that shares state between threads imports from here, never
//! from `std::sync` directly.

#[cfg(not(loom))]
pub(crate) use std::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
