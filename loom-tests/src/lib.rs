//! loom models of berth's cross-thread structures.
//!
//! The balancer counters, the cross-port mailbox and shutdown are written
//! against berth's `sync` facade, which swaps in loom's primitives when built
//! with `RUSTFLAGS="--cfg loom"`; `berth::engine::loom_models` exports them
//! under that cfg only. The models live here, outside the main crate's test
//! suite, because loom explores every interleaving and is slow:
//!
//! ```text
//! export CARGO_TARGET_DIR=/tmp/target-loom   # keeps the loom build apart
//! RUSTFLAGS="--cfg loom" cargo test -p berth-loom-tests --release
//! ```
//!
//! Add `-- --nocapture` to see how many interleavings each model explored
//! and how long it took. Without `--cfg loom` every test file compiles to
//! nothing, so `cargo test --workspace` stays fast.
//!
//! # Models
//!
//! Each test prints its interleaving count and time (`--nocapture`). The
//! larger models run with a preemption bound (set per file, overridden by
//! `LOOM_MAX_PREEMPTIONS`). All but three of them also passed unbounded
//! when written, in up to 17 minutes; `two_producers_two_items_each`,
//! `every_port_exits` and `sender_racing_shutdown` ran with a bound of
//! three at most.
//!
//! - `tests/balancer.rs`, `Balancer` (least-loaded placement):
//!   - `two_placements_take_both_ports`: two concurrent placements on two
//!     empty ports land on different ports (the compare-and-swap re-checks
//!     the claim, so a stale snapshot cannot double up a port);
//!   - `three_placements_stay_within_one`: three concurrent placements end
//!     at `[2, 1]`, the sequential result: spread at most one, none lost;
//!   - `release_and_place_never_underflow`: a release paired with an earlier
//!     add, racing two placements, never wraps a counter and the sum is right;
//!   - `release_racing_place_is_linearizable`: a placement overlapping a
//!     release ends in a state one of their two orders produces;
//!   - `add_and_release_on_different_threads`: a reservation added on one
//!     thread and released on another (after a hand-off), racing a placement.
//! - `tests/mailbox.rs`, `Mailbox` (the queue into a port) with a
//!   `PortWaker` standing in for `mio::Waker`. The consumer sleeps until
//!   woken and then drains, so a lost wake-up is a loom deadlock:
//!   - `two_producers_nothing_lost_no_missed_wake`,
//!     `one_producer_burst_nothing_lost_no_missed_wake`,
//!     `two_producers_two_items_each`: every item arrives exactly once, in
//!     its producer's order, with between one wake and one per push, and
//!     nothing is left queued;
//!   - `producer_retries_when_full`: back-pressure; the retry after a drain
//!     wakes the port again;
//!   - `full_queue_gives_the_item_back`, `racing_pushes_into_a_full_queue`:
//!     a full queue hands back the very item and does not wake the port.
//! - `tests/shutdown.rs`, the protocol of `Server::stop` (flag with
//!   Release, then a wake per mailbox) and `Port::run` (after each wake,
//!   load the flag with Acquire, drain, exit if it was set):
//!   - `port_exits_after_draining_earlier_commands`: the port always exits
//!     and first runs the commands queued before shutdown;
//!   - `every_port_exits`: two ports, one handle;
//!   - `sender_racing_shutdown`: a `ServerSender` racing the flag. The port
//!     still exits; a command accepted just before the flag may be left in
//!     the queue (counted and printed, see the model's docs).
//!
//! # Assumptions and limits
//!
//! Under loom, berth's `BoundedQueue` is a `VecDeque` behind a loom mutex,
//! not crossbeam's lock-free `ArrayQueue`. A mutex orders more than the
//! real queue does, so the mailbox models check the wake protocol but
//! cannot catch a bug that only the weaker queue exposes: a `drain` that
//! clears the pending flag with a plain `store` instead of the `swap` (the
//! reordering the comment in `drain` warns about) passes them.
//!
//! The models wake the port through a loom `Notify`, which, like an eventfd
//! write and read (what `mio::Waker` is on Linux), is a release/acquire
//! pair. The shutdown protocol relies on it: the port reads the flag before
//! its drain, so the wake is what orders the handle's flag store before the
//! port's load.

#[cfg(loom)]
pub use model::{PortWaker, Signal, check};

#[cfg(loom)]
mod model {
    use berth::engine::loom_models::Wake;
    use std::io;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    /// What a model's port thread sleeps on, and how often it was woken.
    ///
    /// A loom `Notify`: wakes before the wait coalesce into one pending
    /// notification, as eventfd writes do for `mio::Waker`, and a notify is
    /// a release the wait acquires. It may also return spuriously (once),
    /// as a poll can.
    #[derive(Debug, Default)]
    pub struct Signal {
        notify: loom::sync::Notify,
        wakes: loom::sync::atomic::AtomicUsize,
    }

    impl Signal {
        /// Sleeps until woken (or spuriously). Only one thread may wait.
        pub fn wait(&self) {
            self.notify.wait();
        }

        /// How many times the mailbox called [`Wake::wake`].
        pub fn wakes(&self) -> usize {
            self.wakes.load(loom::sync::atomic::Ordering::Relaxed)
        }
    }

    /// The [`Wake`] a model hands its mailbox: the stand-in for `mio::Waker`.
    #[derive(Debug)]
    pub struct PortWaker(pub loom::sync::Arc<Signal>);

    impl Wake for PortWaker {
        fn wake(&self) -> io::Result<()> {
            self.0
                .wakes
                .fetch_add(1, loom::sync::atomic::Ordering::Relaxed);
            self.0.notify.notify();
            Ok(())
        }
    }

    /// Runs `f` under loom with `preemption_bound` (unless the
    /// `LOOM_MAX_PREEMPTIONS` environment variable sets one), and prints the
    /// number of interleavings explored and the time taken.
    ///
    /// Returns the number of interleavings.
    pub fn check<F>(name: &str, preemption_bound: Option<usize>, f: F) -> usize
    where
        F: Fn() + Sync + Send + 'static,
    {
        let mut builder = loom::model::Builder::new();
        if builder.preemption_bound.is_none() {
            builder.preemption_bound = preemption_bound;
        }
        // A std counter: loom does not see it, so it adds no interleavings.
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&runs);
        let start = Instant::now();
        builder.check(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            f();
        });
        let runs = runs.load(Ordering::Relaxed);
        eprintln!(
            "{name}: {runs} interleavings in {:.2?} (preemption bound {:?})",
            start.elapsed(),
            builder.preemption_bound,
        );
        runs
    }
}
