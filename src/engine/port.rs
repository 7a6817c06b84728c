//! One port's thread: its socket, its poll, its protocol shard.
//!
//! The loop: wait for the socket, the mailbox or the next timer; receive in
//! batches and feed each datagram to the shard (replies are sealed straight
//! into the send batch); deliver payloads and connection changes; run the
//! commands other threads queued; run the shard's timers; send. Nothing on
//! this path takes a lock: the thread owns its socket and shard, and other
//! threads reach it only through its [`Mailbox`].

use super::batch::{RecvBatch, SendBatch};
use super::buffer_pool::BufferPool;
use super::handler::{Context, Handler, is_current};
use super::limiter::RequestLimiter;
use super::mailbox::Mailbox;
use super::peers::PeerChannels;
use super::transport::{Transport, is_fatal};
use super::{PeerId, PortStats, ServerEvent};
use crate::proto::channel::{self, ChannelId, Inbox};
use crate::proto::server::{ClientIndex, DisconnectReason, Event, Server as Shard};
use crate::sync::{Arc, AtomicBool, Ordering};
use crossbeam_channel::{Sender, TrySendError};
use mio::{Events, Poll, Token};
use parking_lot::Mutex;
use std::time::{Duration, Instant};
use tracing::{debug, error, warn};

/// Registration token of the socket; the mailbox's waker uses [`WAKER`].
const SOCKET: Token = Token(0);
/// Registration token of the mailbox's waker.
pub(crate) const WAKER: Token = Token(1);
/// Receive batches handled per wake before timers and the mailbox get a turn.
const MAX_BATCHES_PER_WAKE: usize = 64;
/// How often stats are published.
const STATS_INTERVAL: Duration = Duration::from_millis(100);
/// Most attempts to flush the final disconnect packets at shutdown.
const SHUTDOWN_FLUSH_TRIES: usize = 100;

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
    fn flush(&mut self, mailboxes: &[PortMailbox]) -> u64 {
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
    pub(crate) transport: Transport,
    pub(crate) shard: Shard,
    pub(crate) delivery: Delivery,
    pub(crate) shared: Arc<Shared>,
    pub(crate) limiter: RequestLimiter,
    pub(crate) channels: PeerChannels,
}

/// The parts of a port the receive path borrows at once.
struct Io<'a> {
    index: u16,
    now: Instant,
    shard: &'a mut Shard,
    send: &'a mut SendBatch,
    generations: &'a mut Vec<u32>,
    outgoing: &'a mut Outgoing,
    delivery: &'a mut Delivery,
    limiter: &'a mut RequestLimiter,
    shared: &'a Shared,
    stats: &'a mut PortStats,
    channels: &'a mut PeerChannels,
    /// The address each admitted peer counts under in [`Shared::ip_limit`];
    /// `None` for a free slot or a peer refused at the limit.
    slot_ips: &'a mut Vec<Option<std::net::IpAddr>>,
    /// Messages released by one payload, reused.
    messages: &'a mut Inbox,
}

impl Port {
    /// Registers the transport with the port's poll: done before the
    /// server's `bind` returns, so that a failure is `bind`'s error.
    pub(crate) fn register(&mut self) -> std::io::Result<()> {
        self.transport
            .register(self.poll.registry(), SOCKET, &self.waker)
    }

    /// Runs the port until shutdown, or until its transport fails.
    pub(crate) fn run(mut self) {
        let ports = self.shared.mailboxes.len();
        let mut recv = RecvBatch::new();
        let mut send = SendBatch::new();
        let mut generations = vec![0u32; self.shard.max_clients()];
        let mut outgoing = Outgoing::new(ports, self.shared.pool.clone());
        let mut events = Events::with_capacity(16);
        let mut stats = PortStats {
            port: self.index,
            ..PortStats::default()
        };
        let mut next_stats = Instant::now();
        let mut more_to_read = false;
        let mut messages = Inbox::new();
        let mut writable_wanted = false;
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
                let mut wake_at = self.shard.next_update().min(next_stats);
                if let Some(tick) = self.channels.next_tick() {
                    wake_at = wake_at.min(tick);
                }
                self.transport
                    .next_arrival()
                    .map_or(wake_at, |arrival| arrival.min(wake_at))
                    .saturating_duration_since(now)
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    failure = Some(e);
                    break;
                }
            }
            let now = Instant::now();
            let shutting_down = self.shared.shutdown.load(Ordering::Acquire);
            let mut io = Io {
                index: self.index,
                now,
                shard: &mut self.shard,
                send: &mut send,
                generations: &mut generations,
                outgoing: &mut outgoing,
                delivery: &mut self.delivery,
                limiter: &mut self.limiter,
                shared: &self.shared,
                stats: &mut stats,
                channels: &mut self.channels,
                slot_ips: &mut slot_ips,
                messages: &mut messages,
            };
            more_to_read = match io.receive(&self.transport, &mut recv) {
                Ok(more) => more,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            if let Some(mailbox) = self.shared.mailboxes.get(usize::from(self.index)) {
                mailbox.drain(|command| io.command(command));
            }
            if now >= io.shard.next_update() {
                io.shard.update(now, io.send);
                io.deliver_events();
            }
            io.channels.tick(now, io.shard, io.send);
            io.channels.flush(now, io.shard, io.send);
            stats.cross_port_dropped += outgoing.flush(&self.shared.mailboxes);
            if let Err(e) = flush(&self.transport, now, &mut send, &mut stats) {
                failure = Some(e);
                break;
            }
            let held_back = send.pending() > 0;
            if held_back != writable_wanted {
                match self
                    .transport
                    .want_writable(self.poll.registry(), SOCKET, held_back)
                {
                    Ok(()) => writable_wanted = held_back,
                    Err(e) => {
                        warn!(port = self.index, error = %e, "could not change the socket's interest");
                    }
                }
            }
            if shutting_down {
                self.stop(
                    &mut send,
                    &mut generations,
                    &mut outgoing,
                    &mut stats,
                    &mut slot_ips,
                );
                break;
            }
            if now >= next_stats {
                self.publish(&mut stats, &generations);
                next_stats = now + STATS_INTERVAL;
            }
        }
        let Some(error) = failure else {
            self.publish(&mut stats, &generations);
            return;
        };
        self.fail(
            &error,
            &mut send,
            &mut generations,
            &mut outgoing,
            &mut stats,
            &mut slot_ips,
        );
        // Published before the event, so an application that hears of the
        // failure finds it in the stats too.
        self.publish(&mut stats, &generations);
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
    /// [`DisconnectReason::TransportFailed`] (the application hears each
    /// one; [`Port::run`] then reports [`ServerEvent::PortFailed`]), and one
    /// last attempt is made to send the disconnect packets.
    fn fail(
        &mut self,
        error: &std::io::Error,
        send: &mut SendBatch,
        generations: &mut Vec<u32>,
        outgoing: &mut Outgoing,
        stats: &mut PortStats,
        slot_ips: &mut Vec<Option<std::net::IpAddr>>,
    ) {
        error!(port = self.index, %error, "port transport failed; port stops and its peers are disconnected");
        self.shared.placement.close(usize::from(self.index));
        let now = Instant::now();
        self.disconnect_everyone(true, send, generations, outgoing, stats, slot_ips);
        stats.cross_port_dropped += outgoing.flush(&self.shared.mailboxes);
        // Best effort: the transport is likely past sending anything.
        let _ = flush(&self.transport, now, send, stats);
        stats.failure = Some(error.to_string());
    }

    /// Ends every connection (as [`DisconnectReason::TransportFailed`] if
    /// `failed`, else as the server's doing), queues the disconnect packets
    /// and tells the application of each peer that left.
    fn disconnect_everyone(
        &mut self,
        failed: bool,
        send: &mut SendBatch,
        generations: &mut Vec<u32>,
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
            generations,
            outgoing,
            delivery: &mut self.delivery,
            limiter: &mut self.limiter,
            shared: &self.shared,
            stats,
            channels: &mut self.channels,
            slot_ips,
            messages: &mut Inbox::new(),
        };
        io.deliver_events();
    }

    /// Disconnects everyone and sends the disconnect packets before the thread ends.
    fn stop(
        &mut self,
        send: &mut SendBatch,
        generations: &mut Vec<u32>,
        outgoing: &mut Outgoing,
        stats: &mut PortStats,
        slot_ips: &mut Vec<Option<std::net::IpAddr>>,
    ) {
        self.disconnect_everyone(false, send, generations, outgoing, stats, slot_ips);
        let mut events = Events::with_capacity(4);
        for _ in 0..SHUTDOWN_FLUSH_TRIES {
            if flush(&self.transport, Instant::now(), send, stats).is_err() {
                break;
            }
            if send.pending() == 0 {
                break;
            }
            // Wait for room in the socket buffer, briefly.
            let _ = self
                .transport
                .want_writable(self.poll.registry(), SOCKET, true);
            let _ = self.poll.poll(&mut events, Some(Duration::from_millis(10)));
        }
        debug!(port = self.index, unsent = send.pending(), "port stopped");
    }

    fn publish(&self, stats: &mut PortStats, generations: &[u32]) {
        stats.peers = self.shard.connected_count();
        stats.peer_channels.clear();
        stats
            .peer_channels
            .extend(self.channels.all_stats().map(|(slot, channel)| {
                let generation = generations.get(slot as usize).copied().unwrap_or(0);
                (PeerId::new(self.index, slot, generation), channel)
            }));
        stats.protocol = self.shard.stats().clone();
        if let Some(shared) = self.shared.stats.get(usize::from(self.index)) {
            // Copied without allocating: the list of peers goes into the
            // snapshot's own list, which keeps its capacity.
            let mut shared = shared.lock();
            let mut peer_channels = std::mem::take(&mut shared.peer_channels);
            peer_channels.clear();
            peer_channels.extend_from_slice(&stats.peer_channels);
            let own = std::mem::take(&mut stats.peer_channels);
            *shared = stats.clone();
            shared.peer_channels = peer_channels;
            stats.peer_channels = own;
        }
    }
}

/// Sends what is queued, counting it.
///
/// # Errors
///
/// A send error the transport cannot go on from ([`is_fatal`]); others are
/// logged and the datagrams stay queued for the next try.
fn flush(
    transport: &Transport,
    now: Instant,
    send: &mut SendBatch,
    stats: &mut PortStats,
) -> std::io::Result<()> {
    if send.pending() == 0 {
        return Ok(());
    }
    match transport.send(now, send) {
        Ok(count) => {
            stats.send_syscalls += count.syscalls;
            stats.packets_out += count.datagrams;
            stats.bytes_out += count.bytes;
            stats.send_refused += count.dropped;
            Ok(())
        }
        Err(e) if is_fatal(&e) => Err(e),
        Err(e) => {
            debug!(error = %e, "send failed");
            Ok(())
        }
    }
}

impl Io<'_> {
    /// Receives and handles up to [`MAX_BATCHES_PER_WAKE`] batches; true if
    /// the socket may still hold more.
    ///
    /// # Errors
    ///
    /// A receive or send error the transport cannot go on from ([`is_fatal`]).
    fn receive(&mut self, transport: &Transport, recv: &mut RecvBatch) -> std::io::Result<bool> {
        for _ in 0..MAX_BATCHES_PER_WAKE {
            let count = match transport.recv(self.now, recv) {
                Ok(count) => count,
                Err(e) if is_fatal(&e) => return Err(e),
                Err(e) => {
                    debug!(error = %e, "receive failed");
                    return Ok(false);
                }
            };
            self.stats.recv_syscalls += count.syscalls;
            self.stats.packets_in += count.datagrams;
            self.stats.bytes_in += count.bytes;
            if count.datagrams == 0 {
                return Ok(false);
            }
            recv.for_each(|from, bytes| self.datagram(from, bytes));
            self.channels.flush(self.now, self.shard, self.send);
            self.stats.cross_port_dropped += self.outgoing.flush(&self.shared.mailboxes);
            flush(transport, self.now, self.send, self.stats)?;
            record_dwell(recv, &mut self.stats.dwell);
            if count.drained {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn datagram(&mut self, from: std::net::SocketAddr, bytes: &mut [u8]) {
        let is_request = bytes.first() == Some(&0);
        if is_request
            && self.shard.client_at(&from).is_none()
            && !self.limiter.admit(from, self.now)
        {
            self.stats.rate_limited += 1;
            return;
        }
        let payload = self.shard.handle_datagram(self.now, from, bytes, self.send);
        // Connection changes first: a handler learns of a peer before its messages.
        self.deliver_events();
        let Some(payload) = payload else { return };
        let slot = payload.client.get();
        let generation = self.generations.get(slot as usize).copied().unwrap_or(0);
        let peer = PeerId::new(self.index, slot, generation);
        if self.channels.is_raw() {
            self.stats.messages_in += 1;
            self.dispatch(
                payload.bytes,
                |ctx, handler, bytes| handler.message(ctx, peer, ChannelId::RAW, bytes),
                |bytes| ServerEvent::Message {
                    peer,
                    channel: ChannelId::RAW,
                    bytes: bytes.to_vec(),
                },
            );
            return;
        }
        let mut messages = std::mem::take(self.messages);
        let read = self.channels.read(
            self.now,
            slot,
            payload.sequence,
            payload.bytes,
            &mut messages,
        );
        if let Err(error) = read {
            self.stats.channel_refused += 1;
            debug!(%peer, %error, "payload refused by the channel layer");
        }
        self.stats.messages_in += messages.len() as u64;
        for (channel, bytes) in messages.iter() {
            self.dispatch(
                bytes,
                |ctx, handler, bytes| handler.message(ctx, peer, channel, bytes),
                |bytes| ServerEvent::Message {
                    peer,
                    channel,
                    bytes: bytes.to_vec(),
                },
            );
        }
        messages.clear();
        *self.messages = messages;
    }

    /// Hands the shard's connects and disconnects to the application, and keeps the load counts.
    fn deliver_events(&mut self) {
        while let Some(event) = self.shard.poll_event() {
            match event {
                Event::Connected {
                    client,
                    client_id,
                    address,
                } => {
                    let slot = client.get() as usize;
                    if !self.shared.ip_limit.admit(address.ip()) {
                        // At its address's limit: the peer hears a disconnect
                        // and the application never sees it.
                        self.stats.ip_limited += 1;
                        debug!(%address, "peer refused: too many from its address");
                        self.shard.disconnect(client, self.send);
                        continue;
                    }
                    if let Some(ip) = self.slot_ips.get_mut(slot) {
                        *ip = Some(address.ip());
                    }
                    self.channels.connected(client.get());
                    if let Some(generation) = self.generations.get_mut(slot) {
                        *generation = generation.wrapping_add(1);
                    }
                    let generation = self.generations.get(slot).copied().unwrap_or(0);
                    let peer = PeerId::new(self.index, client.get(), generation);
                    self.shared
                        .placement
                        .connected(usize::from(self.index), client_id);
                    let user_data =
                        Box::new(self.shard.user_data(client).copied().unwrap_or([0; 256]));
                    self.dispatch(
                        user_data,
                        |ctx, handler, user_data| {
                            handler.connected(ctx, peer, client_id, user_data);
                        },
                        |user_data| ServerEvent::Connected {
                            peer,
                            client_id,
                            user_data,
                        },
                    );
                }
                Event::Disconnected { client, reason, .. } => {
                    let admitted = self
                        .slot_ips
                        .get_mut(client.get() as usize)
                        .and_then(Option::take);
                    let Some(ip) = admitted else {
                        continue; // refused at the limit: never announced
                    };
                    self.shared.ip_limit.release(ip);
                    self.channels.disconnected(client.get());
                    if reason == DisconnectReason::TooSlow {
                        self.stats.too_slow += 1;
                    }
                    let generation = self
                        .generations
                        .get(client.get() as usize)
                        .copied()
                        .unwrap_or(0);
                    let peer = PeerId::new(self.index, client.get(), generation);
                    self.shared.placement.disconnected(usize::from(self.index));
                    self.dispatch(
                        (),
                        |ctx, handler, ()| handler.disconnected(ctx, peer, reason),
                        |()| ServerEvent::Disconnected { peer, reason },
                    );
                }
            }
        }
    }

    /// Calls the handler, or queues the event, for one thing a peer did.
    ///
    /// `data` goes to whichever runs: borrowed by the handler, moved into
    /// the event (a message's bytes are not copied for the event queue).
    fn dispatch<T>(
        &mut self,
        data: T,
        on_handler: impl FnOnce(&mut Context<'_>, &mut dyn Handler, &T),
        as_event: impl FnOnce(T) -> ServerEvent,
    ) {
        match self.delivery {
            Delivery::Events(events) => push_event(events, as_event(data), self.stats),
            Delivery::Handler(handler) => {
                let mut ctx = Context {
                    port: self.index,
                    now: self.now,
                    shard: self.shard,
                    send: self.send,
                    generations: self.generations,
                    outgoing: self.outgoing,
                    channels: self.channels,
                };
                on_handler(&mut ctx, handler.as_mut(), &data);
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Send {
                peer,
                channel,
                bytes,
                on_full,
            } => {
                self.send_queued(peer, channel, &bytes, on_full);
                self.shared.pool.give_back(bytes);
            }
            Command::Disconnect { peer, too_slow } => {
                if is_current(self.generations, peer) {
                    let client = ClientIndex::new(peer.slot());
                    if too_slow {
                        self.shard.disconnect_too_slow(client, self.send);
                    } else {
                        self.shard.disconnect(client, self.send);
                    }
                    self.deliver_events();
                }
            }
        }
    }

    /// Sends a message another thread queued for `peer`, a peer of this port.
    fn send_queued(&mut self, peer: PeerId, channel: ChannelId, bytes: &[u8], on_full: OnFull) {
        if !is_current(self.generations, peer) {
            self.stats.channel_send_refused += 1;
            return;
        }
        if self.channels.is_raw() {
            let client = ClientIndex::new(peer.slot());
            if let Err(e) = self.shard.send(self.now, client, bytes, self.send) {
                debug!(%peer, error = %e, "queued message for a departed peer dropped");
            }
        } else if let Err(e) = self.channels.send(peer.slot(), channel, bytes) {
            let full = matches!(e, channel::SendError::QueueFull { .. });
            if full && on_full == OnFull::Disconnect {
                self.shard
                    .disconnect_too_slow(ClientIndex::new(peer.slot()), self.send);
                self.deliver_events();
            } else {
                self.stats.channel_send_refused += 1;
                debug!(%peer, error = %e, "queued message refused by the channel layer");
            }
        }
    }
}

/// Counts how long each datagram of the batch just handled waited: from
/// the kernel's arrival stamp to now, when what it caused has been handed
/// to the kernel (nothing for a socket without stamps).
fn record_dwell(recv: &RecvBatch, dwell: &mut super::LatencyHistogram) {
    let mut arrivals = recv.arrivals().peekable();
    if arrivals.peek().is_none() {
        return;
    }
    let now = std::time::SystemTime::now();
    for (arrived, datagrams) in arrivals {
        dwell.record(now.duration_since(arrived).unwrap_or_default(), datagrams);
    }
}

fn push_event(events: &Sender<ServerEvent>, event: ServerEvent, stats: &mut PortStats) {
    match events.try_send(event) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => stats.events_dropped += 1,
        // The application dropped its receiver; nothing to tell.
        Err(TrySendError::Disconnected(_)) => {}
    }
}
