//! The 256-entry replay window (netcode-spec §7).

/// Number of recent sequences the window remembers.
const WINDOW_LEN: usize = 256;
const EMPTY: u64 = u64::MAX;

/// Rejects packets whose sequence was already received or is too old.
///
/// Check with [`ReplayWindow::is_replay`] before decrypting; call
/// [`ReplayWindow::advance`] only after the packet authenticated, so forged
/// sequences cannot move the window.
#[derive(Clone)]
pub struct ReplayWindow {
    most_recent: u64,
    received: [u64; WINDOW_LEN],
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
            received: [EMPTY; WINDOW_LEN],
        }
    }

    /// Whether `sequence` was already received or is older than the window.
    ///
    /// `u64::MAX` is the empty-slot marker, so it always counts as a replay:
    /// no sender reaches it, and accepting it once would accept it forever.
    pub fn is_replay(&self, sequence: u64) -> bool {
        if sequence == EMPTY {
            return true;
        }
        // Subtract from most_recent rather than add to sequence: an
        // unauthenticated sequence near u64::MAX must not overflow.
        if self.most_recent >= WINDOW_LEN as u64 && sequence <= self.most_recent - WINDOW_LEN as u64
        {
            return true;
        }
        match self.received.get(slot(sequence)) {
            Some(&EMPTY) | None => false,
            Some(&seen) => seen >= sequence,
        }
    }

    /// Records `sequence` as received. Only for authenticated packets.
    pub fn advance(&mut self, sequence: u64) {
        self.most_recent = self.most_recent.max(sequence);
        if let Some(entry) = self.received.get_mut(slot(sequence)) {
            *entry = sequence;
        }
    }
}

const fn slot(sequence: u64) -> usize {
    (sequence % WINDOW_LEN as u64) as usize
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

    #[test]
    fn a_newer_sequence_in_the_same_slot_is_fresh() {
        let mut w = ReplayWindow::new();
        w.advance(5);
        assert!(!w.is_replay(5 + 256));
        w.advance(5 + 256);
        assert!(w.is_replay(5));
    }
}
