//! The in-memory network: sockets that are map entries, links that are
//! queues ordered by arrival time.

use super::faults::{Fate, FaultInjector, Faults};
use crate::engine::transport::PortWaker;
use crate::sync::Arc;
use ahash::AHashMap;
use parking_lot::Mutex;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

/// Datagrams one socket may hold before new ones are dropped (like a
/// kernel receive buffer), unless changed with [`MemoryNetwork::set_inbox_len`].
pub const DEFAULT_INBOX_LEN: usize = 4096;
/// The longest datagram the network carries: UDP's limit over IPv4.
pub const MAX_DATAGRAM_LEN: usize = 65_507;
/// Where [`MemoryNetwork::bind`] starts looking for a free port for port 0.
const FIRST_EPHEMERAL_PORT: u16 = 49_152;

/// What happened to the datagrams sent on a [`MemoryNetwork`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetworkStats {
    /// Datagrams handed to `send_to`.
    pub sent: u64,
    /// Datagrams taken by a receiver (duplicates count twice).
    pub delivered: u64,
    /// Datagrams the faults dropped.
    pub lost: u64,
    /// Extra copies the faults made.
    pub duplicated: u64,
    /// Datagrams dropped because the receiver's inbox was full.
    pub overflowed: u64,
    /// Datagrams to an address no socket is bound to, or too long.
    pub unroutable: u64,
}

/// A network that lives in one process: [`MemorySocket`]s bound to
/// addresses, with seeded [`Faults`] on every datagram.
///
/// Use it for host mode (a server and its local players in one process, no
/// sockets: see [`crate::engine::ServerConfig::in_memory`] and
/// [`crate::engine::Client::bind_in_memory`]) and for deterministic tests:
/// drive the sockets from one thread with a fake clock and a seed, and a
/// run replays exactly. Cloning gives another handle to the same network.
///
/// Each datagram is delivered no earlier than `now` plus its delay, where
/// `now` is what the sender passed; receivers pass their own `now`. One
/// lock guards the network: it is a test and host-mode transport, not the
/// UDP fast path.
///
/// # Examples
///
/// ```
/// use berth::engine::{Faults, MemoryNetwork};
/// use std::time::{Duration, Instant};
///
/// let net = MemoryNetwork::new(Faults::default().delay(Duration::from_millis(20), Duration::ZERO));
/// let a = net.bind("10.0.0.1:5000".parse().unwrap()).unwrap();
/// let b = net.bind("10.0.0.2:0".parse().unwrap()).unwrap();
/// let start = Instant::now();
/// a.send_to(start, b.local_addr(), b"hello");
/// assert_eq!(b.recv_from(start), None); // still on the wire
/// let later = start + Duration::from_millis(20);
/// assert_eq!(b.recv_from(later), Some((a.local_addr(), b"hello".to_vec())));
/// ```
#[derive(Debug, Clone)]
pub struct MemoryNetwork {
    net: Arc<Mutex<Net>>,
}

#[derive(Debug)]
struct Net {
    injector: FaultInjector,
    inboxes: AHashMap<SocketAddr, Inbox>,
    inbox_len: usize,
    /// Ties between equal arrival times go to the datagram sent first.
    order: u64,
    stats: NetworkStats,
}

#[derive(Debug, Default)]
struct Inbox {
    queue: BinaryHeap<Reverse<Queued>>,
    waker: Option<PortWaker>,
    /// Failed on demand ([`MemoryNetwork::fail`]): batched sends and
    /// receives return an error from now on.
    failed: bool,
}

#[derive(Debug)]
struct Queued {
    arrival: Instant,
    order: u64,
    from: SocketAddr,
    bytes: Vec<u8>,
}

impl Queued {
    fn key(&self) -> (Instant, u64) {
        (self.arrival, self.order)
    }
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl MemoryNetwork {
    /// An empty network that applies `faults` to every datagram.
    pub fn new(faults: Faults) -> Self {
        Self {
            net: Arc::new(Mutex::new(Net {
                injector: FaultInjector::new(faults),
                inboxes: AHashMap::new(),
                inbox_len: DEFAULT_INBOX_LEN,
                order: 0,
                stats: NetworkStats::default(),
            })),
        }
    }

    /// Binds a socket at `addr`; port 0 picks a free port at that IP.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::AddrInUse`] when a socket already holds `addr`, or
    /// every port at that IP is taken.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<MemorySocket> {
        let mut net = self.net.lock();
        let addr = if addr.port() == 0 {
            net.free_port(addr)?
        } else {
            addr
        };
        if net.inboxes.contains_key(&addr) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{addr} is already bound on this memory network"),
            ));
        }
        net.inboxes.insert(addr, Inbox::default());
        Ok(MemorySocket {
            network: self.clone(),
            addr,
        })
    }

    /// Applies `faults` to datagrams sent from now on (say, to cut a link
    /// with a loss of 1). The generator restarts from the new seed.
    pub fn set_faults(&self, faults: Faults) {
        self.net.lock().injector = FaultInjector::new(faults);
    }

    /// Sets how many datagrams each socket may hold; more are dropped and
    /// counted in [`NetworkStats::overflowed`].
    pub fn set_inbox_len(&self, len: usize) {
        self.net.lock().inbox_len = len;
    }

    /// Breaks the socket bound at `addr`, as a socket can break under a
    /// process (its descriptor closed, its interface gone): from now on the
    /// engine's batched sends and receives on it fail with
    /// [`io::ErrorKind::BrokenPipe`], and its thread is woken to find out.
    /// For tests of what a server does when a port fails. Returns whether
    /// a socket was bound there.
    pub fn fail(&self, addr: SocketAddr) -> bool {
        let mut net = self.net.lock();
        let Some(inbox) = net.inboxes.get_mut(&addr) else {
            return false;
        };
        inbox.failed = true;
        if let Some(waker) = &inbox.waker {
            waker.wake();
        }
        true
    }

    /// What happened to the datagrams so far.
    pub fn stats(&self) -> NetworkStats {
        self.net.lock().stats
    }
}

impl Net {
    /// Fails unless the socket at `addr` works ([`MemoryNetwork::fail`]).
    fn check_working(&self, addr: SocketAddr) -> io::Result<()> {
        if self.inboxes.get(&addr).is_some_and(|inbox| inbox.failed) {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("memory socket {addr} was failed on demand"),
            ));
        }
        Ok(())
    }

    fn free_port(&self, addr: SocketAddr) -> io::Result<SocketAddr> {
        (FIRST_EPHEMERAL_PORT..=u16::MAX)
            .chain(1..FIRST_EPHEMERAL_PORT)
            .map(|port| SocketAddr::new(addr.ip(), port))
            .find(|candidate| !self.inboxes.contains_key(candidate))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("no free port at {} on this memory network", addr.ip()),
                )
            })
    }

    fn send(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, bytes: &[u8]) {
        self.stats.sent += 1;
        if bytes.len() > MAX_DATAGRAM_LEN || !self.inboxes.contains_key(&to) {
            self.stats.unroutable += 1;
            return;
        }
        match self.injector.fate() {
            Fate::Lost => self.stats.lost += 1,
            Fate::Once(delay) => self.enqueue(now + delay, from, to, bytes),
            Fate::Twice(first, second) => {
                self.stats.duplicated += 1;
                self.enqueue(now + first, from, to, bytes);
                self.enqueue(now + second, from, to, bytes);
            }
        }
    }

    fn enqueue(&mut self, arrival: Instant, from: SocketAddr, to: SocketAddr, bytes: &[u8]) {
        let order = self.order;
        self.order += 1;
        let inbox_len = self.inbox_len;
        let Some(inbox) = self.inboxes.get_mut(&to) else {
            return;
        };
        if inbox.queue.len() >= inbox_len {
            self.stats.overflowed += 1;
            return;
        }
        // The receiver sleeps until its earliest arrival; wake it only
        // when this datagram becomes the earliest.
        let earliest = inbox
            .queue
            .peek()
            .is_none_or(|head| arrival < head.0.arrival);
        inbox.queue.push(Reverse(Queued {
            arrival,
            order,
            from,
            bytes: bytes.to_vec(),
        }));
        if earliest {
            if let Some(waker) = &inbox.waker {
                waker.wake();
            }
        }
    }
}

/// A socket on a [`MemoryNetwork`]; dropping it unbinds its address.
#[derive(Debug)]
pub struct MemorySocket {
    network: MemoryNetwork,
    addr: SocketAddr,
}

impl MemorySocket {
    /// The address this socket is bound to.
    pub const fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends a datagram at time `now`. Like UDP, it never fails: a datagram
    /// to an unbound address, too long, lost or overflowing is counted in
    /// [`MemoryNetwork::stats`] and gone.
    pub fn send_to(&self, now: Instant, to: SocketAddr, bytes: &[u8]) {
        self.network.net.lock().send(now, self.addr, to, bytes);
    }

    /// The earliest datagram that has arrived by `now`, with its sender.
    pub fn recv_from(&self, now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        let mut net = self.network.net.lock();
        let datagram = net.inboxes.get_mut(&self.addr)?.pop_due(now)?;
        net.stats.delivered += 1;
        Some((datagram.from, datagram.bytes))
    }

    /// When the next datagram arrives, if one is on its way.
    pub fn next_arrival(&self) -> Option<Instant> {
        let net = self.network.net.lock();
        Some(net.inboxes.get(&self.addr)?.queue.peek()?.0.arrival)
    }

    /// Runs `f` with a send function under one lock of the network.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::BrokenPipe`] once the socket has been failed on
    /// demand ([`MemoryNetwork::fail`]); `f` is not run.
    pub(crate) fn sending<R>(
        &self,
        f: impl FnOnce(&mut dyn FnMut(Instant, SocketAddr, &[u8])) -> R,
    ) -> io::Result<R> {
        let mut net = self.network.net.lock();
        net.check_working(self.addr)?;
        Ok(f(&mut |now, to, bytes| net.send(now, self.addr, to, bytes)))
    }

    /// Hands up to `max` datagrams that have arrived by `now` to `each`,
    /// under one lock; returns how many.
    ///
    /// # Errors
    ///
    /// As [`MemorySocket::sending`].
    pub(crate) fn recv_each(
        &self,
        now: Instant,
        max: usize,
        mut each: impl FnMut(SocketAddr, &[u8]),
    ) -> io::Result<usize> {
        let mut net = self.network.net.lock();
        net.check_working(self.addr)?;
        let mut taken = 0;
        while taken < max {
            let Some(datagram) = net
                .inboxes
                .get_mut(&self.addr)
                .and_then(|inbox| inbox.pop_due(now))
            else {
                break;
            };
            each(datagram.from, &datagram.bytes);
            taken += 1;
        }
        net.stats.delivered += taken as u64;
        Ok(taken)
    }

    /// Wakes `waker` whenever a datagram becomes this socket's earliest.
    pub(crate) fn set_waker(&self, waker: PortWaker) {
        if let Some(inbox) = self.network.net.lock().inboxes.get_mut(&self.addr) {
            inbox.waker = Some(waker);
        }
    }
}

impl Inbox {
    fn pop_due(&mut self, now: Instant) -> Option<Queued> {
        if self.queue.peek()?.0.arrival > now {
            return None;
        }
        self.queue.pop().map(|Reverse(datagram)| datagram)
    }
}

impl Drop for MemorySocket {
    fn drop(&mut self) {
        self.network.net.lock().inboxes.remove(&self.addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn datagrams_arrive_in_arrival_order_no_earlier_than_their_delay() {
        let net = MemoryNetwork::new(
            Faults::default()
                .delay(Duration::from_millis(10), Duration::from_millis(40))
                .seed(3),
        );
        let a = net.bind(addr("10.0.0.1:1")).unwrap();
        let b = net.bind(addr("10.0.0.2:2")).unwrap();
        let start = Instant::now();
        for i in 0..200u8 {
            a.send_to(
                start + Duration::from_millis(u64::from(i)),
                b.local_addr(),
                &[i],
            );
        }
        let mut got = Vec::new();
        let mut reordered = false;
        for ms in 0..300 {
            let now = start + Duration::from_millis(ms);
            while let Some((from, bytes)) = b.recv_from(now) {
                assert_eq!(from, a.local_addr());
                let sent_at = u64::from(bytes[0]);
                assert!(
                    ms >= sent_at + 10 && ms <= sent_at + 51,
                    "{sent_at} at {ms}"
                );
                reordered |= got.last().is_some_and(|last: &u8| *last > bytes[0]);
                got.push(bytes[0]);
            }
        }
        assert_eq!(got.len(), 200);
        assert!(reordered, "40 ms of jitter should reorder 1 ms apart sends");
        assert_eq!(net.stats().delivered, 200);
    }

    #[test]
    fn unbound_full_and_oversized_are_counted_not_delivered() {
        let net = MemoryNetwork::new(Faults::default());
        net.set_inbox_len(2);
        let a = net.bind(addr("10.0.0.1:0")).unwrap();
        let b = net.bind(addr("10.0.0.1:0")).unwrap();
        assert_ne!(a.local_addr(), b.local_addr());
        let now = Instant::now();
        a.send_to(now, addr("10.9.9.9:9"), b"nobody");
        a.send_to(now, b.local_addr(), &vec![0; MAX_DATAGRAM_LEN + 1]);
        for _ in 0..3 {
            a.send_to(now, b.local_addr(), b"x");
        }
        let stats = net.stats();
        assert_eq!((stats.sent, stats.unroutable, stats.overflowed), (5, 2, 1));
        assert!(b.recv_from(now).is_some() && b.recv_from(now).is_some());
        assert_eq!(b.recv_from(now), None);
    }

    #[test]
    fn an_address_is_bound_once_and_freed_on_drop() {
        let net = MemoryNetwork::new(Faults::default());
        let a = net.bind(addr("[::1]:7")).unwrap();
        let err = net.bind(addr("[::1]:7")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        drop(a);
        let b = net.bind(addr("[::1]:7")).unwrap();
        let c = net.bind(addr("[::1]:8")).unwrap();
        c.send_to(Instant::now(), b.local_addr(), b"v6");
        assert_eq!(b.recv_from(Instant::now()).unwrap().1, b"v6");
    }

    #[test]
    fn a_seeded_lossy_run_replays_exactly() {
        let run = || {
            let faults = Faults::default()
                .loss(0.3)
                .duplicate(0.1)
                .reorder(0.2, Duration::from_millis(30))
                .delay(Duration::ZERO, Duration::from_millis(5))
                .seed(11);
            let net = MemoryNetwork::new(faults);
            let a = net.bind(addr("10.0.0.1:1")).unwrap();
            let b = net.bind(addr("10.0.0.2:2")).unwrap();
            let start = Instant::now();
            let mut got = Vec::new();
            for i in 0..500u16 {
                let now = start + Duration::from_millis(u64::from(i));
                a.send_to(now, b.local_addr(), &i.to_le_bytes());
                while let Some((_, bytes)) = b.recv_from(now) {
                    got.push(u16::from_le_bytes([bytes[0], bytes[1]]));
                }
            }
            (got, net.stats())
        };
        let (first, stats) = run();
        assert_eq!(run().0, first);
        assert!(stats.lost > 100 && stats.duplicated > 10, "{stats:?}");
    }
}
