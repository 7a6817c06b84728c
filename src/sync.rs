//! The synchronisation primitives the engine's cross-thread structures use.
//!
//! Under `--cfg loom` they come from loom, so `loom-tests/` can explore
//! every interleaving of the balancer, the mailbox and shutdown; otherwise
//! from std and crossbeam. Code that shares state between threads imports
//! from here, never from `std::sync` directly.

#[cfg(not(loom))]
pub(crate) use std::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// A bounded multi-producer queue: crossbeam's lock-free `ArrayQueue`, or
/// under loom a locked `VecDeque` loom can see into.
#[cfg(not(loom))]
pub(crate) type BoundedQueue<T> = crossbeam_queue::ArrayQueue<T>;

#[cfg(loom)]
pub(crate) use loom_queue::BoundedQueue;

#[cfg(loom)]
mod loom_queue {
    use loom::sync::Mutex;
    use std::collections::VecDeque;

    /// `ArrayQueue`'s interface over a loom mutex.
    #[derive(Debug)]
    pub(crate) struct BoundedQueue<T> {
        capacity: usize,
        items: Mutex<VecDeque<T>>,
    }

    impl<T> BoundedQueue<T> {
        pub(crate) fn new(capacity: usize) -> Self {
            Self {
                capacity,
                items: Mutex::new(VecDeque::new()),
            }
        }

        pub(crate) fn push(&self, item: T) -> Result<(), T> {
            let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
            if items.len() >= self.capacity {
                return Err(item);
            }
            items.push_back(item);
            Ok(())
        }

        pub(crate) fn pop(&self) -> Option<T> {
            self.items
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front()
        }
    }
}
