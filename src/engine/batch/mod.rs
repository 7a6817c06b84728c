//! Batched datagram I/O: many datagrams per syscall where the OS allows.
//!
//! The port thread receives into a [`RecvBatch`] and sends from a
//! [`SendBatch`]; [`recv`] and [`send`] move them through the socket. On
//! Linux they use `recvmmsg`/`sendmmsg`, UDP GSO (many equal-sized datagrams
//! to one destination in one message) and UDP GRO (the kernel hands over
//! many datagrams from one source in one read), each detected at run time in
//! [`SocketState`]; elsewhere, one datagram per syscall. When the kernel says
//! it lacks a feature (`ENOSYS` from `recvmmsg`, `EIO`/`EINVAL` from a GSO
//! send), the socket's state drops that feature and the datagrams are retried
//! without it.
//!
//! This module knows sockets but not the protocol: it moves opaque datagrams
//! and counts what it moved. It never blocks and, after warm-up, never
//! allocates.
//!
//! `linux.rs` is the only place in berth with `unsafe` code.

#[cfg(any(test, not(target_os = "linux")))]
mod fallback;
#[cfg(target_os = "linux")]
mod gso;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(all(test, target_os = "linux"))]
mod tests;

use crate::proto::Outbox;
use crate::wire::packet::MAX_PACKET_LEN;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

#[cfg(not(target_os = "linux"))]
pub(crate) use fallback::{recv, send};
#[cfg(target_os = "linux")]
pub(crate) use linux::{recv, send};

/// Datagrams per receive batch, and messages per `sendmmsg`.
pub(crate) const BATCH_LEN: usize = 32;
/// Bytes per receive slot: any valid netcode datagram fits, with room to
/// see that a longer one is too long.
pub(crate) const SLOT_LEN: usize = 1500;
/// Bytes per receive slot with GRO on: one read may hold up to 64
/// coalesced datagrams, never more than a UDP payload's 64 KiB.
#[cfg(target_os = "linux")]
const GRO_SLOT_LEN: usize = 1 << 16;

/// What the kernel can do for one socket, learned at run time.
///
/// Made once per socket by [`SocketState::new`]; [`recv`] and [`send`]
/// switch features off here when the kernel refuses them, so the state is
/// shared by reference and changes through atomics (relaxed: each value is
/// a hint on its own, and one thread owns the socket).
#[derive(Debug)]
pub(crate) struct SocketState {
    /// The most datagrams one `recvmmsg`, or messages one `sendmmsg`, may
    /// carry; 1 means one `recvmsg`/`sendmsg` at a time.
    max_batch: AtomicUsize,
    /// The most datagrams one GSO message may carry; 1 means GSO is off.
    gso_segments: AtomicUsize,
    /// Whether the socket has UDP GRO on, so one read may hold many datagrams.
    gro: bool,
    /// Whether the kernel stamps each datagram's arrival (`SO_TIMESTAMPNS`).
    arrival_times: bool,
    /// Whether the socket is IPv6, so IPv4 destinations go out v4-mapped.
    ipv6: bool,
    /// Whether the socket is IPv6 and also takes IPv4 traffic, which then
    /// arrives from v4-mapped addresses that we report as plain IPv4.
    dual_stack: bool,
}

impl SocketState {
    /// Probes what `socket` supports, turning on UDP GRO where it can, and
    /// logs the result at debug level.
    pub(crate) fn new(socket: &mio::net::UdpSocket) -> Self {
        Self::probe(socket, true)
    }

    /// Batching where the OS has it, but neither GSO nor GRO.
    #[cfg(test)]
    pub(crate) fn without_offload(socket: &mio::net::UdpSocket) -> Self {
        Self::probe(socket, false)
    }

    fn probe(socket: &mio::net::UdpSocket, offload: bool) -> Self {
        let local = socket.local_addr().ok();
        let ipv6 = matches!(local, Some(SocketAddr::V6(_)));
        let dual_stack = ipv6 && matches!(socket2::SockRef::from(socket).only_v6(), Ok(false));
        #[cfg(target_os = "linux")]
        let (max_batch, (gso_segments, gro)) = (
            BATCH_LEN,
            if offload {
                linux::probe_offload(socket)
            } else {
                (1, false)
            },
        );
        #[cfg(not(target_os = "linux"))]
        let (max_batch, gso_segments, gro) = {
            let _ = offload;
            (1, 1, false)
        };
        let state = Self {
            max_batch: AtomicUsize::new(max_batch),
            gso_segments: AtomicUsize::new(gso_segments),
            gro,
            arrival_times: false,
            ipv6,
            dual_stack,
        };
        tracing::debug!(
            ?local,
            max_batch = state.max_batch(),
            gso_segments = state.gso_segments(),
            gro = state.is_gro_enabled(),
            dual_stack,
            "udp socket capabilities"
        );
        state
    }

    /// The most datagrams one syscall moves; 1 means one at a time.
    pub(crate) fn max_batch(&self) -> usize {
        self.max_batch.load(Ordering::Relaxed)
    }

    /// The most datagrams one GSO message carries; 1 means GSO is off.
    pub(crate) fn gso_segments(&self) -> usize {
        self.gso_segments.load(Ordering::Relaxed)
    }

    /// Whether one read may hold many datagrams (UDP GRO).
    pub(crate) fn is_gro_enabled(&self) -> bool {
        self.gro
    }

    /// Asks the kernel to stamp each datagram's arrival on `socket`, which
    /// receives then report ([`RecvBatch::arrivals`]). Returns whether it
    /// is on (Linux only).
    pub(crate) fn enable_arrival_times(&mut self, socket: &mio::net::UdpSocket) -> bool {
        #[cfg(target_os = "linux")]
        {
            self.arrival_times = linux::enable_arrival_times(socket);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = socket;
        self.arrival_times
    }

    /// Whether receives read the kernel's arrival stamps.
    pub(crate) fn has_arrival_times(&self) -> bool {
        self.arrival_times
    }

    /// The address to report for a datagram from `from`: v4-mapped IPv6
    /// addresses on a dual-stack socket become IPv4, so a peer has one
    /// address whichever way it is seen.
    fn normalize(&self, from: SocketAddr) -> SocketAddr {
        match from {
            SocketAddr::V6(v6) if self.dual_stack => v6
                .ip()
                .to_ipv4_mapped()
                .map_or(from, |ip| SocketAddr::V4(SocketAddrV4::new(ip, v6.port()))),
            _ => from,
        }
    }

    /// The address to hand the socket for `to`: IPv4 becomes v4-mapped on
    /// an IPv6 socket, and v4-mapped becomes IPv4 on an IPv4 one.
    fn destination(&self, to: SocketAddr) -> SocketAddr {
        match to {
            SocketAddr::V4(v4) if self.ipv6 => {
                SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
            }
            SocketAddr::V6(v6) if !self.ipv6 => v6
                .ip()
                .to_ipv4_mapped()
                .map_or(to, |ip| SocketAddr::V4(SocketAddrV4::new(ip, v6.port()))),
            _ => to,
        }
    }
}

/// What one receive or send of a [`crate::engine::transport::Transport`]
/// did, for the port's stats: syscalls made and datagrams moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IoCount {
    /// Syscalls (or, for a transport without them, calls into what carries
    /// the datagrams) made, including ones that found nothing to do.
    pub syscalls: u64,
    /// Datagrams moved (a GSO or GRO message counts each datagram in it).
    pub datagrams: u64,
    /// Payload bytes moved.
    pub bytes: u64,
    /// Datagrams given up on: refused on send (say, to an unreachable
    /// address), or received from an address that cannot be read.
    pub dropped: u64,
    /// The receive found nothing more waiting before the batch was full:
    /// no need to call again until the transport wakes the port.
    pub drained: bool,
}

impl std::ops::AddAssign for IoCount {
    fn add_assign(&mut self, other: Self) {
        self.syscalls += other.syscalls;
        self.datagrams += other.datagrams;
        self.bytes += other.bytes;
        self.dropped += other.dropped;
        self.drained |= other.drained;
    }
}

/// One received message's place in a [`RecvBatch`]: a datagram, or with
/// GRO several from one source, back to back.
#[derive(Debug, Clone, Copy)]
struct RecvMeta {
    /// `None` if the address could not be read; the message is skipped.
    from: Option<SocketAddr>,
    len: usize,
    /// Length of each coalesced datagram but the last, which may be
    /// shorter; 0 means the message is one datagram.
    segment_len: usize,
    /// When the kernel received it (the first one, if coalesced), if the
    /// socket stamps arrivals.
    arrived: Option<SystemTime>,
}

/// Receive buffers for one batch, reused for every receive.
///
/// A transport fills it in [`crate::engine::transport::Transport::recv`]:
/// the kernel's batched receive does so directly, any other transport with
/// [`RecvBatch::clear`] then [`RecvBatch::push`] for each datagram.
///
/// [`RecvBatch::CAPACITY`] slots of 1500 bytes; on a socket with GRO, the
/// first receive swaps them for slots of 64 KiB (2 MiB of address space,
/// zeroed lazily by the OS, so only pages the kernel writes to cost memory).
pub struct RecvBatch {
    buf: Box<[u8]>,
    slot_len: usize,
    meta: [RecvMeta; BATCH_LEN],
    /// Slots holding a message from the last receive.
    filled: usize,
}

impl Default for RecvBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatch")
            .field("slot_len", &self.slot_len)
            .field("filled", &self.filled)
            .finish_non_exhaustive()
    }
}

impl RecvBatch {
    /// An empty batch of [`RecvBatch::CAPACITY`] slots of 1500 bytes.
    pub fn new() -> Self {
        let unspecified = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        Self {
            buf: vec![0u8; BATCH_LEN * SLOT_LEN].into_boxed_slice(),
            slot_len: SLOT_LEN,
            meta: [RecvMeta {
                from: Some(unspecified),
                len: 0,
                segment_len: 0,
                arrived: None,
            }; BATCH_LEN],
            filled: 0,
        }
    }

    /// Most datagrams one receive hands over.
    pub const CAPACITY: usize = BATCH_LEN;

    /// Empties the batch for a new receive, with slots of the usual size.
    pub fn clear(&mut self) {
        self.filled = 0;
        self.set_slot_len(SLOT_LEN);
    }

    /// Adds a datagram from `from`; false, and nothing added, once the
    /// batch holds [`RecvBatch::CAPACITY`]. A datagram longer than a slot
    /// (1500 bytes) is cut short, as a UDP socket's buffer would, and the
    /// protocol then rejects it.
    pub fn push(&mut self, from: SocketAddr, bytes: &[u8]) -> bool {
        let at = self.filled * self.slot_len;
        let len = bytes.len().min(self.slot_len);
        let (Some(slot), Some(meta), Some(bytes)) = (
            self.buf.get_mut(at..at + len),
            self.meta.get_mut(self.filled),
            bytes.get(..len),
        ) else {
            return false;
        };
        slot.copy_from_slice(bytes);
        *meta = RecvMeta {
            from: Some(from),
            len,
            segment_len: 0,
            arrived: None,
        };
        self.filled += 1;
        true
    }

    /// Datagrams (or GRO messages) the last receive left in the batch.
    pub const fn len(&self) -> usize {
        self.filled
    }

    /// Whether the last receive left nothing.
    pub const fn is_empty(&self) -> bool {
        self.filled == 0
    }

    /// Lays the buffer out as [`BATCH_LEN`] slots of `slot_len` bytes,
    /// allocating only the first time a larger layout is asked for.
    fn set_slot_len(&mut self, slot_len: usize) {
        if slot_len != self.slot_len {
            let needed = slot_len * BATCH_LEN;
            if self.buf.len() < needed {
                // A fresh zeroed allocation, not a resize: the OS maps the
                // pages lazily instead of us writing 2 MiB of zeros.
                self.buf = vec![0u8; needed].into_boxed_slice();
            }
            self.slot_len = slot_len;
        }
    }

    /// When each message of the last receive arrived, with how many
    /// datagrams it held, for a socket that stamps arrivals
    /// ([`SocketState::enable_arrival_times`]); nothing otherwise.
    pub(crate) fn arrivals(&self) -> impl Iterator<Item = (SystemTime, u64)> + '_ {
        self.meta.iter().take(self.filled).filter_map(|meta| {
            let datagrams = match meta.segment_len {
                0 => 1,
                n => meta.len.div_ceil(n).max(1) as u64,
            };
            Some((meta.arrived?, datagrams))
        })
    }

    /// Hands each datagram of the last receive to `f`, mutable so it can be
    /// decrypted in place. A GRO message is split into its datagrams, each
    /// from the same source.
    pub fn for_each(&mut self, mut f: impl FnMut(SocketAddr, &mut [u8])) {
        let slots = self.buf.chunks_exact_mut(self.slot_len);
        for (slot, meta) in slots.zip(&self.meta).take(self.filled) {
            let (Some(from), Some(bytes)) = (meta.from, slot.get_mut(..meta.len)) else {
                continue;
            };
            if meta.segment_len == 0 || meta.segment_len >= bytes.len() {
                f(from, bytes);
            } else {
                for datagram in bytes.chunks_mut(meta.segment_len) {
                    f(from, datagram);
                }
            }
        }
    }
}

/// One queued datagram's place in a [`SendBatch`].
#[derive(Debug, Clone, Copy)]
struct SendMeta {
    to: SocketAddr,
    start: usize,
    len: usize,
}

/// Datagrams queued to send, sealed straight into one reused buffer.
///
/// The port thread passes it to the protocol as its [`Outbox`] and hands
/// it to its transport's
/// [`send`](crate::engine::transport::Transport::send): the kernel's
/// batched send reads it directly, any other transport through
/// [`SendBatch::drain`]. Datagrams the socket would not take stay queued for the
/// next flush. Datagrams lie back to back in the arena in the order they
/// were pushed, which is what lets a run to one destination go out as one
/// GSO message. After warm-up nothing here allocates or zeroes: the arena
/// is zeroed once as it grows, and later datagrams are sealed over old
/// bytes.
#[derive(Debug, Default)]
pub struct SendBatch {
    /// Initialized storage; only `..used` holds queued datagrams.
    arena: Vec<u8>,
    used: usize,
    meta: Vec<SendMeta>,
    /// Datagrams at the front already sent.
    sent: usize,
}

impl SendBatch {
    /// An empty batch, with room for [`RecvBatch::CAPACITY`] full-size
    /// packets before it first grows.
    pub fn new() -> Self {
        Self {
            arena: vec![0; BATCH_LEN * MAX_PACKET_LEN],
            used: 0,
            meta: Vec::with_capacity(BATCH_LEN),
            sent: 0,
        }
    }

    /// Datagrams waiting to be sent.
    pub fn pending(&self) -> usize {
        self.meta.len() - self.sent
    }

    /// Hands each waiting datagram, oldest first, to `send`, which says
    /// what became of it: one it [`Sent::Later`] stays queued with all
    /// after it, for the next call. Returns what was moved.
    pub fn drain(&mut self, mut send: impl FnMut(SocketAddr, &[u8]) -> Sent) -> IoCount {
        let mut count = IoCount::default();
        let mut done = 0;
        for meta in self.meta.get(self.sent..).unwrap_or_default() {
            let bytes = self
                .arena
                .get(meta.start..meta.start + meta.len)
                .unwrap_or_default();
            match send(meta.to, bytes) {
                Sent::Sent => {
                    count.datagrams += 1;
                    count.bytes += bytes.len() as u64;
                }
                Sent::Dropped => count.dropped += 1,
                Sent::Later => break,
            }
            done += 1;
        }
        self.advance(done);
        count
    }

    /// The next datagram to send.
    #[cfg(any(test, not(target_os = "linux")))]
    fn front(&self) -> Option<(SocketAddr, &[u8])> {
        let meta = self.meta.get(self.sent)?;
        let bytes = self.arena.get(meta.start..meta.start + meta.len)?;
        Some((meta.to, bytes))
    }

    /// Marks the front `n` datagrams done (sent or dropped), and resets the
    /// buffer once all are.
    fn advance(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.meta.len());
        if self.sent == self.meta.len() {
            self.meta.clear();
            self.used = 0;
            self.sent = 0;
        }
    }
}

impl Outbox for SendBatch {
    fn push(&mut self, destination: SocketAddr, emit: &mut dyn FnMut(&mut [u8]) -> usize) {
        let start = self.used;
        let end = start + MAX_PACKET_LEN;
        if self.arena.len() < end {
            // Grow by doubling, zeroing only the new part, once.
            self.arena.resize(end.max(2 * self.arena.len()), 0);
        }
        let len = self.arena.get_mut(start..end).map_or(0, emit);
        self.used = start + len;
        if len > 0 {
            self.meta.push(SendMeta {
                to: destination,
                start,
                len,
            });
        }
    }
}

/// What became of one datagram a transport was handed by [`SendBatch::drain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// On its way.
    Sent,
    /// Given up on (say, its destination is gone); counted, never retried.
    Dropped,
    /// No room now: it stays queued, with every datagram after it.
    Later,
}

/// Whether an I/O error means "try again later" rather than failure.
pub(crate) fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// What to do with the datagram a failed send was carrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendFailure {
    /// The socket is full: keep it queued for the next flush.
    Later,
    /// A signal interrupted the call: try again now.
    Retry,
    /// The socket itself is unusable: stop and report the error.
    Fatal,
    /// The OS refused this datagram (bad or unreachable destination, no
    /// buffer): drop and count it, so it is never retried forever.
    Drop,
}

fn classify_send_error(e: &io::Error) -> SendFailure {
    match e.kind() {
        io::ErrorKind::WouldBlock => SendFailure::Later,
        io::ErrorKind::Interrupted => SendFailure::Retry,
        _ if is_socket_broken(e) => SendFailure::Fatal,
        _ => SendFailure::Drop,
    }
}

/// Whether an I/O error says the socket itself is unusable (its
/// descriptor is gone or was never a socket): nothing sent or received on
/// it can succeed again. Anything else (would block, interrupted, an ICMP
/// error surfacing on a UDP socket, a short-lived lack of buffers) passes.
#[cfg(unix)]
pub(crate) fn is_socket_broken(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EBADF | libc::ENOTSOCK | libc::EFAULT)
    )
}

#[cfg(not(unix))]
pub(crate) fn is_socket_broken(_e: &io::Error) -> bool {
    false
}
