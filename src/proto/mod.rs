//! Sans-IO netcode.io state machines: a server shard and a client.
//!
//! Nothing here touches a socket, a thread or a clock. Every input carries
//! the current time; every output goes into an [`Outbox`] the caller owns.
//! The engine drives these with real sockets; tests drive them with a fake
//! clock and in-memory queues.
//!
//! A server shard owns one session per connected client: its netcode
//! state (keys, sequence, replay window, timers) and what rides on it,
//! either the channels of a [`channel::ChannelTable`] (reliable and
//! unreliable messages, many per packet) or raw payloads, one message each,
//! for standard netcode.io peers. The client does the same for its one
//! connection. Whichever the mode, messages go in with `send` and come out
//! of the same calls.
//!
//! # Call order
//!
//! For both [`server::Shard`] and [`client::ClientSession`], quinn-proto style:
//!
//! 1. `handle_datagram(now, from, bytes, ..)` for each datagram received;
//!    then take the messages it released (`take_messages`, or the
//!    client's `recv`).
//! 2. `send(now, .., channel, bytes, out)` whenever the application has a
//!    message: queued on channels, sealed at once when raw.
//! 3. `poll_transmit(now, out)` after a batch of input or sends: writes
//!    the packets the channels have due.
//! 4. `update(now, out)` at least by the instant `next_update()` names:
//!    keep-alives, timeouts, retransmitted handshake packets, channel
//!    resends and owed acks.
//! 5. `poll_event()` until `None` (server) or `state()` (client) to learn of
//!    connections made and lost.
//!
//! `now` must never go backwards between calls on one state machine.
//!
//! # Time
//!
//! Timers run on [`Instant`](std::time::Instant). Token expiry needs the wall clock: the caller
//! gives it once, as a [`WallClock`] anchor (an instant and the unix time at
//! that instant), and the state machine derives unix time from `now`.

pub mod channel;
pub mod client;
mod replay;
mod send_error;
pub mod server;
#[cfg(test)]
mod tests;

pub use crate::clock::WallClock;
pub use replay::ReplayWindow;
pub use send_error::SendError;

use std::net::SocketAddr;
use std::time::Duration;

/// How often a connection sends when it has nothing else to send (10 Hz).
pub const SEND_INTERVAL: Duration = Duration::from_millis(100);
/// How many disconnect packets a side sends when it ends a connection.
pub const DISCONNECT_PACKETS: usize = 10;

/// Where a state machine puts the datagrams it wants sent.
///
/// The engine implements this over its batched send buffers so packets are
/// sealed straight into them; tests collect into a `Vec`.
pub trait Outbox {
    /// Queues one datagram for `destination`.
    ///
    /// `emit` writes the datagram into the buffer it is given, which is at
    /// least [`crate::wire::packet::MAX_PACKET_LEN`] bytes, and returns its
    /// length; 0 means nothing is to be sent.
    fn push(&mut self, destination: SocketAddr, emit: &mut dyn FnMut(&mut [u8]) -> usize);
}

/// A simple [`Outbox`] that allocates one `Vec` per datagram.
///
/// Convenient for tests and tools; the engine uses its own buffers.
impl Outbox for Vec<(SocketAddr, Vec<u8>)> {
    fn push(&mut self, destination: SocketAddr, emit: &mut dyn FnMut(&mut [u8]) -> usize) {
        let mut buf = vec![0u8; crate::wire::packet::MAX_PACKET_LEN];
        let len = emit(&mut buf);
        if len > 0 {
            buf.truncate(len);
            self.push((destination, buf));
        }
    }
}

/// The length an emit wrote, for an [`Outbox`] closure.
///
/// Emitting into a [`crate::wire::packet::MAX_PACKET_LEN`] buffer cannot
/// fail; if it ever does, debug builds stop here and release builds send
/// nothing.
pub(crate) fn written(result: Result<usize, crate::wire::Error>) -> usize {
    debug_assert!(
        result.is_ok(),
        "emit into a full-size buffer failed: {result:?}"
    );
    result.unwrap_or(0)
}

/// Queues a payload packet for `to`, sealed under `cipher` as `sequence`,
/// whose plaintext `fill` writes in place given the sequence; returns the
/// plaintext's length (0: nothing was queued).
pub(crate) fn push_payload(
    out: &mut dyn Outbox,
    to: SocketAddr,
    sequence: u64,
    protocol_id: u64,
    cipher: &crate::crypto::PacketCipher,
    fill: &mut dyn FnMut(u64, &mut [u8]) -> usize,
) -> usize {
    let mut len = 0;
    out.push(to, &mut |buf| {
        written(crate::wire::packet::seal_payload_with(
            sequence,
            protocol_id,
            cipher,
            buf,
            &mut |body| {
                len = fill(sequence, body);
                len
            },
        ))
    });
    len
}

/// A timeout from a token's seconds field: `None` when the field is 0 or negative.
pub(crate) fn token_timeout(timeout_secs: i32) -> Option<Duration> {
    u64::try_from(timeout_secs)
        .ok()
        .filter(|&s| s > 0)
        .map(Duration::from_secs)
}
