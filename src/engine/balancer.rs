//! Least-loaded placement of new peers across ports.
//!
//! A port's load is its connected peers plus the tokens issued for it and
//! not yet used. Placement takes a snapshot of all loads, picks the least
//! loaded port, and claims it with a compare-and-swap on that port's
//! counter; if another placement got there first, it looks again. So every
//! placement lands on a port that was least loaded in its snapshot, without
//! a lock; a release racing it can make another port emptier before the
//! claim, and the pair is then as if the placement came first (placement is
//! linearizable; `loom-tests/tests/balancer.rs` checks both). Counters
//! never underflow: a release of a port at zero is ignored (and is a bug
//! upstream, caught in debug builds).

// Public only for the loom models (`engine::loom_models`, cfg(loom)).
#![cfg_attr(not(loom), allow(unreachable_pub))]

use crate::sync::{AtomicUsize, Ordering};

/// Load counters, one per port.
#[derive(Debug)]
pub struct Balancer {
    load: Box<[AtomicUsize]>,
}

impl Balancer {
    /// Counters for `ports` ports, all at zero.
    pub fn new(ports: usize) -> Self {
        Self {
            load: (0..ports).map(|_| AtomicUsize::new(0)).collect(),
        }
    }

    /// Adds one to the least-loaded port that `open` allows and returns it
    /// (the lowest index on a tie); `None` when it allows none.
    pub fn place_among(&self, open: impl Fn(usize) -> bool) -> Option<usize> {
        loop {
            let mut best: Option<(usize, usize)> = None;
            for (port, counter) in self.load.iter().enumerate() {
                if !open(port) {
                    continue;
                }
                let load = counter.load(Ordering::Acquire);
                if best.is_none_or(|(_, least)| load < least) {
                    best = Some((port, load));
                }
            }
            let (port, load) = best?;
            let claimed = self.load.get(port).is_some_and(|c| {
                c.compare_exchange(load, load + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            });
            if claimed {
                return Some(port);
            }
        }
    }

    /// Adds one to `port` (a peer arrived there without a reservation).
    pub fn add(&self, port: usize) {
        if let Some(c) = self.load.get(port) {
            c.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Removes one from `port` (a peer left, or a reservation lapsed).
    pub fn release(&self, port: usize) {
        if let Some(c) = self.load.get(port) {
            let released =
                c.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
            debug_assert!(released.is_ok(), "released port {port} at zero load");
        }
    }

    /// The current load of each port.
    pub fn loads(&self) -> Vec<usize> {
        self.load
            .iter()
            .map(|c| c.load(Ordering::Acquire))
            .collect()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn places_evenly_and_prefers_emptier_ports() {
        let b = Balancer::new(4);
        let placed: Vec<usize> = (0..8).map(|_| b.place_among(|_| true).unwrap()).collect();
        assert_eq!(placed, [0, 1, 2, 3, 0, 1, 2, 3]);
        b.release(2);
        b.release(2);
        assert_eq!(b.place_among(|_| true).unwrap(), 2);
        assert_eq!(b.loads(), [2, 2, 1, 2]);
    }

    #[test]
    fn concurrent_placement_stays_within_one() {
        let b = std::sync::Arc::new(Balancer::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || {
                    for _ in 0..250 {
                        b.place_among(|_| true).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let loads = b.loads();
        assert_eq!(loads.iter().sum::<usize>(), 1000);
        assert!(
            loads.iter().max().unwrap() - loads.iter().min().unwrap() <= 1,
            "{loads:?}"
        );
    }
}
