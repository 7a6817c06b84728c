//! A connected client's slot.

use crate::crypto::PacketCipher;
use crate::proto::ReplayWindow;
use crate::wire::connect_token::UserData;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct Connected {
    pub(crate) address: SocketAddr,
    pub(crate) client_id: u64,
    pub(crate) user_data: Box<UserData>,
    pub(crate) send: PacketCipher,
    pub(crate) recv: PacketCipher,
    /// Sequence of the next packet sent to this client.
    pub(crate) sequence: u64,
    pub(crate) replay: ReplayWindow,
    pub(crate) timeout: Option<Duration>,
    pub(crate) last_send: Instant,
    pub(crate) last_recv: Instant,
    /// Whether the client has shown it knows it is connected (sent a keep-alive or payload).
    pub(crate) confirmed: bool,
}

impl Connected {
    pub(crate) fn next_sequence(&mut self) -> u64 {
        let sequence = self.sequence;
        self.sequence = self.sequence.wrapping_add(1);
        sequence
    }

    pub(crate) fn is_timed_out(&self, now: Instant) -> bool {
        self.timeout
            .is_some_and(|t| now.saturating_duration_since(self.last_recv) >= t)
    }
}
