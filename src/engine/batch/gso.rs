//! Grouping queued datagrams into GSO runs (Linux).
//!
//! A run is what one GSO message can carry: datagrams to one destination,
//! back to back in the [`SendBatch`] arena, all of one length but the last,
//! which may be shorter, within the kernel's limits on segments and bytes.
//! A run of one is an ordinary datagram. Safe code only; `linux.rs` turns
//! runs into syscalls.

use super::SendBatch;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// Most datagrams in one GSO message: the kernel's `UDP_MAX_SEGMENTS`, 64
/// on every kernel that has GSO (newer ones may take more).
pub(super) const MAX_GSO_SEGMENTS: usize = 64;
/// Most bytes in one GSO message: the largest UDP payload over IPv4 (65535
/// less 20 bytes of IP and 8 of UDP header), which IPv6 also accepts.
pub(super) const MAX_GSO_BYTES: usize = 65_507;

/// A run of queued datagrams that goes out as one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Run {
    pub(super) to: SocketAddr,
    /// Where the run starts in the arena.
    pub(super) start: usize,
    /// Bytes in the whole run.
    pub(super) len: usize,
    /// Length of each datagram but the last, which may be shorter.
    pub(super) segment_len: usize,
    /// Datagrams in the run.
    pub(super) segments: usize,
}

/// Fills the run array before a send plans its runs.
pub(super) const NO_RUN: Run = Run {
    to: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
    start: 0,
    len: 0,
    segment_len: 0,
    segments: 0,
};

/// The run that starts at queued datagram `first`: as many datagrams as
/// follow it to the same destination, back to back in the arena, of its
/// length (the last may be shorter), up to `max_segments` and
/// [`MAX_GSO_BYTES`].
pub(super) fn next_run(batch: &SendBatch, first: usize, max_segments: usize) -> Option<Run> {
    let head = batch.meta.get(first)?;
    let mut run = Run {
        to: head.to,
        start: head.start,
        len: head.len,
        segment_len: head.len,
        segments: 1,
    };
    for next in batch.meta.iter().skip(first + 1) {
        if run.segments >= max_segments
            || next.to != run.to
            || next.start != run.start + run.len
            || next.len > run.segment_len
            || run.len + next.len > MAX_GSO_BYTES
        {
            break;
        }
        run.segments += 1;
        run.len += next.len;
        if next.len < run.segment_len {
            break;
        }
    }
    // Push keeps the arena and the metadata in step; a run past the end
    // would be a bug there, and is not sent.
    debug_assert!(run.start + run.len <= batch.used);
    (run.start + run.len <= batch.used).then_some(run)
}
