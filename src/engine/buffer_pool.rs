//! Byte buffers that carry messages between port threads, handed back for
//! reuse so that a steady flow of cross-port messages allocates nothing.
//!
//! The sending thread copies a message into a buffer from the pool (or a
//! new one when the pool is empty); the port that sends it on returns the
//! buffer when done. Buffers cycle between the two, and once each has grown
//! to the size of the messages it carries, no allocation is left.
//!
//! What the pool keeps is bounded twice: by count, and by the bytes the
//! kept buffers hold. A burst of large messages (peers choose their
//! sizes) would otherwise leave the pool holding a buffer of up to 16 KiB
//! in every one of its slots for good.

use crate::sync::{AtomicUsize, BoundedQueue, Ordering};

/// Buffers larger than this are freed instead of kept, so that one huge
/// message does not pin its memory in the pool for good.
const MAX_KEPT_CAPACITY: usize = 16 * 1024;

/// The most buffers the pool keeps: a steady flow cycles far fewer (about
/// the messages in flight between two wakes of a port).
const MAX_KEPT_BUFFERS: usize = 8192;

/// The most bytes the kept buffers may hold between them.
const MAX_KEPT_BYTES: usize = 8 * 1024 * 1024;

/// A bounded pool of empty byte buffers, shared by all ports.
#[derive(Debug)]
pub(crate) struct BufferPool {
    free: BoundedQueue<Vec<u8>>,
    /// The capacity of the buffers in `free`, summed.
    kept_bytes: AtomicUsize,
    max_kept_bytes: usize,
}

impl BufferPool {
    /// A pool that keeps up to `capacity` buffers ([`MAX_KEPT_BUFFERS`] at
    /// most), holding 8 MiB between them at most.
    pub(crate) fn new(capacity: usize) -> Self {
        Self::with_byte_limit(capacity, MAX_KEPT_BYTES)
    }

    fn with_byte_limit(capacity: usize, max_kept_bytes: usize) -> Self {
        Self {
            free: BoundedQueue::new(capacity.clamp(1, MAX_KEPT_BUFFERS)),
            kept_bytes: AtomicUsize::new(0),
            max_kept_bytes,
        }
    }

    /// A buffer holding a copy of `bytes`: a pooled one if there is one.
    pub(crate) fn copy_of(&self, bytes: &[u8]) -> Vec<u8> {
        let mut buf = match self.free.pop() {
            Some(buf) => {
                self.kept_bytes.fetch_sub(buf.capacity(), Ordering::Relaxed);
                buf
            }
            None => Vec::new(),
        };
        buf.extend_from_slice(bytes);
        buf
    }

    /// Takes `buf` back for reuse (emptied); dropped if the pool is full,
    /// holds its bytes' worth already, or the buffer is too large to keep.
    pub(crate) fn give_back(&self, mut buf: Vec<u8>) {
        let capacity = buf.capacity();
        if capacity == 0 || capacity > MAX_KEPT_CAPACITY {
            return;
        }
        let kept = self.kept_bytes.fetch_add(capacity, Ordering::Relaxed);
        if kept + capacity > self.max_kept_bytes {
            self.kept_bytes.fetch_sub(capacity, Ordering::Relaxed);
            return;
        }
        buf.clear();
        if self.free.push(buf).is_err() {
            self.kept_bytes.fetch_sub(capacity, Ordering::Relaxed);
        }
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

    #[test]
    fn the_pool_keeps_no_more_bytes_than_its_limit() {
        let pool = BufferPool::with_byte_limit(100, 40 * 1024);
        // A burst of large messages comes back: only 40 KiB of it is kept.
        let burst: Vec<Vec<u8>> = (0..10).map(|_| pool.copy_of(&[7; 10_000])).collect();
        for buf in burst {
            pool.give_back(buf);
        }
        assert_eq!(
            pool.free.len(),
            4,
            "four buffers of 10,000 bytes fit in 40 KiB"
        );
        let kept = pool.kept_bytes.load(Ordering::Relaxed);
        assert!((40_000..=40 * 1024).contains(&kept), "{kept} bytes kept");
        // Taking them out again counts them out.
        for _ in 0..10 {
            let _ = pool.copy_of(b"x");
        }
        assert_eq!(pool.kept_bytes.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_pool_keeps_at_most_its_most_buffers() {
        let pool = BufferPool::new(1 << 20);
        for _ in 0..MAX_KEPT_BUFFERS + 10 {
            pool.give_back(Vec::with_capacity(8));
        }
        assert_eq!(pool.free.len(), MAX_KEPT_BUFFERS);
    }
}
