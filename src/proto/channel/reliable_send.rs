//! The send half of a reliable channel: messages cut into units (a whole
//! message, or one fragment), each resent until a packet carrying it is acked.

use super::FRAGMENT_LEN;
use super::byte_queue::{ByteQueue, Span};
use crate::wire::frame_body::MessageId;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Message ids a reliable channel may have in flight: the receiver accepts
/// ids this far ahead of the oldest it still waits for.
pub(crate) const WINDOW: u16 = 4096;

/// A whole message, or one fragment of a large one.
#[derive(Debug)]
pub(crate) struct Unit {
    pub(crate) id: MessageId,
    /// `(index, count)` for a fragment.
    pub(crate) fragment: Option<(u16, u16)>,
    /// Its bytes, in [`ReliableSend::bytes_of`].
    span: Span,
    pub(crate) last_sent: Option<Instant>,
    pub(crate) acked: bool,
}

/// Units waiting for their acks, in id order.
#[derive(Debug, Default)]
pub(crate) struct ReliableSend {
    next_id: MessageId,
    units: VecDeque<Unit>,
    /// The bytes of every unit held, in unit order.
    store: ByteQueue,
    /// Serial number of `units[0]`; serials count units ever queued.
    first_serial: u64,
    /// Units before this index have been sent at least once.
    unsent: usize,
    /// `(sent at, serial)` per send, oldest first: the resend queue. An
    /// entry is stale once its unit is acked or sent again; stale entries
    /// at the front are dropped as they surface.
    sends: VecDeque<(Instant, u64)>,
    /// Serials of units whose last packet was given up on ([`ReliableSend::lost`]),
    /// due now ahead of everything else; entries go once the unit is sent
    /// again or acked.
    resend_now: VecDeque<u64>,
    /// Bytes of the units held.
    pub(crate) bytes: usize,
    pub(crate) resends: u64,
}

impl ReliableSend {
    /// Whether a message of `len` bytes may be queued under the window.
    pub(crate) fn has_room_for(&self) -> bool {
        let oldest = self.units.front().map_or(self.next_id, |u| u.id);
        self.next_id.since(oldest) < WINDOW
    }

    /// Queues `message` as one unit, or as fragments of [`FRAGMENT_LEN`].
    /// The caller checked its length against the table's limit, which
    /// keeps the fragment count under `u16::MAX`.
    pub(crate) fn push(&mut self, message: &[u8]) {
        let id = self.next_id;
        self.next_id = id.add(1);
        self.bytes += message.len();
        if message.len() <= FRAGMENT_LEN {
            self.units.push_back(Unit {
                id,
                fragment: None,
                span: self.store.push(message),
                last_sent: None,
                acked: false,
            });
            return;
        }
        let count = message.len().div_ceil(FRAGMENT_LEN);
        let count = u16::try_from(count).unwrap_or(u16::MAX);
        for (index, chunk) in (0..count).zip(message.chunks(FRAGMENT_LEN)) {
            self.units.push_back(Unit {
                id,
                fragment: Some((index, count)),
                span: self.store.push(chunk),
                last_sent: None,
                acked: false,
            });
        }
    }

    /// Marks unit `serial` acked and drops acked units from the front.
    pub(crate) fn ack(&mut self, serial: u64) {
        let Some(unit) = self.unit_mut(serial) else {
            return;
        };
        if unit.acked {
            return;
        }
        unit.acked = true;
        let len = unit.span.len();
        self.bytes = self.bytes.saturating_sub(len);
        while let Some(front) = self.units.front().filter(|u| u.acked) {
            self.store.release_through(front.span);
            self.units.pop_front();
            self.first_serial += 1;
            self.unsent = self.unsent.saturating_sub(1);
        }
        self.tidy();
    }

    /// The bytes of `unit`, a unit of this channel.
    pub(crate) fn bytes_of(&self, unit: &Unit) -> &[u8] {
        self.store.get(unit.span)
    }

    /// The packet that last carried unit `serial` was given up on: unless
    /// the unit has been acked, it is due now. Its entry in the resend
    /// queue goes stale, so it is not also resent at its timeout.
    pub(crate) fn lost(&mut self, serial: u64) {
        let Some(unit) = self.unit_mut(serial) else {
            return;
        };
        if unit.acked || unit.last_sent.is_none() {
            return;
        }
        unit.last_sent = None;
        self.resend_now.push_back(serial);
        self.tidy();
    }

    /// Units due now: those given up on ([`ReliableSend::lost`]), each
    /// unacked unit sent `rto` or more ago, oldest send first, then the
    /// never-sent ones in order; with their serials. Walks only the due
    /// entries of the resend queues, never all in flight.
    pub(crate) fn due(
        &self,
        now: Instant,
        rto: Duration,
    ) -> impl Iterator<Item = (u64, &Unit)> + '_ {
        let lost = self.resend_now.iter().filter_map(move |&serial| {
            let unit = self.unit(serial)?;
            (!unit.acked && unit.last_sent.is_none()).then_some((serial, unit))
        });
        let cutoff = now.checked_sub(rto);
        let resends = self
            .sends
            .iter()
            .take_while(move |(at, _)| cutoff.is_some_and(|c| *at <= c))
            .filter_map(move |&(at, serial)| {
                let unit = self.unit(serial)?;
                (!unit.acked && unit.last_sent == Some(at)).then_some((serial, unit))
            });
        let fresh = self
            .units
            .iter()
            .enumerate()
            .skip(self.unsent)
            .map(|(i, u)| (self.first_serial + i as u64, u));
        lost.chain(resends).chain(fresh)
    }

    /// Whether the entry `(at, serial)` of the resend queue still counts.
    fn is_live(&self, at: Instant, serial: u64) -> bool {
        self.unit(serial)
            .is_some_and(|u| !u.acked && u.last_sent == Some(at))
    }

    /// Drops stale entries from the front of the resend queues.
    fn tidy(&mut self) {
        while let Some(&(at, serial)) = self.sends.front() {
            if self.is_live(at, serial) {
                break;
            }
            self.sends.pop_front();
        }
        while let Some(&serial) = self.resend_now.front() {
            if self
                .unit(serial)
                .is_some_and(|u| !u.acked && u.last_sent.is_none())
            {
                break;
            }
            self.resend_now.pop_front();
        }
    }

    /// The unit with serial number `serial`, if still held, to change.
    fn unit_mut(&mut self, serial: u64) -> Option<&mut Unit> {
        let i = usize::try_from(serial.checked_sub(self.first_serial)?).ok()?;
        self.units.get_mut(i)
    }

    /// The unit with serial number `serial`, if still held.
    pub(crate) fn unit(&self, serial: u64) -> Option<&Unit> {
        let i = usize::try_from(serial.checked_sub(self.first_serial)?).ok()?;
        self.units.get(i)
    }

    /// Notes that unit `serial` went out at `now`.
    pub(crate) fn mark_sent(&mut self, serial: u64, now: Instant) {
        let Some(i) = serial
            .checked_sub(self.first_serial)
            .and_then(|i| usize::try_from(i).ok())
        else {
            return;
        };
        let Some(unit) = self.units.get_mut(i) else {
            return;
        };
        if i < self.unsent {
            self.resends += 1;
        }
        unit.last_sent = Some(now);
        if i >= self.unsent {
            self.unsent = i + 1;
        }
        self.sends.push_back((now, serial));
        self.tidy();
    }

    /// Whether a unit is due now (see [`ReliableSend::due`]).
    pub(crate) fn has_due(&self, now: Instant, rto: Duration) -> bool {
        !self.resend_now.is_empty()
            || self.unsent < self.units.len()
            || self.next_resend(rto).is_some_and(|at| at <= now)
    }

    /// When the earliest sent, unacked unit falls due.
    pub(crate) fn next_resend(&self, rto: Duration) -> Option<Instant> {
        // The front is live after every change (see `tidy`).
        self.sends.front().map(|(at, _)| *at + rto)
    }

    /// Whether anything is waiting for an ack or to be sent.
    pub(crate) fn is_idle(&self) -> bool {
        self.units.is_empty()
    }
}
