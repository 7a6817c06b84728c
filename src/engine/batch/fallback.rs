//! One datagram per syscall: the portable path, for every OS but Linux.
//!
//! (Linux's own one-at-a-time mode, after `recvmmsg`/`sendmmsg` turn out to
//! be missing, stays in `linux.rs` on `recvmsg`/`sendmsg` so GSO and GRO
//! keep working; this file is compiled there only for tests.)

use super::{
    BATCH_LEN, IoCount, RecvBatch, RecvMeta, SLOT_LEN, SendBatch, SendFailure, SocketState,
    classify_send_error, is_transient,
};
use std::io;

/// Receives up to a batch of datagrams. Returns what it moved; a count with
/// no datagrams means the socket had nothing.
///
/// # Errors
///
/// Any error but "would block" or "interrupted" from the socket, if it came
/// before any datagram did.
pub(crate) fn recv(
    socket: &mio::net::UdpSocket,
    state: &SocketState,
    batch: &mut RecvBatch,
) -> io::Result<IoCount> {
    let mut count = IoCount::default();
    batch.filled = 0;
    batch.set_slot_len(SLOT_LEN);
    let slot_len = batch.slot_len;
    // Errors that leave the socket usable do not fill a slot; bound them so
    // a stream of them cannot keep this loop going.
    let mut attempts = 0;
    while batch.filled < BATCH_LEN && attempts < 2 * BATCH_LEN {
        attempts += 1;
        let at = batch.filled * slot_len;
        let (Some(slot), Some(meta)) = (
            batch.buf.get_mut(at..at + slot_len),
            batch.meta.get_mut(batch.filled),
        ) else {
            break;
        };
        count.syscalls += 1;
        match socket.recv_from(slot) {
            Ok((len, from)) => {
                *meta = RecvMeta {
                    from: Some(state.normalize(from)),
                    len,
                    segment_len: 0,
                    arrived: None,
                };
                batch.filled += 1;
                count.datagrams += 1;
                count.bytes += len as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            // A signal, or an ICMP error for an earlier send (Windows reports
            // those on unconnected sockets); the socket is fine.
            Err(e)
                if is_transient(&e)
                    || matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
                    ) => {}
            Err(e) if is_oversized(&e) => count.dropped += 1,
            Err(_) if batch.filled > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(count)
}

/// Whether a receive failed on a datagram too long for its slot (Windows
/// reports that as an error where Unix truncates).
fn is_oversized(_e: &io::Error) -> bool {
    #[cfg(windows)]
    {
        const WSAEMSGSIZE: i32 = 10040;
        _e.raw_os_error() == Some(WSAEMSGSIZE)
    }
    #[cfg(not(windows))]
    false
}

/// Sends queued datagrams until the queue is empty or the socket is full.
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
    let mut count = IoCount::default();
    while let Some((to, bytes)) = batch.front() {
        count.syscalls += 1;
        match socket.send_to(bytes, state.destination(to)) {
            Ok(len) => {
                count.datagrams += 1;
                count.bytes += len as u64;
                batch.advance(1);
            }
            Err(e) => match classify_send_error(&e) {
                SendFailure::Later => break,
                SendFailure::Retry => {}
                SendFailure::Fatal => return Err(e),
                SendFailure::Drop => {
                    tracing::trace!(%to, error = %e, "datagram refused; dropped");
                    count.dropped += 1;
                    batch.advance(1);
                }
            },
        }
    }
    Ok(count)
}
