//! What other threads ask of a port, and how a port gathers what it asks
//! of the others: one batch per port per wake, message bytes in pooled
//! buffers.

use super::super::PeerId;
use super::super::buffer_pool::BufferPool;
use super::super::mailbox::Mailbox;
use crate::proto::channel::ChannelId;
use crate::sync::Arc;
use tracing::debug;

/// Work another thread asks of a port.
#[derive(Debug)]
pub(crate) enum Command {
    /// Send a message to a peer of this port.
    Send {
        peer: PeerId,
        channel: ChannelId,
        bytes: Vec<u8>,
        on_full: OnFull,
    },
    /// End a peer's connection; `too_slow` reports it as
    /// [`DisconnectReason::TooSlow`].
    Disconnect { peer: PeerId, too_slow: bool },
}

/// What a port does with a message for a peer whose send budget is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnFull {
    /// Drops the message (counted in `channel_send_refused`).
    Drop,
    /// Disconnects the peer ([`DisconnectReason::TooSlow`]): it must not
    /// miss the message silently.
    Disconnect,
}

/// The queue into a port.
pub(crate) type PortMailbox = Mailbox<Command, Arc<mio::Waker>>;

/// Commands for other ports, gathered during one batch and sent after it.
#[derive(Debug)]
pub(crate) struct Outgoing {
    per_port: Vec<Vec<Command>>,
    /// Where the bytes of queued sends come from.
    pool: Arc<BufferPool>,
    /// Per port, peers owed a `TooSlow` disconnect: a message they must
    /// not miss found their port's mailbox full. Retried at every flush
    /// until the mailbox takes it; each peer listed once.
    stranded: Vec<Vec<PeerId>>,
}

impl Outgoing {
    pub(crate) fn new(ports: usize, pool: Arc<BufferPool>) -> Self {
        Self {
            per_port: (0..ports).map(|_| Vec::new()).collect(),
            pool,
            stranded: (0..ports).map(|_| Vec::new()).collect(),
        }
    }

    pub(crate) fn push(&mut self, port: u16, command: Command) {
        if let Some(queue) = self.per_port.get_mut(usize::from(port)) {
            queue.push(command);
        }
    }

    /// Queues a copy of `bytes` for `peer`, on its port, in a pooled buffer.
    pub(crate) fn push_send(
        &mut self,
        peer: PeerId,
        channel: ChannelId,
        bytes: &[u8],
        on_full: OnFull,
    ) {
        let bytes = self.pool.copy_of(bytes);
        self.push(
            peer.port(),
            Command::Send {
                peer,
                channel,
                bytes,
                on_full,
            },
        );
    }

    /// Hands every gathered command to its port's mailbox: one wake per
    /// port. Returns how many were dropped because a mailbox was full. A
    /// dropped message its peer must not miss leaves that peer owed a
    /// disconnect, which goes first at every flush until it fits.
    pub(super) fn flush(&mut self, mailboxes: &[PortMailbox]) -> u64 {
        let mut lost = 0;
        let ports = self.per_port.iter_mut().zip(&mut self.stranded);
        for ((queue, stranded), mailbox) in ports.zip(mailboxes) {
            stranded.retain(|&peer| {
                let owed = Command::Disconnect {
                    peer,
                    too_slow: true,
                };
                mailbox.push(owed).is_err()
            });
            for command in queue.drain(..) {
                let Err(dropped) = mailbox.push(command) else {
                    continue;
                };
                lost += 1;
                debug!(?dropped, "cross-port queue full; command dropped");
                if let Command::Send {
                    peer,
                    on_full,
                    bytes,
                    ..
                } = dropped
                {
                    self.pool.give_back(bytes);
                    if on_full == OnFull::Disconnect && !stranded.contains(&peer) {
                        stranded.push(peer);
                    }
                }
            }
        }
        lost
    }
}
