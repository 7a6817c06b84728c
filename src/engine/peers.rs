//! The channel layer of every peer on one port: a [`Connection`] per
//! occupied slot, flushed into the port's send batch.
//!
//! In raw mode (no channel table) this holds nothing and every call is a
//! no-op; payloads go to the application as they are.

use super::deadlines::Deadlines;
use super::port::Sends;
use crate::proto::channel::{
    ChannelId, ChannelTable, Connection, ConnectionStats, Inbox, ReadError, SendError,
};
use crate::proto::server::{ClientIndex, Server as Shard};
use std::time::{Duration, Instant};

/// Most packets one peer writes per flush; the rest wait for the next tick.
const MAX_PACKETS_PER_FLUSH: usize = 64;
/// The soonest a tick may follow the work that scheduled it.
const MIN_TICK: Duration = Duration::from_millis(1);

/// Per-slot channel state of one port.
#[derive(Debug)]
pub(crate) struct PeerChannels {
    table: Option<ChannelTable>,
    slots: Vec<Option<Connection>>,
    /// Slots with something to write, each listed once.
    dirty: Vec<u32>,
    is_dirty: Vec<bool>,
    /// When each peer next has a resend or an owed ack due.
    deadlines: Deadlines,
}

impl PeerChannels {
    /// Channel state for `max_clients` slots; `None` is raw mode.
    pub(crate) fn new(table: Option<ChannelTable>, max_clients: usize) -> Self {
        let slots = if table.is_some() { max_clients } else { 0 };
        Self {
            table,
            slots: std::iter::repeat_with(|| None).take(slots).collect(),
            dirty: Vec::new(),
            is_dirty: vec![false; slots],
            deadlines: Deadlines::new(slots),
        }
    }

    /// The channel table; `None` in raw mode.
    pub(crate) const fn table(&self) -> Option<&ChannelTable> {
        self.table.as_ref()
    }

    /// Whether payloads are raw netcode payloads.
    pub(crate) const fn is_raw(&self) -> bool {
        self.table.is_none()
    }

    /// A peer took `slot`: fresh channels.
    pub(crate) fn connected(&mut self, slot: u32) {
        if let (Some(table), Some(entry)) = (&self.table, self.slots.get_mut(slot as usize)) {
            *entry = Some(Connection::new(table.clone()));
        }
    }

    /// The peer in `slot` left: its channels go with it.
    pub(crate) fn disconnected(&mut self, slot: u32) {
        if let Some(entry) = self.slots.get_mut(slot as usize) {
            *entry = None;
        }
        self.deadlines.clear(slot);
    }

    /// Takes payload `sequence` of the peer in `slot`; the messages it
    /// releases replace what `into` held ([`Connection::take_messages`]).
    pub(crate) fn read(
        &mut self,
        now: Instant,
        slot: u32,
        sequence: u64,
        payload: &[u8],
        into: &mut Inbox,
    ) -> Result<(), ReadError> {
        let Some(connection) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return Ok(());
        };
        let result = connection.read_packet(now, sequence, payload);
        connection.take_messages(into);
        if connection.wants_to_send(now) {
            self.mark(slot);
        } else if let Some(due) = connection.poll_timeout() {
            self.schedule(slot, due, now);
        }
        result
    }

    /// Has the peer in `slot` ticked no later than `due` (and no sooner
    /// than a millisecond from `now`, so a port never spins on it).
    fn schedule(&mut self, slot: u32, due: Instant, now: Instant) {
        self.deadlines.schedule(slot, due.max(now + MIN_TICK));
    }

    /// Queues `bytes` on `channel` for the peer in `slot`.
    pub(crate) fn send(
        &mut self,
        slot: u32,
        channel: ChannelId,
        bytes: &[u8],
    ) -> Result<(), SendError> {
        let connection = self
            .slots
            .get_mut(slot as usize)
            .and_then(Option::as_mut)
            .ok_or(SendError::Disconnected)?;
        connection.send(channel, bytes)?;
        self.mark(slot);
        Ok(())
    }

    fn mark(&mut self, slot: u32) {
        if let Some(flag) = self.is_dirty.get_mut(slot as usize) {
            if !*flag {
                *flag = true;
                self.dirty.push(slot);
            }
        }
    }

    /// Writes what the marked peers have to send into `out`.
    pub(crate) fn flush(&mut self, now: Instant, shard: &mut Shard, out: &mut Sends) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for slot in dirty.drain(..) {
            if let Some(flag) = self.is_dirty.get_mut(slot as usize) {
                *flag = false;
            }
            self.write(slot, now, shard, out);
        }
        self.dirty = dirty;
    }

    /// When [`PeerChannels::tick`] is next due: the earliest resend or
    /// owed ack of any peer, as of the last time each was touched.
    pub(crate) fn next_tick(&mut self) -> Option<Instant> {
        self.deadlines.next()
    }

    /// Writes what has fallen due (resends, delayed acks) for the peers
    /// whose deadline has passed; the others are not looked at.
    pub(crate) fn tick(&mut self, now: Instant, shard: &mut Shard, out: &mut Sends) {
        while let Some(slot) = self.deadlines.pop_due(now) {
            self.write(slot, now, shard, out);
        }
    }

    /// Writes what the peer in `slot` has to send now, then schedules its
    /// next deadline.
    fn write(&mut self, slot: u32, now: Instant, shard: &mut Shard, out: &mut Sends) {
        let Some(connection) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        write_packets(connection, now, slot, shard, out);
        if let Some(due) = due(connection, now) {
            self.schedule(slot, due, now);
        }
    }

    /// The channel counters of the peer in `slot`.
    pub(crate) fn stats(&self, slot: u32) -> Option<ConnectionStats> {
        Some(self.slots.get(slot as usize)?.as_ref()?.stats())
    }

    /// Every connected peer's slot and channel counters.
    pub(crate) fn all_stats(&self) -> impl Iterator<Item = (u32, ConnectionStats)> + '_ {
        (0u32..)
            .zip(&self.slots)
            .filter_map(|(slot, entry)| Some((slot, entry.as_ref()?.stats())))
    }
}

/// When `connection` next needs the port: now, if a flush left it with
/// more to write (the per-flush packet cap), else its next deadline.
fn due(connection: &Connection, now: Instant) -> Option<Instant> {
    if connection.wants_to_send(now) {
        Some(now)
    } else {
        connection.poll_timeout()
    }
}

fn write_packets(
    connection: &mut Connection,
    now: Instant,
    slot: u32,
    shard: &mut Shard,
    out: &mut Sends,
) {
    let client = ClientIndex::new(slot);
    for _ in 0..MAX_PACKETS_PER_FLUSH {
        if !connection.wants_to_send(now) {
            return;
        }
        let written = shard.send_with(now, client, out, &mut |sequence, buf| {
            connection.write_packet(now, sequence, buf)
        });
        if !matches!(written, Ok(len) if len > 0) {
            return;
        }
    }
}
