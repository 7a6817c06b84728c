//! The receive path of a port: datagrams into the shard, messages and
//! connection changes out to the handler or the event queue, and the
//! commands other threads queued.

use super::super::batch::RecvBatch;
use super::super::handler::{Context, Handler};
use super::super::transport::Transport;
use super::super::{PeerId, PortStats, ServerEvent};
use super::commands::{Command, OnFull, Outgoing};
use super::{Delivery, MAX_BATCHES_PER_WAKE, Sends, Shared};
use crate::proto::SendError;
use crate::proto::channel::{ChannelId, Inbox};
use crate::proto::server::{DisconnectReason, Event, Shard};
use crossbeam_channel::{Sender, TrySendError};
use std::time::Instant;
use tracing::debug;

/// The parts of a port the receive path borrows at once.
pub(super) struct Io<'a> {
    pub(super) index: u16,
    pub(super) now: Instant,
    pub(super) shard: &'a mut Shard,
    pub(super) send: &'a mut Sends,
    pub(super) outgoing: &'a mut Outgoing,
    pub(super) delivery: &'a mut Delivery,
    pub(super) shared: &'a Shared,
    pub(super) stats: &'a mut PortStats,
    /// The address each admitted peer counts under in [`Shared::ip_limit`];
    /// `None` for a free slot or a peer refused at the limit.
    pub(super) slot_ips: &'a mut Vec<Option<std::net::IpAddr>>,
    /// Messages released by one payload, reused.
    pub(super) messages: &'a mut Inbox,
}

impl Io<'_> {
    /// Receives and handles up to [`MAX_BATCHES_PER_WAKE`] batches from
    /// transport `index`; true if it may still hold more.
    ///
    /// # Errors
    ///
    /// The transport cannot go on ([`Transport::recv`], [`Transport::send`]).
    pub(super) fn receive(
        &mut self,
        index: usize,
        transport: &mut dyn Transport,
        recv: &mut RecvBatch,
    ) -> std::io::Result<bool> {
        self.send.receiving_from(index);
        self.shard
            .receiving_via(u8::try_from(index).unwrap_or(u8::MAX));
        for _ in 0..MAX_BATCHES_PER_WAKE {
            let count = transport.recv(self.now, recv)?;
            self.stats.recv_syscalls += count.syscalls;
            self.stats.packets_in += count.datagrams;
            self.stats.bytes_in += count.bytes;
            if count.datagrams == 0 {
                return Ok(false);
            }
            recv.for_each(|from, bytes| self.datagram(from, bytes));
            self.shard.poll_transmit(self.now, self.send);
            self.stats.cross_port_dropped += self.outgoing.flush(&self.shared.mailboxes);
            self.flush_to(index, transport)?;
            record_dwell(recv, &mut self.stats.dwell);
            if count.drained {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Sends what is queued for transport `index`, counting it. (The other
    /// transports' datagrams wait for the end of the wake.)
    fn flush_to(&mut self, index: usize, transport: &mut dyn Transport) -> std::io::Result<()> {
        let Some(batch) = self.send.batch(index).filter(|batch| batch.pending() > 0) else {
            return Ok(());
        };
        let count = transport.send(self.now, batch)?;
        self.stats.send_syscalls += count.syscalls;
        self.stats.packets_out += count.datagrams;
        self.stats.bytes_out += count.bytes;
        self.stats.send_refused += count.dropped;
        Ok(())
    }

    fn datagram(&mut self, from: std::net::SocketAddr, bytes: &mut [u8]) {
        let delivered = self.shard.handle_datagram(self.now, from, bytes, self.send);
        // Connection changes first: a handler learns of a peer before its messages.
        self.deliver_events();
        let Some(client) = delivered else {
            self.stray(from, bytes);
            return;
        };
        let peer = PeerId::of(self.index, client);
        let mut messages = std::mem::take(self.messages);
        self.shard.take_messages(&mut messages);
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

    /// Hands a datagram that is no netcode packet to the handler.
    fn stray(&mut self, from: std::net::SocketAddr, bytes: &[u8]) {
        let no_packet_type = bytes.first().is_some_and(|prefix| prefix & 0x0f > 6);
        if let (true, Delivery::Handler(handler)) = (no_packet_type, &mut self.delivery) {
            let mut ctx = Context {
                port: self.index,
                now: self.now,
                shard: self.shard,
                send: self.send,
                outgoing: self.outgoing,
            };
            handler.stray(&mut ctx, from, bytes);
        }
    }

    /// Hands the shard's connects and disconnects to the application, and keeps the load counts.
    pub(super) fn deliver_events(&mut self) {
        while let Some(event) = self.shard.poll_event() {
            match event {
                Event::Connected {
                    client,
                    client_id,
                    address,
                } => {
                    let slot = client.get() as usize;
                    self.send.connected(address);
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
                    let peer = PeerId::of(self.index, client);
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
                Event::Disconnected {
                    client,
                    reason,
                    address,
                    ..
                } => {
                    self.send.disconnected(address);
                    let admitted = self
                        .slot_ips
                        .get_mut(client.get() as usize)
                        .and_then(Option::take);
                    let Some(ip) = admitted else {
                        continue; // refused at the limit: never announced
                    };
                    self.shared.ip_limit.release(ip);
                    if reason == DisconnectReason::TooSlow {
                        self.stats.too_slow += 1;
                    }
                    let peer = PeerId::of(self.index, client);
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
                    outgoing: self.outgoing,
                };
                on_handler(&mut ctx, handler.as_mut(), &data);
            }
        }
    }

    pub(super) fn command(&mut self, command: Command) {
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
                if too_slow {
                    self.shard.disconnect_too_slow(peer.client(), self.send);
                } else {
                    self.shard.disconnect(peer.client(), self.send);
                }
                self.deliver_events();
            }
        }
    }

    /// Sends a message another thread queued for `peer`, a peer of this port.
    fn send_queued(&mut self, peer: PeerId, channel: ChannelId, bytes: &[u8], on_full: OnFull) {
        let client = peer.client();
        match self.shard.send(self.now, client, channel, bytes, self.send) {
            Ok(()) => {}
            Err(SendError::QueueFull { .. }) if on_full == OnFull::Disconnect => {
                self.shard.disconnect_too_slow(client, self.send);
                self.deliver_events();
            }
            Err(e) => {
                self.stats.channel_send_refused += 1;
                debug!(%peer, error = %e, "queued message refused");
            }
        }
    }
}

/// Counts how long each datagram of the batch just handled waited: from
/// the kernel's arrival stamp to now, when what it caused has been handed
/// to the kernel (nothing for a socket without stamps).
fn record_dwell(recv: &RecvBatch, dwell: &mut super::super::LatencyHistogram) {
    let mut arrivals = recv.arrivals().peekable();
    if arrivals.peek().is_none() {
        return;
    }
    let now = std::time::SystemTime::now();
    for (arrived, datagrams) in arrivals {
        dwell.record(now.duration_since(arrived).unwrap_or_default(), datagrams);
    }
}

pub(super) fn push_event(events: &Sender<ServerEvent>, event: ServerEvent, stats: &mut PortStats) {
    match events.try_send(event) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => stats.events_dropped += 1,
        // The application dropped its receiver; nothing to tell.
        Err(TrySendError::Disconnected(_)) => {}
    }
}
