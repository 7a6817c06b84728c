//! Datagrams that WebTransport tasks received, waiting for the port (or
//! client) thread: a bounded queue and the waker that tells the thread.

use berth::engine::transport::{IoCount, PortWaker, RecvBatch};
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::net::SocketAddr;

/// Most datagrams held for the thread; past it, new ones are dropped and
/// counted (the thread is not keeping up, as a full socket buffer would).
pub(crate) const MAX_QUEUED: usize = 8192;

/// The queue between the WebTransport tasks and the thread.
#[derive(Debug, Default)]
pub(crate) struct Inbound {
    /// The datagrams as QUIC handed them over: no copy until the batch.
    queue: Mutex<VecDeque<(SocketAddr, Bytes)>>,
    waker: Mutex<Option<PortWaker>>,
}

impl Inbound {
    /// Sets the waker of the thread that drains the queue.
    pub(crate) fn set_waker(&self, waker: PortWaker) {
        *self.waker.lock() = Some(waker);
    }

    /// Queues a datagram from `from` and wakes the thread; false, and
    /// nothing queued, when [`MAX_QUEUED`] are already waiting.
    pub(crate) fn push(&self, from: SocketAddr, datagram: Bytes) -> bool {
        let was_empty = {
            let mut queue = self.queue.lock();
            if queue.len() >= MAX_QUEUED {
                return false;
            }
            queue.push_back((from, datagram));
            queue.len() == 1
        };
        // The thread drains the whole queue on a wake, so only the datagram
        // that made it non-empty needs to wake it.
        if let (true, Some(waker)) = (was_empty, &*self.waker.lock()) {
            waker.wake();
        }
        true
    }

    /// Moves queued datagrams into `into`, as a transport's `recv` does.
    pub(crate) fn drain_into(&self, into: &mut RecvBatch) -> IoCount {
        into.clear();
        let mut count = IoCount::default();
        let mut queue = self.queue.lock();
        while into.len() < RecvBatch::CAPACITY {
            let Some((from, bytes)) = queue.pop_front() else {
                break;
            };
            if into.push(from, &bytes) {
                count.datagrams += 1;
                count.bytes += bytes.len() as u64;
            }
        }
        count.drained = queue.is_empty();
        count
    }
}
