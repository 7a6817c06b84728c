//! One port's thread: its socket, its poll, its protocol shard.
//!
//! The loop: wait for the socket, the mailbox or the next timer; receive in
//! batches and feed each datagram to the shard (replies are sealed straight
//! into the send batch); deliver payloads and connection changes; run the
//! commands other threads queued; run the shard's timers; send. Nothing on
//! this path takes a lock: the thread owns its socket and shard, and other
//! threads reach it only through its mailbox.
//!
//! - [`commands`]: what other threads ask of a port, and what a port
//!   gathers for the others during a wake;
//! - [`io`]: the receive path, from datagram to handler or event;
//! - here: the loop itself, failure, shutdown and stats.

mod commands;
mod io;
mod sends;

pub(crate) use commands::{Command, OnFull, Outgoing, PortMailbox};
pub(crate) use sends::Sends;

use super::batch::RecvBatch;
use super::buffer_pool::BufferPool;
use super::handler::Handler;
use super::transport::{Registration, Transport};
use super::{PeerId, PortStats, ServerEvent};
use crate::proto::channel::Inbox;
use crate::proto::server::Shard;
use crate::sync::{Arc, AtomicBool, Ordering};
use crossbeam_channel::Sender;
use io::{Io, push_event};
use mio::{Events, Poll, Token};
use parking_lot::Mutex;
use std::time::{Duration, Instant};
use tracing::{debug, error, warn};

/// Registration token of the mailbox's waker, which transports without a
/// file descriptor share; transport `i` registers as `Token(1 + i)`.
pub(crate) const WAKER: Token = Token(0);
/// Receive batches handled per wake before timers and the mailbox get a turn.
const MAX_BATCHES_PER_WAKE: usize = 64;
/// How often stats are published.
const STATS_INTERVAL: Duration = Duration::from_millis(100);
/// Most attempts to flush the final disconnect packets at shutdown.
const SHUTDOWN_FLUSH_TRIES: usize = 100;

/// What all ports and the handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Connected peers per IP address, over all ports.
    pub(crate) ip_limit: super::ip_limit::IpLimit,
    /// The channel table, for checks on the sending thread; `None` in raw mode.
    pub(crate) table: Option<crate::proto::channel::ChannelTable>,
    pub(crate) mailboxes: Vec<PortMailbox>,
    pub(crate) shutdown: AtomicBool,
    pub(crate) placement: super::issuer::Placement,
    pub(crate) stats: Vec<Mutex<PortStats>>,
    /// Buffers for the bytes of [`Command::Send`], handed back after use.
    pub(crate) pool: Arc<BufferPool>,
}

/// Where a port delivers what its peers send.
pub(crate) enum Delivery {
    /// To the application's event queue.
    Events(Sender<ServerEvent>),
    /// To a handler on this thread.
    Handler(Box<dyn Handler>),
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Events(_) => f.write_str("Delivery::Events"),
            Self::Handler(_) => f.write_str("Delivery::Handler"),
        }
    }
}

/// One port's thread state.
#[derive(Debug)]
pub(crate) struct Port {
    pub(crate) index: u16,
    pub(crate) poll: Poll,
    /// Also held by this port's mailbox.
    pub(crate) waker: Arc<mio::Waker>,
    /// What the port serves, at least one; all share the shard.
    pub(crate) transports: Vec<Box<dyn Transport>>,
    pub(crate) shard: Shard,
    pub(crate) delivery: Delivery,
    pub(crate) shared: Arc<Shared>,
}

impl Port {
    /// Registers the transports with the port's poll: done before the
    /// server's `bind` returns, so that a failure is `bind`'s error.
    pub(crate) fn register(&mut self) -> std::io::Result<()> {
        for (i, transport) in self.transports.iter_mut().enumerate() {
            transport.register(&Registration::new(
                self.poll.registry(),
                Token(1 + i),
                &self.waker,
            ))?;
        }
        Ok(())
    }

    /// Runs the port until shutdown, or until its transport fails.
    pub(crate) fn run(mut self) {
        let ports = self.shared.mailboxes.len();
        let mut recv = RecvBatch::new();
        let mut send = Sends::new(self.transports.len());
        let mut outgoing = Outgoing::new(ports, self.shared.pool.clone());
        let mut events = Events::with_capacity(16);
        let mut stats = PortStats {
            port: self.index,
            ..PortStats::default()
        };
        let mut next_stats = Instant::now();
        let mut more_to_read = false;
        let mut messages = Inbox::new();
        let mut writable_wanted = vec![false; self.transports.len()];
        let mut slot_ips = vec![None; self.shard.max_clients()];
        let mut failure = None;

        loop {
            let now = Instant::now();
            // Datagrams still queued mean the socket said "would block": the
            // socket is then registered for WRITABLE too (only then, or every
            // send would raise an edge and an idle wake), so no need to spin.
            let timeout = if more_to_read {
                Duration::ZERO
            } else {
                let wake_at = self.shard.next_update().min(next_stats);
                self.transports
                    .iter()
                    .filter_map(|transport| transport.next_arrival())
                    .fold(wake_at, Instant::min)
                    .saturating_duration_since(now)
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    failure = Some(e);
                    break;
                }
            }
            stats.wakes += 1;
            let now = Instant::now();
            let shutting_down = self.shared.shutdown.load(Ordering::Acquire);
            let mut io = Io {
                index: self.index,
                now,
                shard: &mut self.shard,
                send: &mut send,
                outgoing: &mut outgoing,
                delivery: &mut self.delivery,
                shared: &self.shared,
                stats: &mut stats,
                slot_ips: &mut slot_ips,
                messages: &mut messages,
            };
            more_to_read = false;
            for (i, transport) in self.transports.iter_mut().enumerate() {
                match io.receive(i, transport.as_mut(), &mut recv) {
                    Ok(more) => more_to_read |= more,
                    Err(e) => failure = Some(e),
                }
            }
            if failure.is_some() {
                break;
            }
            if let Some(mailbox) = self.shared.mailboxes.get(usize::from(self.index)) {
                mailbox.drain(|command| io.command(command));
            }
            if now >= io.shard.next_update() {
                io.shard.update(now, io.send);
                io.deliver_events();
            }
            io.shard.poll_transmit(now, io.send);
            stats.cross_port_dropped += outgoing.flush(&self.shared.mailboxes);
            if let Err(e) = flush(&mut self.transports, now, &mut send, &mut stats) {
                failure = Some(e);
                break;
            }
            self.want_writable(&mut send, &mut writable_wanted);
            if shutting_down {
                self.stop(&mut send, &mut outgoing, &mut stats, &mut slot_ips);
                break;
            }
            if now >= next_stats {
                self.publish(&mut stats);
                next_stats = now + STATS_INTERVAL;
            }
        }
        let Some(error) = failure else {
            self.publish(&mut stats);
            return;
        };
        self.fail(&error, &mut send, &mut outgoing, &mut stats, &mut slot_ips);
        // Published before the event, so an application that hears of the
        // failure finds it in the stats too.
        self.publish(&mut stats);
        if let Delivery::Events(events) = &self.delivery {
            let failed = ServerEvent::PortFailed {
                port: self.index,
                error: error.to_string(),
            };
            push_event(events, failed, &mut stats);
        }
    }

    /// Stops the port for good after its transport failed: it leaves
    /// placement, every peer is disconnected with
    /// [`crate::proto::server::DisconnectReason::TransportFailed`] (the application hears each
    /// one; [`Port::run`] then reports [`ServerEvent::PortFailed`]), and one
    /// last attempt is made to send the disconnect packets.
    fn fail(
        &mut self,
        error: &std::io::Error,
        send: &mut Sends,
        outgoing: &mut Outgoing,
        stats: &mut PortStats,
        slot_ips: &mut Vec<Option<std::net::IpAddr>>,
    ) {
        error!(port = self.index, %error, "port transport failed; port stops and its peers are disconnected");
        self.shared.placement.close(usize::from(self.index));
        let now = Instant::now();
        self.disconnect_everyone(true, send, outgoing, stats, slot_ips);
        stats.cross_port_dropped += outgoing.flush(&self.shared.mailboxes);
        // Best effort: the transport is likely past sending anything.
        let _ = flush(&mut self.transports, now, send, stats);
        stats.failure = Some(error.to_string());
    }

    /// Ends every connection (as [`crate::proto::server::DisconnectReason::TransportFailed`] if
    /// `failed`, else as the server's doing), queues the disconnect packets
    /// and tells the application of each peer that left.
    fn disconnect_everyone(
        &mut self,
        failed: bool,
        send: &mut Sends,
        outgoing: &mut Outgoing,
        stats: &mut PortStats,
        slot_ips: &mut Vec<Option<std::net::IpAddr>>,
    ) {
        if failed {
            self.shard.disconnect_all_failed(send);
        } else {
            self.shard.disconnect_all(send);
        }
        let mut io = Io {
            index: self.index,
            now: Instant::now(),
            shard: &mut self.shard,
            send,
            outgoing,
            delivery: &mut self.delivery,
            shared: &self.shared,
            stats,
            slot_ips,
            messages: &mut Inbox::new(),
        };
        io.deliver_events();
    }

    /// Disconnects everyone and sends the disconnect packets before the thread ends.
    fn stop(
        &mut self,
        send: &mut Sends,
        outgoing: &mut Outgoing,
        stats: &mut PortStats,
        slot_ips: &mut Vec<Option<std::net::IpAddr>>,
    ) {
        self.disconnect_everyone(false, send, outgoing, stats, slot_ips);
        let mut events = Events::with_capacity(4);
        for _ in 0..SHUTDOWN_FLUSH_TRIES {
            if flush(&mut self.transports, Instant::now(), send, stats).is_err() {
                break;
            }
            if send.pending() == 0 {
                break;
            }
            // Wait for room in the socket buffer, briefly.
            let mut wanted = vec![false; self.transports.len()];
            self.want_writable(send, &mut wanted);
            let _ = self.poll.poll(&mut events, Some(Duration::from_millis(10)));
        }
        debug!(port = self.index, unsent = send.pending(), "port stopped");
    }

    /// Has the poll wake for writability exactly for the transports whose
    /// sends are held back; `wanted` is what each has asked for so far.
    fn want_writable(&mut self, send: &mut Sends, wanted: &mut [bool]) {
        let registry = self.poll.registry();
        for (i, (transport, wanted)) in self.transports.iter_mut().zip(wanted).enumerate() {
            let held_back = send.batch(i).is_some_and(|batch| batch.pending() > 0);
            if held_back == *wanted {
                continue;
            }
            let registration = Registration::new(registry, Token(1 + i), &self.waker);
            match transport.want_writable(&registration, held_back) {
                Ok(()) => *wanted = held_back,
                Err(e) => {
                    warn!(port = self.index, error = %e, "could not change the transport's interest");
                }
            }
        }
    }

    /// Copies the port's counters into its shared snapshot. The peers'
    /// channel counters go straight into the snapshot's own list, under
    /// its lock: one copy per peer, not two, and the list keeps its
    /// capacity, so nothing is allocated once it has grown. The shard
    /// yields its clients by slot, so the list is in [`PeerId`] order, which
    /// `Server::peer_stats` searches by.
    fn publish(&self, stats: &mut PortStats) {
        stats.peers = self.shard.connected_count();
        stats.protocol = self.shard.stats().clone();
        if let Some(shared) = self.shared.stats.get(usize::from(self.index)) {
            let mut shared = shared.lock();
            let mut peer_channels = std::mem::take(&mut shared.peer_channels);
            peer_channels.clear();
            peer_channels.extend(
                self.shard
                    .all_client_stats()
                    .map(|(client, channel)| (PeerId::of(self.index, client), channel)),
            );
            *shared = stats.clone();
            shared.peer_channels = peer_channels;
        }
    }
}

/// Sends what is queued for each transport, counting it.
///
/// # Errors
///
/// A transport cannot go on ([`Transport::send`]); the others have still
/// been given their datagrams.
fn flush(
    transports: &mut [Box<dyn Transport>],
    now: Instant,
    send: &mut Sends,
    stats: &mut PortStats,
) -> std::io::Result<()> {
    let mut result = Ok(());
    for (i, transport) in transports.iter_mut().enumerate() {
        let Some(batch) = send.batch(i).filter(|batch| batch.pending() > 0) else {
            continue;
        };
        match transport.send(now, batch) {
            Ok(count) => {
                stats.send_syscalls += count.syscalls;
                stats.packets_out += count.datagrams;
                stats.bytes_out += count.bytes;
                stats.send_refused += count.dropped;
            }
            Err(e) => result = Err(e),
        }
    }
    result
}
