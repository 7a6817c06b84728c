//! Linux: `recvmmsg`/`sendmmsg`, UDP GSO on send and UDP GRO on receive.
//!
//! The syscalls take arrays of C headers that point into our buffers. They
//! are built on the stack for each call from live borrows, so nothing here
//! holds a raw pointer between calls (and the batch types stay `Send`).
//!
//! - Receive: one `recvmmsg` fills up to [`BATCH_LEN`] slots. With GRO, a
//!   slot may hold many datagrams from one source, and a `UDP_GRO` control
//!   message gives their length; [`RecvBatch::for_each`] splits them.
//! - Send: queued datagrams are grouped into runs to one destination (see
//!   `gso.rs`). A run longer than one goes as one message with a
//!   `UDP_SEGMENT` control message; one `sendmmsg` carries up to
//!   [`BATCH_LEN`] such messages.
//! - Fallbacks: `ENOSYS` from `recvmmsg`/`sendmmsg` switches the socket to
//!   `recvmsg`/`sendmsg` (still with GSO and GRO). `EIO`, `EINVAL` or
//!   `EOPNOTSUPP` from a GSO message may mean the socket or its route cannot
//!   do GSO, or that the destination is bad (port 0, say): the first datagram
//!   of the run is sent alone to find out, and GSO is switched off for the
//!   socket only if that works.
//!
//! Every `unsafe` block in berth is in this file.
#![allow(unsafe_code)]

use super::gso::{MAX_GSO_SEGMENTS, NO_RUN, next_run};
use super::{
    BATCH_LEN, GRO_SLOT_LEN, IoCount, RecvBatch, RecvMeta, SLOT_LEN, SendBatch, SendFailure,
    SocketState, classify_send_error, is_transient,
};
use std::io;
use std::mem::{self, size_of};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};
use std::ptr;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

/// Room for the control messages of one received message: a `UDP_GRO`
/// segment length and an arrival stamp (`SCM_TIMESTAMPNS`), checked below.
const RECV_CONTROL_LEN: usize = 64;

/// Space for one sockaddr of either family, as the kernel reads and writes it.
#[repr(C)]
#[derive(Clone, Copy)]
union RawAddr {
    storage: libc::sockaddr_storage,
    v4: libc::sockaddr_in,
    v6: libc::sockaddr_in6,
}

/// The control buffer of one received message, aligned for `cmsghdr`.
#[repr(C)]
#[derive(Clone, Copy)]
union RecvControl {
    header: libc::cmsghdr,
    bytes: [u8; RECV_CONTROL_LEN],
}

/// The control message of one GSO send: `UDP_SEGMENT` and the segment
/// length, laid out as `CMSG_SPACE(sizeof(u16))` (checked below).
#[repr(C)]
#[derive(Clone, Copy)]
struct SegmentControl {
    header: libc::cmsghdr,
    segment_len: u16,
}

// SAFETY: CMSG_LEN and CMSG_SPACE only do arithmetic on their argument.
const SEGMENT_CMSG_LEN: usize = unsafe { libc::CMSG_LEN(size_of::<u16>() as u32) } as usize;
// SAFETY: as above.
const SEGMENT_CMSG_SPACE: usize = unsafe { libc::CMSG_SPACE(size_of::<u16>() as u32) } as usize;
// SAFETY: as above.
const GRO_CMSG_LEN: usize = unsafe { libc::CMSG_LEN(size_of::<libc::c_int>() as u32) } as usize;
// SAFETY: as above.
const GRO_CMSG_SPACE: usize = unsafe { libc::CMSG_SPACE(size_of::<libc::c_int>() as u32) } as usize;
// SAFETY: as above.
const STAMP_CMSG_LEN: usize =
    unsafe { libc::CMSG_LEN(size_of::<libc::timespec>() as u32) } as usize;
// SAFETY: as above.
const STAMP_CMSG_SPACE: usize =
    unsafe { libc::CMSG_SPACE(size_of::<libc::timespec>() as u32) } as usize;
const _: () = {
    assert!(size_of::<SegmentControl>() == SEGMENT_CMSG_SPACE);
    assert!(mem::offset_of!(SegmentControl, segment_len) + size_of::<u16>() == SEGMENT_CMSG_LEN);
    assert!(size_of::<RecvControl>() >= GRO_CMSG_SPACE + STAMP_CMSG_SPACE);
};

/// C types for which all-zero bytes are a valid value.
///
/// # Safety
///
/// Implement only for types made of integers, raw pointers, and arrays,
/// structs and unions of those.
unsafe trait Zeroable: Sized {
    fn zeroed() -> Self {
        // SAFETY: the implementor promises all-zero bytes are a valid `Self`
        // (integers 0, pointers null).
        unsafe { mem::zeroed() }
    }
}

// SAFETY: `mmsghdr` is a `msghdr` (pointers, lengths, flags) and a length.
unsafe impl Zeroable for libc::mmsghdr {}
// SAFETY: sockaddr structs are integers and byte arrays.
unsafe impl Zeroable for RawAddr {}
// SAFETY: `cmsghdr` is integers; the rest are bytes.
unsafe impl Zeroable for RecvControl {}
// SAFETY: `cmsghdr` is integers, plus a `u16`.
unsafe impl Zeroable for SegmentControl {}
// SAFETY: an array of zeroable values is zeroable.
unsafe impl<T: Zeroable, const N: usize> Zeroable for [T; N] {}

const EMPTY_IOV: libc::iovec = libc::iovec {
    iov_base: ptr::null_mut(),
    iov_len: 0,
};

/// Probes UDP GSO (the kernel knows `UDP_SEGMENT`) and turns on UDP GRO.
/// Returns (GSO segments, 1 if off; whether GRO is on).
pub(super) fn probe_offload(socket: &mio::net::UdpSocket) -> (usize, bool) {
    let fd = socket.as_raw_fd();
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are live locals of the sizes given.
    let gso = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_UDP,
            libc::UDP_SEGMENT,
            ptr::from_mut(&mut value).cast(),
            &mut len,
        )
    } == 0;
    let on: libc::c_int = 1;
    // SAFETY: `on` is a live local of the size given.
    let gro = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_UDP,
            libc::UDP_GRO,
            ptr::from_ref(&on).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    } == 0;
    (if gso { MAX_GSO_SEGMENTS } else { 1 }, gro)
}

/// Turns on `SO_TIMESTAMPNS`: the kernel stamps each datagram's arrival
/// (wall clock, nanoseconds) and receives carry it. Returns whether it took.
pub(super) fn enable_arrival_times(socket: &mio::net::UdpSocket) -> bool {
    let on: libc::c_int = 1;
    // SAFETY: `on` is a live local of the size given.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            ptr::from_ref(&on).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    result == 0
}

impl SocketState {
    fn disable_batching(&self) {
        if self.max_batch.swap(1, Ordering::Relaxed) > 1 {
            tracing::debug!("recvmmsg/sendmmsg unavailable; one datagram per syscall");
        }
    }

    fn disable_gso(&self) {
        if self.gso_segments.swap(1, Ordering::Relaxed) > 1 {
            tracing::debug!("udp gso refused on this socket; one datagram per message");
        }
    }
}

/// Receives up to a batch of messages (with GRO, each may hold many
/// datagrams). Returns what it moved; a count with no datagrams means the
/// socket had nothing.
///
/// # Errors
///
/// Any error but "would block" from the socket.
pub(crate) fn recv(
    socket: &mio::net::UdpSocket,
    state: &SocketState,
    batch: &mut RecvBatch,
) -> io::Result<IoCount> {
    recv_with(socket, state, batch, |_| None)
}

/// [`recv`], asking `fault` before each syscall (given how many messages it
/// would ask for) whether to fail it with an error instead: a test hook.
pub(super) fn recv_with(
    socket: &mio::net::UdpSocket,
    state: &SocketState,
    batch: &mut RecvBatch,
    mut fault: impl FnMut(usize) -> Option<io::Error>,
) -> io::Result<IoCount> {
    let gro = state.is_gro_enabled();
    let controlled = gro || state.has_arrival_times();
    batch.filled = 0;
    batch.set_slot_len(if gro { GRO_SLOT_LEN } else { SLOT_LEN });
    let slot_len = batch.slot_len;
    let mut count = IoCount::default();
    let mut headers = <[libc::mmsghdr; BATCH_LEN]>::zeroed();
    let mut iovs = [EMPTY_IOV; BATCH_LEN];
    let mut names = <[RawAddr; BATCH_LEN]>::zeroed();
    let mut controls = <[RecvControl; BATCH_LEN]>::zeroed();
    // Errors that leave the socket usable; bounded so a stream of them
    // cannot keep this loop going.
    let mut retries = 0;
    loop {
        let wanted = state.max_batch().clamp(1, BATCH_LEN);
        let parts = headers
            .iter_mut()
            .zip(&mut iovs)
            .zip(&mut names)
            .zip(&mut controls)
            .zip(batch.buf.chunks_exact_mut(slot_len));
        for ((((header, iov), name), control), slot) in parts.take(wanted) {
            *iov = libc::iovec {
                iov_base: slot.as_mut_ptr().cast(),
                iov_len: slot.len(),
            };
            let msg = &mut header.msg_hdr;
            msg.msg_name = ptr::from_mut(name).cast();
            msg.msg_namelen = size_of::<RawAddr>() as libc::socklen_t;
            msg.msg_iov = iov;
            msg.msg_iovlen = 1;
            (msg.msg_control, msg.msg_controllen) = if controlled {
                (ptr::from_mut(control).cast(), size_of::<RecvControl>() as _)
            } else {
                (ptr::null_mut(), 0)
            };
            msg.msg_flags = 0;
            header.msg_len = 0;
        }
        let Some(msgs) = headers.get_mut(..wanted) else {
            return Ok(count);
        };
        count.syscalls += 1;
        let result = match fault(msgs.len()) {
            Some(e) => Err(e),
            // SAFETY: every header was just built to point at a slot of
            // `batch.buf`, an entry of `names` and of `controls`, with their
            // lengths; all outlive the call and nothing else touches them
            // during it.
            None => unsafe { recv_msgs(socket, msgs) },
        };
        let received = match result {
            Ok(received) => received.min(wanted),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(count),
            Err(e) if wanted > 1 && e.raw_os_error() == Some(libc::ENOSYS) => {
                state.disable_batching();
                continue;
            }
            Err(e)
                if retries < BATCH_LEN
                    && (is_transient(&e) || e.kind() == io::ErrorKind::ConnectionRefused) =>
            {
                retries += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let done = headers.iter().zip(&names).zip(batch.meta.iter_mut());
        for ((header, name), meta) in done.take(received) {
            let len = (header.msg_len as usize).min(slot_len);
            let from = socket_addr(name, header.msg_hdr.msg_namelen).map(|a| state.normalize(a));
            let (segment_len, arrived) = if controlled {
                read_control(&header.msg_hdr)
            } else {
                (0, None)
            };
            *meta = RecvMeta {
                from,
                len,
                segment_len,
                arrived,
            };
            if from.is_none() {
                count.dropped += 1;
                continue;
            }
            count.bytes += len as u64;
            count.datagrams += match segment_len {
                0 => 1,
                n => len.div_ceil(n).max(1) as u64,
            };
        }
        batch.filled = received;
        // recvmmsg with MSG_DONTWAIT stops short only on an empty queue; any
        // later arrival raises a new edge on the poll.
        count.drained = wanted > 1 && received < wanted;
        return Ok(count);
    }
}

/// Receives into `msgs`: `recvmmsg` for several, `recvmsg` for one.
/// Returns how many messages arrived.
///
/// # Safety
///
/// Every header's name, iovec and control pointers must be null or point
/// at live memory of the lengths the header gives, unaliased for the call.
unsafe fn recv_msgs(socket: &mio::net::UdpSocket, msgs: &mut [libc::mmsghdr]) -> io::Result<usize> {
    let fd: RawFd = socket.as_raw_fd();
    socket.try_io(|| match msgs {
        [] => Ok(0),
        [one] => {
            // SAFETY: the caller vouches for the header's pointers.
            let n = unsafe { libc::recvmsg(fd, &mut one.msg_hdr, libc::MSG_DONTWAIT) };
            let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
            one.msg_len = u32::try_from(n).unwrap_or(u32::MAX);
            Ok(1)
        }
        many => {
            // SAFETY: the caller vouches for the headers' pointers, and
            // `many.len()` headers are live.
            let n = unsafe {
                libc::recvmmsg(
                    fd,
                    many.as_mut_ptr(),
                    many.len() as libc::c_uint,
                    libc::MSG_DONTWAIT as _,
                    ptr::null_mut(),
                )
            };
            usize::try_from(n).map_err(|_| io::Error::last_os_error())
        }
    })
}

/// What a received message's control messages say: the `UDP_GRO`
/// segment length (0 if none: the message is one datagram) and the
/// `SCM_TIMESTAMPNS` arrival stamp, if any.
fn read_control(msg: &libc::msghdr) -> (usize, Option<SystemTime>) {
    let mut segment_len = 0;
    let mut arrived = None;
    // SAFETY: `msg` came back from the kernel with `msg_control` null or
    // pointing at a live `RecvControl` and `msg_controllen` the bytes used.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(msg) };
    while !cmsg.is_null() {
        // SAFETY: CMSG_FIRSTHDR/CMSG_NXTHDR return only headers that lie
        // whole inside the control buffer, which is aligned for `cmsghdr`.
        let header = unsafe { &*cmsg };
        let len = header.cmsg_len as usize;
        if header.cmsg_level == libc::SOL_UDP
            && header.cmsg_type == libc::UDP_GRO
            && len >= GRO_CMSG_LEN
        {
            // SAFETY: the length check says a `c_int` follows the header,
            // inside the buffer; read unaligned to assume nothing.
            let value = unsafe { ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>()) };
            segment_len = usize::try_from(value).unwrap_or(0);
        } else if header.cmsg_level == libc::SOL_SOCKET
            && header.cmsg_type == libc::SCM_TIMESTAMPNS
            && len >= STAMP_CMSG_LEN
        {
            // SAFETY: the length check says a `timespec` follows the
            // header, inside the buffer; read unaligned to assume nothing.
            let stamp =
                unsafe { ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::timespec>()) };
            arrived = stamp_time(&stamp);
        }
        // SAFETY: `cmsg` is a header inside `msg`'s control buffer.
        cmsg = unsafe { libc::CMSG_NXTHDR(msg, cmsg) };
    }
    (segment_len, arrived)
}

/// The wall-clock time of a kernel stamp; `None` for one the kernel
/// would never write (negative, or nanoseconds past a second).
fn stamp_time(stamp: &libc::timespec) -> Option<SystemTime> {
    let secs = u64::try_from(stamp.tv_sec).ok()?;
    let nanos = u32::try_from(stamp.tv_nsec)
        .ok()
        .filter(|&n| n < 1_000_000_000)?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// The address the kernel wrote into `name`, if it is IPv4 or IPv6.
fn socket_addr(name: &RawAddr, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    // SAFETY: every variant is plain integers and bytes, so any bytes are a
    // valid `sockaddr_storage`, and `ss_family` lies in every variant.
    let family = libc::c_int::from(unsafe { name.storage.ss_family });
    match family {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: as above; the family and length say it is a sockaddr_in.
            let v4 = unsafe { name.v4 };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(v4.sin_addr.s_addr.to_ne_bytes()),
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above; the family and length say it is a sockaddr_in6.
            let v6 = unsafe { name.v6 };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(v6.sin6_addr.s6_addr),
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Writes `addr` into `name` for the kernel; returns its length.
fn write_addr(name: &mut RawAddr, addr: SocketAddr) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(v4) => {
            name.v4 = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(v6) => {
            name.v6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// Sends queued datagrams until the queue is empty or the socket is full,
/// coalescing runs to one destination with GSO where the socket can.
///
/// A datagram the OS refuses outright (say, to an unreachable address) is
/// dropped and counted in [`IoCount::dropped`], not retried.
///
/// # Errors
///
/// Only errors that say the socket itself is unusable; what was not sent
/// stays queued.
pub(crate) fn send(
    socket: &mio::net::UdpSocket,
    state: &SocketState,
    batch: &mut SendBatch,
) -> io::Result<IoCount> {
    send_with(socket, state, batch, |_, _| None)
}

/// [`send`], asking `fault` before each syscall (given the number of
/// messages and the datagrams in the first) whether to fail it with an
/// error, or let the kernel take only the first `n` messages: a test hook.
pub(super) fn send_with(
    socket: &mio::net::UdpSocket,
    state: &SocketState,
    batch: &mut SendBatch,
    mut fault: impl FnMut(usize, usize) -> Option<io::Result<usize>>,
) -> io::Result<IoCount> {
    let mut count = IoCount::default();
    let mut headers = <[libc::mmsghdr; BATCH_LEN]>::zeroed();
    let mut iovs = [EMPTY_IOV; BATCH_LEN];
    let mut names = <[RawAddr; BATCH_LEN]>::zeroed();
    let mut controls = <[SegmentControl; BATCH_LEN]>::zeroed();
    let mut runs = [NO_RUN; BATCH_LEN];
    // Datagrams in a GSO run the kernel refused in a way that may mean "no
    // GSO here" or "bad destination"; the next call sends its first
    // datagram alone to tell which.
    let mut suspect: Option<usize> = None;
    while batch.pending() > 0 {
        let (max_messages, max_segments) = match suspect {
            Some(_) => (1, 1),
            None => (
                state.max_batch().clamp(1, BATCH_LEN),
                state.gso_segments().clamp(1, MAX_GSO_SEGMENTS),
            ),
        };
        let mut planned = 0;
        let mut next = batch.sent;
        for slot in runs.iter_mut().take(max_messages) {
            let Some(run) = next_run(batch, next, max_segments) else {
                break;
            };
            next += run.segments;
            *slot = run;
            planned += 1;
        }
        let parts = headers
            .iter_mut()
            .zip(&mut iovs)
            .zip(&mut names)
            .zip(&mut controls)
            .zip(&runs);
        for ((((header, iov), name), control), run) in parts.take(planned) {
            let bytes = batch
                .arena
                .get(run.start..run.start + run.len)
                .unwrap_or_default();
            *iov = libc::iovec {
                // The kernel only reads from a send's iovec.
                iov_base: bytes.as_ptr().cast_mut().cast(),
                iov_len: bytes.len(),
            };
            let msg = &mut header.msg_hdr;
            msg.msg_namelen = write_addr(name, state.destination(run.to));
            msg.msg_name = ptr::from_mut(name).cast();
            msg.msg_iov = iov;
            msg.msg_iovlen = 1;
            (msg.msg_control, msg.msg_controllen) = match u16::try_from(run.segment_len) {
                Ok(segment_len) if run.segments > 1 => {
                    control.header.cmsg_len = SEGMENT_CMSG_LEN as _;
                    control.header.cmsg_level = libc::SOL_UDP;
                    control.header.cmsg_type = libc::UDP_SEGMENT;
                    control.segment_len = segment_len;
                    (ptr::from_mut(control).cast(), SEGMENT_CMSG_SPACE as _)
                }
                _ => (ptr::null_mut(), 0),
            };
            msg.msg_flags = 0;
            header.msg_len = 0;
        }
        if planned == 0 {
            break;
        }
        let (Some(msgs), Some(first)) = (headers.get_mut(..planned), runs.first().copied()) else {
            break;
        };
        count.syscalls += 1;
        let result = match fault(planned, first.segments) {
            Some(Err(e)) => Err(e),
            Some(Ok(taken)) => match msgs.get_mut(..taken.min(planned)) {
                // SAFETY: as below, for a prefix of the same headers.
                Some(msgs) => unsafe { send_msgs(socket, msgs) },
                None => Ok(0),
            },
            // SAFETY: every header was just built to point at its run in
            // `batch.arena`, an entry of `names` and of `controls`, with
            // their lengths; all outlive the call and nothing else touches
            // them during it.
            None => unsafe { send_msgs(socket, msgs) },
        };
        match result {
            Ok(sent) => {
                let sent = sent.min(planned);
                if sent == 0 {
                    break;
                }
                if suspect.take().is_some() {
                    // The lone datagram went where its GSO run could not.
                    state.disable_gso();
                }
                let mut datagrams = 0;
                for run in runs.iter().take(sent) {
                    datagrams += run.segments;
                    count.bytes += run.len as u64;
                }
                count.datagrams += datagrams as u64;
                batch.advance(datagrams);
            }
            Err(e) if planned > 1 && e.raw_os_error() == Some(libc::ENOSYS) => {
                state.disable_batching();
            }
            Err(e) if suspect.is_none() && first.segments > 1 && is_gso_error(&e) => {
                suspect = Some(first.segments);
            }
            Err(e) => match classify_send_error(&e) {
                SendFailure::Later => break,
                SendFailure::Retry => {}
                SendFailure::Fatal => return Err(e),
                SendFailure::Drop => {
                    // After a failed probe the whole suspect run shares the
                    // destination that just refused its first datagram.
                    let dropped = suspect.take().unwrap_or(first.segments);
                    tracing::trace!(to = %first.to, dropped, error = %e, "datagrams refused; dropped");
                    count.dropped += dropped as u64;
                    batch.advance(dropped);
                }
            },
        }
    }
    Ok(count)
}

/// Errors a GSO send gets when the socket or route cannot segment (no
/// checksum offload, IPsec, a segment over the route's MTU, an old kernel).
fn is_gso_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO | libc::EINVAL | libc::EOPNOTSUPP)
    )
}

/// Sends `msgs`: `sendmmsg` for several, `sendmsg` for one. Returns how
/// many messages the kernel took.
///
/// # Safety
///
/// Every header's name, iovec and control pointers must be null or point
/// at live memory of the lengths the header gives, unaliased for the call.
unsafe fn send_msgs(socket: &mio::net::UdpSocket, msgs: &mut [libc::mmsghdr]) -> io::Result<usize> {
    let fd: RawFd = socket.as_raw_fd();
    socket.try_io(|| match msgs {
        [] => Ok(0),
        [one] => {
            // SAFETY: the caller vouches for the header's pointers.
            let n = unsafe { libc::sendmsg(fd, &one.msg_hdr, libc::MSG_DONTWAIT) };
            let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
            one.msg_len = u32::try_from(n).unwrap_or(u32::MAX);
            Ok(1)
        }
        many => {
            // SAFETY: the caller vouches for the headers' pointers, and
            // `many.len()` headers are live.
            let n = unsafe {
                libc::sendmmsg(
                    fd,
                    many.as_mut_ptr(),
                    many.len() as libc::c_uint,
                    libc::MSG_DONTWAIT as _,
                )
            };
            usize::try_from(n).map_err(|_| io::Error::last_os_error())
        }
    })
}
