//! Acks: which packets we received (to tell the peer), which we sent and
//! what they carried (to learn what arrived), and the RTT that follows.

use crate::wire::frame_body::Ack;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Packets a [`Ack`] covers: the largest and the 32 before it.
const ACK_SPAN: u64 = 33;
/// Most sent packets remembered; older ones count as lost.
const MAX_SENT_RECORDS: usize = 4096;
/// Smallest and largest resend timeout.
const MIN_RTO: Duration = Duration::from_millis(20);
const MAX_RTO: Duration = Duration::from_secs(2);
/// Resend timeout before the first RTT sample.
const INITIAL_RTO: Duration = Duration::from_millis(200);
/// How long an owed ack may wait for a packet with data to ride on before
/// it goes alone. Acking at once costs a datagram per packet received
/// (the most common packet a relay sent); waiting lets most ride along.
pub(crate) const ACK_DELAY: Duration = Duration::from_millis(5);

/// Most acks of older packets kept for the next packet, besides the
/// newest: with it they reach 297 packets back. A burst longer than that
/// between two acks has its oldest packets counted lost and resent.
pub(crate) const MAX_OLDER_ACKS: usize = 8;

/// The packets received from the peer, for the acks we send.
#[derive(Debug, Default)]
pub(crate) struct Received {
    largest: Option<u64>,
    bits: u32,
    /// When the oldest packet with reliable data not yet acked arrived.
    owed_since: Option<Instant>,
    /// The oldest packet with reliable data received since the last ack
    /// went out.
    unacked_from: Option<u64>,
    /// Acks of packets with reliable data that the newest ack no longer
    /// reaches (more than 33 arrived since the last ack went out), oldest
    /// first: written before it, so a burst is acked whole.
    older: OlderAcks,
}

/// The acks [`Received`] keeps for the next packet, oldest first, in a
/// fixed array: keeping one never allocates (the port threads allocate
/// nothing per message). When it is full the oldest goes.
#[derive(Debug)]
struct OlderAcks {
    acks: [Ack; MAX_OLDER_ACKS],
    len: usize,
}

impl Default for OlderAcks {
    fn default() -> Self {
        let none = Ack {
            largest: 0,
            bits: 0,
        };
        Self {
            acks: [none; MAX_OLDER_ACKS],
            len: 0,
        }
    }
}

impl OlderAcks {
    fn push(&mut self, ack: Ack) {
        if self.len == MAX_OLDER_ACKS {
            self.acks.copy_within(1.., 0);
            self.len -= 1;
        }
        if let Some(slot) = self.acks.get_mut(self.len) {
            *slot = ack;
            self.len += 1;
        }
    }

    const fn clear(&mut self) {
        self.len = 0;
    }

    fn iter(&self) -> impl Iterator<Item = Ack> + '_ {
        self.acks.iter().take(self.len).copied()
    }
}

impl Received {
    /// Notes packet `number`, received at `now`, as received; an ack is
    /// owed if it carried reliable data (`eliciting`).
    pub(crate) fn record(&mut self, number: u64, eliciting: bool, now: Instant) {
        if eliciting && self.owed_since.is_none() {
            self.owed_since = Some(now);
        }
        let Some(largest) = self.largest else {
            self.largest = Some(number);
            if eliciting {
                self.unacked_from = Some(number);
            }
            return;
        };
        if number > largest {
            // The newest ack will reach back to `number - 32`: keep one for
            // what it leaves behind unacked.
            let reach = number.saturating_sub(ACK_SPAN - 1);
            if self.unacked_from.is_some_and(|from| from < reach) {
                self.older.push(Ack {
                    largest: largest as u32,
                    bits: self.bits,
                });
                self.unacked_from = None;
            }
        }
        if eliciting && number + ACK_SPAN > largest {
            self.unacked_from = Some(self.unacked_from.map_or(number, |from| from.min(number)));
        }
        if number > largest {
            let shift = number - largest;
            self.bits = if shift >= 32 {
                0
            } else {
                (self.bits << shift) | (1 << (shift - 1))
            };
            self.largest = Some(number);
        } else if number < largest && largest - number <= 32 {
            self.bits |= 1 << (largest - number - 1);
        }
    }

    /// Whether an ack is owed: reliable data arrived since the last one sent.
    pub(crate) const fn is_ack_owed(&self) -> bool {
        self.owed_since.is_some()
    }

    /// When the owed ack must go, alone if nothing else does.
    pub(crate) fn ack_due(&self) -> Option<Instant> {
        self.owed_since.map(|since| since + ACK_DELAY)
    }

    /// Notes that an ack went out.
    pub(crate) fn acked(&mut self) {
        self.owed_since = None;
        self.unacked_from = None;
        self.older.clear();
    }

    /// Acks of packets the newest ack no longer reaches, oldest first:
    /// written before it.
    pub(crate) fn older_acks(&self) -> impl Iterator<Item = Ack> + '_ {
        self.older.iter()
    }

    /// The ack to send, if anything was ever received.
    pub(crate) fn ack(&self) -> Option<Ack> {
        let largest = self.largest?;
        Some(Ack {
            largest: largest as u32,
            bits: self.bits,
        })
    }
}

/// Where a unit of reliable data sent in a packet lives: its channel and
/// its serial number in that channel's send queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnitRef {
    pub(crate) channel: u16,
    pub(crate) serial: u64,
}

#[derive(Debug)]
struct SentRecord {
    number: u64,
    sent_at: Instant,
    /// Where its units start in [`Sent::units`], counted over all units
    /// ever recorded.
    first_unit: u64,
    unit_count: u32,
    acked: bool,
}

/// What the acks of one incoming packet acknowledged.
#[derive(Debug, Default)]
pub(crate) struct Acked {
    pub(crate) units: Vec<UnitRef>,
    pub(crate) packets: u64,
}

/// Why an ack was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AckOfUnsent;

/// Packets sent and not yet acked or given up on, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    records: VecDeque<SentRecord>,
    /// The units of every record, back to back in record order: one queue
    /// that keeps its capacity, so recording a packet does not allocate.
    units: VecDeque<UnitRef>,
    /// How many units were recorded before `units[0]`.
    units_base: u64,
    /// Units of records given up on unacked since the owner last took them
    /// ([`Sent::take_lost`]): resent at once rather than at their timeout.
    lost_units: Vec<UnitRef>,
    /// The largest packet number written so far.
    largest_sent: Option<u64>,
    pub(crate) lost: u64,
}

impl Sent {
    /// Records packet `number`, sent at `now` with `units`.
    pub(crate) fn record(&mut self, number: u64, now: Instant, units: &[UnitRef]) {
        self.largest_sent = Some(self.largest_sent.map_or(number, |l| l.max(number)));
        if self.records.len() >= MAX_SENT_RECORDS {
            self.retire_front();
        }
        let first_unit = self.units_base + self.units.len() as u64;
        self.units.extend(units.iter().copied());
        self.records.push_back(SentRecord {
            number,
            sent_at: now,
            first_unit,
            unit_count: u32::try_from(units.len()).unwrap_or(u32::MAX),
            acked: false,
        });
    }

    /// Marks what `ack` covers as acked; units it carried go into `into`.
    /// Returns an RTT sample if the ack's largest was newly acked.
    ///
    /// # Errors
    ///
    /// [`AckOfUnsent`] when the ack names a packet never sent.
    pub(crate) fn handle_ack(
        &mut self,
        ack: Ack,
        now: Instant,
        into: &mut Acked,
    ) -> Result<Option<Duration>, AckOfUnsent> {
        let largest_sent = self.largest_sent.ok_or(AckOfUnsent)?;
        // The full number whose low 32 bits the ack carries, at or below largest_sent.
        let mut largest = (largest_sent & !0xffff_ffff) | u64::from(ack.largest);
        if largest > largest_sent {
            largest = largest.checked_sub(1 << 32).ok_or(AckOfUnsent)?;
        }
        let mut sample = None;
        // Records are in send order, numbers rising: walk back from the
        // newest the ack covers to the oldest within its span.
        let oldest = largest.saturating_sub(ACK_SPAN - 1);
        let mut at = self.records.partition_point(|r| r.number <= largest);
        while let Some(previous) = at.checked_sub(1) {
            at = previous;
            let Some(record) = self.records.get_mut(at) else {
                break;
            };
            if record.number < oldest {
                break;
            }
            let offset = largest - record.number;
            let covered = offset == 0 || ack.bits & (1 << (offset - 1)) != 0;
            if !covered || record.acked {
                continue;
            }
            record.acked = true;
            into.packets += 1;
            if offset == 0 {
                sample = Some(now.saturating_duration_since(record.sent_at));
            }
            // A record's units stay until it retires from the front.
            let held = self.units.len();
            let start = usize::try_from(record.first_unit.saturating_sub(self.units_base))
                .map_or(held, |start| start.min(held));
            let end = start.saturating_add(record.unit_count as usize).min(held);
            into.units.extend(self.units.range(start..end));
        }
        // Records older than the ack's reach can never be acked now.
        let horizon = largest.saturating_sub(ACK_SPAN);
        while self
            .records
            .front()
            .is_some_and(|r| r.acked || r.number < horizon)
        {
            self.retire_front();
        }
        Ok(sample)
    }

    /// Units of packets given up on since the last call (out of the acks'
    /// reach, or past the record limit), for `each`. The packet may well
    /// have arrived and only its ack been crowded out; either way, waiting
    /// for the resend timeout would stall the channel for a whole RTO while
    /// a fast sender fills its window.
    pub(crate) fn take_lost(&mut self, mut each: impl FnMut(UnitRef)) {
        for unit in self.lost_units.drain(..) {
            each(unit);
        }
    }

    fn retire_front(&mut self) {
        if let Some(record) = self.records.pop_front() {
            // Records retire in order, so their units are the queue's front.
            let count = (record.unit_count as usize).min(self.units.len());
            if !record.acked {
                self.lost += 1;
                self.lost_units.extend(self.units.range(..count));
            }
            self.units.drain(..count);
            self.units_base += count as u64;
        }
    }

    /// Packets in flight (sent, not acked, not given up on).
    pub(crate) fn in_flight(&self) -> usize {
        self.records.iter().filter(|r| !r.acked).count()
    }
}

/// Smoothed RTT and the resend timeout (RFC 6298's estimator).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rtt {
    smoothed: Option<Duration>,
    variance: Duration,
    /// The resend timeout the estimates give, kept with them: it is read
    /// for every packet written, and changes only with a sample.
    resend_timeout: Duration,
}

impl Default for Rtt {
    fn default() -> Self {
        Self {
            smoothed: None,
            variance: Duration::ZERO,
            resend_timeout: INITIAL_RTO,
        }
    }
}

impl Rtt {
    pub(crate) fn sample(&mut self, rtt: Duration) {
        match self.smoothed {
            None => {
                self.smoothed = Some(rtt);
                self.variance = rtt / 2;
            }
            Some(smoothed) => {
                let delta = smoothed.abs_diff(rtt);
                self.variance = (self.variance * 3 + delta) / 4;
                self.smoothed = Some((smoothed * 7 + rtt) / 8);
            }
        }
        // The peer may hold its ack for ACK_DELAY (QUIC's PTO adds
        // max_ack_delay the same way), or every delayed ack would look
        // like a loss.
        let smoothed = self.smoothed.unwrap_or_default();
        self.resend_timeout = (smoothed + 4 * self.variance + ACK_DELAY).clamp(MIN_RTO, MAX_RTO);
    }

    /// The smoothed RTT; zero before the first sample.
    pub(crate) fn smoothed(&self) -> Duration {
        self.smoothed.unwrap_or_default()
    }

    /// How long to wait for an ack before resending.
    pub(crate) const fn resend_timeout(&self) -> Duration {
        self.resend_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_packets_become_the_ack_bitmap() {
        let mut received = Received::default();
        assert!(received.ack().is_none());
        let now = crate::proto::tests::epoch();
        for n in [10, 12, 11, 9, 40] {
            received.record(n, true, now);
        }
        assert_eq!(received.ack_due(), Some(now + ACK_DELAY));
        let ack = received.ack().unwrap();
        received.acked();
        assert_eq!(ack.largest, 40);
        // 12 is 28 behind 40: bit 27; 11 bit 28; 10 bit 29; 9 bit 30.
        assert_eq!(ack.bits, 0b1111 << 27);
        assert!(!received.is_ack_owed());
        received.record(80, false, now);
        assert!(!received.is_ack_owed(), "unreliable data owes no ack");
        assert_eq!(received.ack().unwrap().bits, 0, "40 is out of reach of 80");
    }

    #[test]
    fn an_ack_releases_the_units_of_the_packets_it_covers_once() {
        let now = crate::proto::tests::epoch();
        let mut sent = Sent::default();
        let unit = |serial| UnitRef { channel: 0, serial };
        for n in 0..5u64 {
            sent.record(100 + n, now, &[unit(n)]);
        }
        let mut acked = Acked::default();
        // 104 and 102 (bit 1).
        let later = now + Duration::from_millis(30);
        let sample = sent
            .handle_ack(
                Ack {
                    largest: 104,
                    bits: 0b10,
                },
                later,
                &mut acked,
            )
            .unwrap();
        assert_eq!(sample, Some(Duration::from_millis(30)));
        assert_eq!(acked.units, [unit(4), unit(2)]);
        let mut again = Acked::default();
        assert_eq!(
            sent.handle_ack(
                Ack {
                    largest: 104,
                    bits: 0b10
                },
                later,
                &mut again
            ),
            Ok(None)
        );
        assert!(again.units.is_empty());
        assert_eq!(sent.in_flight(), 3);
    }

    #[test]
    fn an_ack_of_a_packet_never_sent_is_refused() {
        let now = crate::proto::tests::epoch();
        let mut sent = Sent::default();
        let mut acked = Acked::default();
        assert_eq!(
            sent.handle_ack(
                Ack {
                    largest: 0,
                    bits: 0
                },
                now,
                &mut acked
            ),
            Err(AckOfUnsent)
        );
        sent.record(5, now, &[]);
        // 6 is not sent; its low bits map to 2^32 - 2^32 + 6 > 5, and below 0.
        assert_eq!(
            sent.handle_ack(
                Ack {
                    largest: 6,
                    bits: 0
                },
                now,
                &mut acked
            ),
            Err(AckOfUnsent)
        );
    }

    #[test]
    fn a_long_burst_keeps_the_acks_it_outgrew_up_to_eight() {
        let now = crate::proto::tests::epoch();
        let mut received = Received::default();
        for number in 0..400 {
            received.record(number, true, now);
        }
        let older: Vec<Ack> = received.older_acks().collect();
        assert_eq!(older.len(), MAX_OLDER_ACKS);
        // Oldest first, each a window of 33 right below the next, and no
        // gap between the newest kept and the current ack's reach.
        let largest: Vec<u32> = older.iter().map(|a| a.largest).collect();
        assert!(largest.windows(2).all(|w| w[1] - w[0] == 33), "{largest:?}");
        assert!(older.iter().all(|a| a.bits == u32::MAX));
        let current = received.ack().unwrap();
        assert!(current.largest - 32 <= largest[MAX_OLDER_ACKS - 1] + 1);
        received.acked();
        assert_eq!(received.older_acks().count(), 0);
    }

    #[test]
    fn packets_out_of_the_acks_reach_count_as_lost() {
        let now = crate::proto::tests::epoch();
        let mut sent = Sent::default();
        let unit = |serial| UnitRef { channel: 0, serial };
        for n in 0..100 {
            sent.record(n, now, &[unit(n)]);
        }
        let mut acked = Acked::default();
        sent.handle_ack(
            Ack {
                largest: 99,
                bits: 0,
            },
            now,
            &mut acked,
        )
        .unwrap();
        assert_eq!(sent.lost, 66, "0..66 are beyond 99 - 33");
        assert_eq!(acked.units, [unit(99)]);
        assert_eq!(
            sent.units.len(),
            34,
            "the units of the 66 retired records are gone"
        );
    }

    #[test]
    fn the_resend_timeout_follows_the_rtt() {
        let mut rtt = Rtt::default();
        assert_eq!(rtt.resend_timeout(), INITIAL_RTO);
        for _ in 0..50 {
            rtt.sample(Duration::from_millis(100));
        }
        let rto = rtt.resend_timeout();
        assert!(
            rto >= Duration::from_millis(100) && rto < Duration::from_millis(130),
            "{rto:?}"
        );
        rtt.sample(Duration::from_secs(30));
        assert_eq!(rtt.resend_timeout(), MAX_RTO);
    }
}
