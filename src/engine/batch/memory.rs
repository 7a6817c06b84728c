//! Moving batches through an in-memory socket instead of the kernel.

use super::{BATCH_LEN, IoCount, RecvBatch, RecvMeta, SLOT_LEN, SendBatch};
use crate::engine::memory::MemorySocket;
use std::io;
use std::time::Instant;

/// Fills `batch` with up to [`BATCH_LEN`] datagrams that have arrived by
/// `now`. A datagram longer than a slot is cut short, as UDP would, and the
/// protocol then rejects it.
///
/// # Errors
///
/// When the socket was failed on demand ([`crate::engine::MemoryNetwork::fail`]).
pub(crate) fn recv(
    socket: &MemorySocket,
    now: Instant,
    batch: &mut RecvBatch,
) -> io::Result<IoCount> {
    batch.filled = 0;
    batch.set_slot_len(SLOT_LEN);
    let slot_len = batch.slot_len;
    let mut count = IoCount {
        syscalls: 1,
        ..IoCount::default()
    };
    let (buf, meta, filled) = (&mut batch.buf, &mut batch.meta, &mut batch.filled);
    socket.recv_each(now, BATCH_LEN, |from, bytes| {
        let at = *filled * slot_len;
        let len = bytes.len().min(slot_len);
        let (Some(slot), Some(meta)) = (buf.get_mut(at..at + len), meta.get_mut(*filled)) else {
            return;
        };
        slot.copy_from_slice(bytes.get(..len).unwrap_or_default());
        *meta = RecvMeta {
            from: Some(from),
            len,
            segment_len: 0,
            arrived: None,
        };
        *filled += 1;
        count.datagrams += 1;
        count.bytes += len as u64;
    })?;
    Ok(count)
}

/// Sends everything queued in `batch` at time `now`; the network never
/// pushes back, so the batch is left empty.
///
/// # Errors
///
/// As [`recv`]; the batch is then left as it was.
pub(crate) fn send(
    socket: &MemorySocket,
    now: Instant,
    batch: &mut SendBatch,
) -> io::Result<IoCount> {
    let pending = batch.meta.get(batch.sent..).unwrap_or_default();
    let arena = &batch.arena;
    let mut count = IoCount {
        syscalls: 1,
        ..IoCount::default()
    };
    socket.send_each(
        now,
        pending.iter().filter_map(|meta| {
            let bytes = arena.get(meta.start..meta.start + meta.len)?;
            count.datagrams += 1;
            count.bytes += bytes.len() as u64;
            Some((meta.to, bytes))
        }),
    )?;
    let n = pending.len();
    batch.advance(n);
    Ok(count)
}
