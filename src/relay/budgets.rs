//! Each peer's matchmaking request budget, kept on the peer's own port.
//!
//! A token bucket per peer: `request_burst` tokens, refilled at
//! `requests_per_sec`. Every control request costs one; a lobby code that
//! names no lobby costs [`FAILED_JOIN_COST`] more, so guessing codes is
//! slow. Refused requests are dropped before they reach the matchmaker's
//! lock, so a flooding peer costs its own port a map lookup and nothing
//! else; it hears `RateLimited` once per run of refusals.

use super::config::RelayConfig;
use super::matchmaker::Outbound;
use super::protocol::{RelayError, RelayMessage};
use crate::engine::PeerId;
use ahash::RandomState;
use std::collections::HashMap;
use std::time::Instant;

/// What a join with a code that names no open lobby costs in the request
/// budget, on top of the request itself.
pub(crate) const FAILED_JOIN_COST: u32 = 5;

#[derive(Debug)]
struct Budget {
    tokens: u32,
    refilled: Instant,
    /// Whether the peer was told it is rate limited since its last success.
    told: bool,
}

/// The request budgets of one port's peers.
#[derive(Debug)]
pub(crate) struct RequestBudgets {
    per_sec: u32,
    burst: u32,
    budgets: HashMap<PeerId, Budget, RandomState>,
}

impl RequestBudgets {
    pub(crate) fn new(config: &RelayConfig) -> Self {
        Self {
            per_sec: config.requests_per_sec,
            burst: config.request_burst,
            budgets: HashMap::default(),
        }
    }

    /// Takes `cost` tokens from `peer`'s budget. Refused requests are
    /// dropped; the first refusal after a success queues one
    /// `RateLimited` error for the peer, later ones are silent.
    pub(crate) fn admit(
        &mut self,
        peer: PeerId,
        now: Instant,
        cost: u32,
        out: &mut Vec<Outbound>,
    ) -> bool {
        let burst = self.burst;
        let budget = self.budgets.entry(peer).or_insert(Budget {
            tokens: burst,
            refilled: now,
            told: false,
        });
        let elapsed = now.saturating_duration_since(budget.refilled);
        let refill = u32::try_from(elapsed.as_millis() * u128::from(self.per_sec) / 1000)
            .unwrap_or(u32::MAX);
        if refill > 0 {
            budget.tokens = budget.tokens.saturating_add(refill).min(burst);
            budget.refilled = now;
        }
        if budget.tokens >= cost {
            budget.tokens -= cost;
            budget.told = false;
            return true;
        }
        if !budget.told {
            budget.told = true;
            out.push((peer, RelayMessage::Error(RelayError::RateLimited).to_vec()));
        }
        false
    }

    /// Charges `peer` extra for a request that looked like guessing.
    pub(crate) fn charge(&mut self, peer: PeerId, cost: u32) {
        if let Some(budget) = self.budgets.get_mut(&peer) {
            budget.tokens = budget.tokens.saturating_sub(cost);
        }
    }

    /// `peer`'s connection ended: its budget goes with it.
    pub(crate) fn forget(&mut self, peer: PeerId) {
        self.budgets.remove(&peer);
    }

    /// Peers with a budget.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.budgets.len()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    fn peer(n: u32) -> PeerId {
        PeerId::new(0, n, 1)
    }

    #[test]
    fn a_flood_of_requests_is_cut_off_and_told_once() {
        let mut budgets = RequestBudgets::new(&RelayConfig::default().requests_per_sec(5, 20));
        let now = Instant::now();
        let mut out = Vec::new();
        let admitted = (0..100)
            .filter(|_| budgets.admit(peer(1), now, 1, &mut out))
            .count();
        assert_eq!(admitted, 20);
        let told: Vec<_> = out
            .iter()
            .map(|(to, bytes)| (*to, RelayMessage::parse(bytes).unwrap()))
            .collect();
        assert_eq!(
            told,
            [(peer(1), RelayMessage::Error(RelayError::RateLimited))]
        );
        // A second later, five more.
        let later = now + Duration::from_secs(1);
        let admitted = (0..100)
            .filter(|_| budgets.admit(peer(1), later, 1, &mut out))
            .count();
        assert_eq!(admitted, 5);
        budgets.forget(peer(1));
        assert_eq!(budgets.len(), 0);
    }
}
