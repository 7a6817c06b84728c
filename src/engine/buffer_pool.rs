//! Byte buffers that carry messages between port threads, handed back for
//! reuse so that a steady flow of cross-port messages allocates nothing.
//!
//! The sending thread copies a message into a buffer from the pool (or a
//! new one when the pool is empty); the port that sends it on returns the
//! buffer when done. Buffers cycle between the two, and once each has grown
//! to the size of the messages it carries, no allocation is left.

use crate::sync::BoundedQueue;

/// Buffers larger than this are freed instead of kept, so that one huge
/// message does not pin its memory in the pool for good.
const MAX_KEPT_CAPACITY: usize = 16 * 1024;

/// A bounded pool of empty byte buffers, shared by all ports.
#[derive(Debug)]
pub(crate) struct BufferPool {
    free: BoundedQueue<Vec<u8>>,
}

impl BufferPool {
    /// A pool that keeps up to `capacity` buffers.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            free: BoundedQueue::new(capacity.max(1)),
        }
    }

    /// A buffer holding a copy of `bytes`: a pooled one if there is one.
    pub(crate) fn copy_of(&self, bytes: &[u8]) -> Vec<u8> {
        let mut buf = self.free.pop().unwrap_or_default();
        buf.extend_from_slice(bytes);
        buf
    }

    /// Takes `buf` back for reuse (emptied); dropped if the pool is full or
    /// the buffer too large to keep.
    pub(crate) fn give_back(&self, mut buf: Vec<u8>) {
        if buf.capacity() == 0 || buf.capacity() > MAX_KEPT_CAPACITY {
            return;
        }
        buf.clear();
        let _ = self.free.push(buf);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_returned_buffer_is_reused_and_comes_back_empty() {
        let pool = BufferPool::new(2);
        let first = pool.copy_of(b"hello");
        assert_eq!(first, b"hello");
        let ptr = first.as_ptr();
        pool.give_back(first);
        let second = pool.copy_of(b"hi");
        assert_eq!(second, b"hi");
        assert_eq!(second.as_ptr(), ptr, "the same allocation came back");
    }

    #[test]
    fn the_pool_keeps_neither_huge_buffers_nor_more_than_its_capacity() {
        let pool = BufferPool::new(1);
        pool.give_back(vec![0; MAX_KEPT_CAPACITY + 1]);
        assert_eq!(pool.free.pop(), None);
        pool.give_back(Vec::with_capacity(8));
        pool.give_back(Vec::with_capacity(8));
        assert!(pool.free.pop().is_some());
        assert_eq!(pool.free.pop(), None);
    }
}
