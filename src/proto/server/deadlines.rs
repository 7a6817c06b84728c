//! When each session of a shard next needs its channels written: a per-slot
//! earliest deadline, with the due slots found in O(log n) each rather than
//! by scanning every slot.
//!
//! A min-heap of `(deadline, slot)` holds at least each slot's earliest
//! deadline; entries a slot no longer wants (it was rescheduled earlier, or
//! cleared) stay in the heap and are skipped when they surface. The heap is
//! rebuilt from the per-slot table when stale entries would outnumber live
//! ones, so it stays within a few entries per slot.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// Per-slot deadlines of one shard.
#[derive(Debug)]
pub(crate) struct Deadlines {
    /// Each slot's earliest wanted deadline; `None` when it wants none.
    wanted: Vec<Option<Instant>>,
    /// Every wanted deadline, and possibly stale ones.
    heap: BinaryHeap<Reverse<(Instant, u32)>>,
}

impl Deadlines {
    /// No deadlines, for `slots` slots.
    pub(crate) fn new(slots: usize) -> Self {
        Self {
            wanted: vec![None; slots],
            heap: BinaryHeap::new(),
        }
    }

    /// `slot` wants attention no later than `at`. A later deadline than
    /// one it already has changes nothing: the earlier one is served, and
    /// the slot then tells its next one.
    pub(crate) fn schedule(&mut self, slot: u32, at: Instant) {
        let Some(wanted) = self.wanted.get_mut(slot as usize) else {
            return;
        };
        if wanted.is_some_and(|current| current <= at) {
            return;
        }
        *wanted = Some(at);
        self.heap.push(Reverse((at, slot)));
        if self.heap.len() > 2 * self.wanted.len() + 16 {
            self.rebuild();
        }
    }

    /// `slot` wants nothing (its peer left).
    pub(crate) fn clear(&mut self, slot: u32) {
        if let Some(wanted) = self.wanted.get_mut(slot as usize) {
            *wanted = None;
        }
    }

    /// A slot whose deadline is at or before `now`, no longer scheduled.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<u32> {
        while let Some(&Reverse((at, slot))) = self.heap.peek() {
            if at > now {
                return None;
            }
            self.heap.pop();
            if let Some(wanted) = self.wanted.get_mut(slot as usize) {
                if *wanted == Some(at) {
                    *wanted = None;
                    return Some(slot);
                }
            }
        }
        None
    }

    /// The earliest deadline of any slot.
    pub(crate) fn next(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, slot))) = self.heap.peek() {
            if self.wanted.get(slot as usize) == Some(&Some(at)) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// `slot` wants attention at `at` (or not at all), whatever it wanted
    /// before, earlier or later: after its work was done, its next deadline.
    pub(crate) fn reschedule(&mut self, slot: u32, at: Option<Instant>) {
        let Some(wanted) = self.wanted.get_mut(slot as usize) else {
            return;
        };
        if *wanted == at {
            return;
        }
        *wanted = at;
        if let Some(at) = at {
            self.heap.push(Reverse((at, slot)));
            if self.heap.len() > 2 * self.wanted.len() + 16 {
                self.rebuild();
            }
        }
    }

    /// Drops every stale entry, in place: the heap keeps its capacity, so
    /// a port thread allocates nothing here in steady state.
    fn rebuild(&mut self) {
        let wanted = &self.wanted;
        self.heap
            .retain(|Reverse((at, slot))| wanted.get(*slot as usize) == Some(&Some(*at)));
    }
}

#[cfg(test)]
mod tests {
    use super::Deadlines;
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn due_slots_come_out_earliest_first_and_once() {
        let t = crate::proto::tests::epoch();
        let mut d = Deadlines::new(8);
        d.schedule(3, t + ms(5));
        d.schedule(1, t + ms(2));
        d.schedule(6, t + ms(9));
        assert_eq!(d.next(), Some(t + ms(2)));
        assert_eq!(d.pop_due(t + ms(5)), Some(1));
        assert_eq!(d.pop_due(t + ms(5)), Some(3));
        assert_eq!(d.pop_due(t + ms(5)), None);
        assert_eq!(d.next(), Some(t + ms(9)));
    }

    #[test]
    fn the_earlier_deadline_wins_and_a_later_one_is_ignored() {
        let t = crate::proto::tests::epoch();
        let mut d = Deadlines::new(2);
        d.schedule(0, t + ms(10));
        d.schedule(0, t + ms(4));
        d.schedule(0, t + ms(7));
        assert_eq!(d.next(), Some(t + ms(4)));
        assert_eq!(d.pop_due(t + ms(20)), Some(0));
        // The stale 10 ms entry does not bring the slot back.
        assert_eq!(d.pop_due(t + ms(20)), None);
        assert_eq!(d.next(), None);
    }

    #[test]
    fn a_cleared_slot_is_never_due() {
        let t = crate::proto::tests::epoch();
        let mut d = Deadlines::new(2);
        d.schedule(1, t + ms(1));
        d.clear(1);
        assert_eq!(d.next(), None);
        assert_eq!(d.pop_due(t + ms(5)), None);
        d.schedule(7, t); // out of range: ignored
        assert_eq!(d.next(), None);
    }

    #[test]
    fn stale_entries_stay_bounded() {
        let t = crate::proto::tests::epoch();
        let mut d = Deadlines::new(4);
        for i in 0..10_000u64 {
            // Ever earlier: each pushes, the previous goes stale.
            d.schedule((i % 4) as u32, t + ms(1_000_000 - i));
        }
        assert!(d.heap.len() <= 2 * 4 + 16 + 1, "{}", d.heap.len());
        let mut due = Vec::new();
        while let Some(slot) = d.pop_due(t + ms(2_000_000)) {
            due.push(slot);
        }
        due.sort_unstable();
        assert_eq!(due, vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_rescheduled_slot_is_due_at_its_new_deadline_only() {
        let t = crate::proto::tests::epoch();
        let mut d = Deadlines::new(2);
        d.schedule(0, t + ms(5));
        // Its work was done early; the next deadline is later.
        d.reschedule(0, Some(t + ms(50)));
        assert_eq!(d.pop_due(t + ms(10)), None, "woken at the old deadline");
        assert_eq!(d.next(), Some(t + ms(50)));
        d.reschedule(0, None);
        assert_eq!(d.pop_due(t + ms(100)), None);
        // Back and forth many times: the heap stays within its bound, and
        // rebuilding it keeps its capacity.
        for i in 0..10_000u64 {
            d.reschedule((i % 2) as u32, Some(t + ms(1 + i % 97)));
        }
        let capacity = d.heap.capacity();
        for i in 0..10_000u64 {
            d.reschedule((i % 2) as u32, Some(t + ms(1 + i % 89)));
        }
        assert!(d.heap.len() <= 2 * 2 + 16 + 1, "{}", d.heap.len());
        assert_eq!(d.heap.capacity(), capacity, "a rebuild reallocated");
    }
}
