//! A bounded queue into a port thread, with at most one wake per batch.
//!
//! Senders push and wake the port only if no wake is already pending; the
//! port clears the flag before it drains. A push that lands after the
//! port's last pop sees the flag clear and wakes it, so nothing is left
//! waiting; a burst of pushes between two drains costs one wake syscall.

// Public only for the loom models (`engine::loom_models`, cfg(loom)).
#![cfg_attr(not(loom), allow(unreachable_pub))]

use crate::sync::{AtomicBool, BoundedQueue, Ordering};
use std::io;

/// Wakes a port thread. `mio::Waker` in the engine; a counter in models.
pub trait Wake: Send + Sync {
    /// Makes the port's next (or current) poll return.
    fn wake(&self) -> io::Result<()>;
}

impl Wake for mio::Waker {
    fn wake(&self) -> io::Result<()> {
        Self::wake(self)
    }
}

/// A port's waker is shared with its in-memory socket, if it has one
/// (mio allows one waker per poll).
impl<W: Wake> Wake for crate::sync::Arc<W> {
    fn wake(&self) -> io::Result<()> {
        W::wake(self)
    }
}

/// The queue into one port.
#[derive(Debug)]
pub struct Mailbox<T, W> {
    queue: BoundedQueue<T>,
    wake_pending: AtomicBool,
    waker: W,
}

impl<T, W: Wake> Mailbox<T, W> {
    /// An empty queue of `capacity` items that wakes its port with `waker`.
    pub fn new(capacity: usize, waker: W) -> Self {
        Self {
            queue: BoundedQueue::new(capacity.max(1)),
            wake_pending: AtomicBool::new(false),
            waker,
        }
    }

    /// Queues `item`, waking the port if it is not already due to wake.
    ///
    /// # Errors
    ///
    /// Gives `item` back when the queue is full: the port is not keeping up.
    pub fn push(&self, item: T) -> Result<(), T> {
        self.queue.push(item)?;
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            if let Err(e) = self.waker.wake() {
                tracing::warn!(error = %e, "could not wake a port thread");
            }
        }
        Ok(())
    }

    /// Wakes the port without queueing anything (for shutdown).
    pub fn wake(&self) {
        self.wake_pending.store(true, Ordering::Release);
        if let Err(e) = self.waker.wake() {
            tracing::warn!(error = %e, "could not wake a port thread");
        }
    }

    /// Takes everything queued, oldest first. Called by the port thread.
    pub fn drain(&self, mut each: impl FnMut(T)) {
        // A read-modify-write, not a store: the pops below must not be
        // reordered before the flag clears, or a push could see the flag
        // still set, skip its wake, and strand its item.
        self.wake_pending.swap(false, Ordering::AcqRel);
        while let Some(item) = self.queue.pop() {
            each(item);
        }
    }
}
