//! Message bytes stored back to back in one reused buffer.
//!
//! The channel layer queues messages to send (unreliable ones until the
//! next packet, reliable ones until acked) and messages received (until the
//! application takes them). A `Vec` per message costs an allocation and a
//! free each; a [`ByteQueue`] appends every message to one buffer and drops
//! them from the front, so once the buffer has grown to the connection's
//! working size, queueing allocates nothing.
//!
//! Positions are absolute (bytes ever pushed), so a [`Span`] stays valid
//! while the front moves and the buffer is compacted.

/// Where one message's bytes sit in a [`ByteQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: u64,
    len: u32,
}

impl Span {
    /// The message's length in bytes.
    pub(crate) const fn len(self) -> usize {
        self.len as usize
    }

    /// The absolute position just past the message.
    const fn end(self) -> u64 {
        self.start + self.len as u64
    }
}

/// A FIFO of byte runs in one buffer.
///
/// Runs are pushed at the back and released from the front in push order
/// ([`ByteQueue::release_through`]); a released run's bytes are reclaimed
/// when the whole buffer is released or its dead front is at least half of
/// it (a `memmove`, amortised O(1) per byte). The buffer keeps its capacity.
#[derive(Debug, Default)]
pub(crate) struct ByteQueue {
    buf: Vec<u8>,
    /// Absolute position of `buf[0]`.
    base: u64,
    /// Absolute position before which everything is released.
    head: u64,
}

impl ByteQueue {
    /// Appends `bytes` (at most `u32::MAX` of them; the channel layer's
    /// limits are far below) and returns where they are.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Span {
        let start = self.base + self.buf.len() as u64;
        self.buf.extend_from_slice(bytes);
        Span {
            start,
            len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        }
    }

    /// The bytes of `span`; empty if it was released and reclaimed.
    pub(crate) fn get(&self, span: Span) -> &[u8] {
        let Some(from) = span
            .start
            .checked_sub(self.base)
            .and_then(|i| usize::try_from(i).ok())
        else {
            return &[];
        };
        self.buf.get(from..from + span.len()).unwrap_or_default()
    }

    /// Releases everything up to and including `span`: the runs before it
    /// were pushed first and must be done with too.
    pub(crate) fn release_through(&mut self, span: Span) {
        self.head = self.head.max(span.end());
        let dead = usize::try_from(self.head - self.base).unwrap_or(usize::MAX);
        if dead >= self.buf.len() {
            self.buf.clear();
            self.base = self.head;
        } else if dead >= self.buf.len() / 2 {
            self.buf.drain(..dead);
            self.base = self.head;
        }
    }

    /// Releases everything.
    pub(crate) fn clear(&mut self) {
        self.base += self.buf.len() as u64;
        self.head = self.base;
        self.buf.clear();
    }

    /// Bytes held, released or not (what the queue costs in memory now).
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_come_back_until_released_and_the_buffer_is_reclaimed() {
        let mut q = ByteQueue::default();
        let a = q.push(b"alpha");
        let b = q.push(b"beta");
        let c = q.push(b"gamma");
        assert_eq!(
            (q.get(a), q.get(b), q.get(c)),
            (&b"alpha"[..], &b"beta"[..], &b"gamma"[..])
        );
        q.release_through(a);
        // 5 of 14 bytes dead: not yet worth a move.
        assert_eq!(q.held(), 14);
        assert_eq!(q.get(b), b"beta");
        q.release_through(b);
        // 9 of 14 dead: compacted, and c still reads back.
        assert_eq!(q.held(), 5);
        assert_eq!(q.get(c), b"gamma");
        q.release_through(c);
        assert_eq!(q.held(), 0);
        let d = q.push(b"delta");
        assert_eq!(q.get(d), b"delta");
        assert_eq!(q.get(a), b"", "a released, reclaimed run reads empty");
    }

    #[test]
    fn a_steady_flow_reuses_the_buffer_without_growing() {
        let mut q = ByteQueue::default();
        let mut held = std::collections::VecDeque::new();
        for i in 0..64u32 {
            held.push_back((i, q.push(&[i as u8; 100])));
        }
        let capacity = q.buf.capacity();
        for i in 64..10_064u32 {
            let (value, oldest) = held.pop_front().unwrap();
            assert_eq!(q.get(oldest), [value as u8; 100]);
            q.release_through(oldest);
            held.push_back((i, q.push(&[i as u8; 100])));
            assert!(q.held() <= 2 * 64 * 100 + 100, "dead bytes are reclaimed");
        }
        assert!(
            q.buf.capacity() <= capacity * 2,
            "the buffer stopped growing"
        );
    }

    #[test]
    fn clear_releases_everything_and_old_spans_read_empty() {
        let mut q = ByteQueue::default();
        let a = q.push(b"one");
        q.clear();
        assert_eq!(q.held(), 0);
        assert_eq!(q.get(a), b"");
        let b = q.push(b"two");
        assert_eq!(q.get(b), b"two");
    }
}
