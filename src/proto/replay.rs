//! The 256-entry replay window (netcode-spec §7), as a bitmap.
//!
//! The reference keeps the last 256 sequences in an array of 256 numbers
//! (2 KiB per connection). This keeps the newest sequence and one bit for
//! each of the 256 before it: the same answers, in 40 bytes.

/// Number of recent sequences the window remembers.
const WINDOW_LEN: u64 = 256;
/// Words of the bitmap.
const WORDS: usize = (WINDOW_LEN / 64) as usize;

/// Rejects packets whose sequence was already received or is too old.
///
/// Check with [`ReplayWindow::is_replay`] before decrypting; call
/// [`ReplayWindow::advance`] only after the packet authenticated, so forged
/// sequences cannot move the window.
#[derive(Clone)]
pub struct ReplayWindow {
    /// The newest sequence received (0 before any).
    most_recent: u64,
    /// Bit `i` (word `i / 64`, bit `i % 64`): sequence `most_recent - i`
    /// was received.
    received: [u64; WORDS],
}

impl std::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("most_recent", &self.most_recent)
            .finish_non_exhaustive()
    }
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayWindow {
    /// An empty window.
    pub const fn new() -> Self {
        Self {
            most_recent: 0,
            received: [0; WORDS],
        }
    }

    /// Whether `sequence` was already received or is older than the window.
    ///
    /// `u64::MAX` always counts as a replay, as in the reference (where it
    /// marks an empty slot): no sender reaches it.
    pub fn is_replay(&self, sequence: u64) -> bool {
        if sequence == u64::MAX {
            return true;
        }
        if sequence > self.most_recent {
            return false;
        }
        let back = self.most_recent - sequence;
        back >= WINDOW_LEN || self.bit(back)
    }

    /// Records `sequence` as received. Only for authenticated packets.
    pub fn advance(&mut self, sequence: u64) {
        if sequence > self.most_recent {
            self.shift(sequence - self.most_recent);
            self.most_recent = sequence;
        }
        let back = self.most_recent - sequence;
        if back < WINDOW_LEN {
            if let Some(word) = self.received.get_mut((back / 64) as usize) {
                *word |= 1 << (back % 64);
            }
        }
    }

    fn bit(&self, back: u64) -> bool {
        self.received
            .get((back / 64) as usize)
            .is_some_and(|word| word & (1 << (back % 64)) != 0)
    }

    /// Moves every bit `by` places back (older), dropping what falls out.
    fn shift(&mut self, by: u64) {
        if by >= WINDOW_LEN {
            self.received = [0; WORDS];
            return;
        }
        let words = (by / 64) as usize;
        let bits = (by % 64) as u32;
        let mut shifted = [0u64; WORDS];
        for (i, slot) in shifted.iter_mut().enumerate() {
            let Some(from) = i.checked_sub(words) else {
                continue;
            };
            let low = self.received.get(from).copied().unwrap_or(0);
            let carry = from
                .checked_sub(1)
                .and_then(|j| self.received.get(j).copied())
                .unwrap_or(0);
            *slot = if bits == 0 {
                low
            } else {
                (low << bits) | (carry >> (64 - bits))
            };
        }
        self.received = shifted;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_new_rejects_seen_and_old() {
        let mut w = ReplayWindow::new();
        assert!(!w.is_replay(0));
        w.advance(0);
        assert!(w.is_replay(0));
        for s in 1..=1000 {
            assert!(!w.is_replay(s));
            w.advance(s);
            assert!(w.is_replay(s));
        }
        // Within the window, unseen sequences are still fresh.
        let mut gap = ReplayWindow::new();
        gap.advance(1000);
        assert!(!gap.is_replay(900));
        assert!(gap.is_replay(744));
        assert!(!gap.is_replay(745));
        assert!(w.is_replay(744));
    }

    #[test]
    fn extreme_sequences_do_not_overflow() {
        let mut w = ReplayWindow::new();
        assert!(w.is_replay(u64::MAX));
        assert!(!w.is_replay(u64::MAX - 1));
        w.advance(u64::MAX - 1);
        assert!(w.is_replay(u64::MAX - 1));
        assert!(w.is_replay(0));
        assert!(w.is_replay(u64::MAX - 257));
        assert!(!w.is_replay(u64::MAX - 256));
    }

    /// The reference's window: the last 256 sequences in an array.
    struct Reference {
        most_recent: u64,
        received: [u64; 256],
    }

    impl Reference {
        fn is_replay(&self, sequence: u64) -> bool {
            if sequence == u64::MAX {
                return true;
            }
            if self.most_recent >= 256 && sequence <= self.most_recent - 256 {
                return true;
            }
            let seen = self.received[(sequence % 256) as usize];
            seen != u64::MAX && seen >= sequence
        }

        fn advance(&mut self, sequence: u64) {
            self.most_recent = self.most_recent.max(sequence);
            self.received[(sequence % 256) as usize] = sequence;
        }
    }

    #[test]
    fn the_bitmap_answers_as_the_reference_array_does() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            state >> 33
        };
        let mut bitmap = ReplayWindow::new();
        let mut reference = Reference {
            most_recent: 0,
            received: [u64::MAX; 256],
        };
        let mut head = 0u64;
        for _ in 0..200_000 {
            // Mostly forward, with jumps, reorders, duplicates and ancient ones.
            let sequence = match next() % 10 {
                0 => head.saturating_sub(next() % 600),
                1 => head + next() % 700,
                2 => head,
                _ => {
                    head += 1;
                    head
                }
            };
            let replay = reference.is_replay(sequence);
            assert_eq!(bitmap.is_replay(sequence), replay, "sequence {sequence}");
            if !replay {
                reference.advance(sequence);
                bitmap.advance(sequence);
                head = head.max(sequence);
            }
        }
    }

    #[test]
    fn a_newer_sequence_in_the_same_slot_is_fresh() {
        let mut w = ReplayWindow::new();
        w.advance(5);
        assert!(!w.is_replay(5 + 256));
        w.advance(5 + 256);
        assert!(w.is_replay(5));
    }
}
