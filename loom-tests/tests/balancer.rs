//! loom models of `Balancer`, the least-loaded placement of new peers.
//!
//! Placement snapshots every port's load (one atomic load each, not an
//! atomic snapshot), picks the least loaded, and claims it with a
//! compare-and-swap from the load it saw. The models check that this
//! lock-free loop gives the answers a sequential balancer would: nothing is
//! lost, ports stay within one of each other when only placements run, and
//! releases racing placements never wrap a counter.
//!
//! Sizes are the smallest that can show each failure: two ports, two or
//! three threads, one operation each.

#![cfg(loom)]

use berth::engine::loom_models::Balancer;
use berth_loom_tests::check;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Notify};
use loom::thread::{self, JoinHandle};

/// Preemption bound for the three- and four-thread models. Unbounded, they
/// explore up to 1.1 million interleavings in minutes (they passed so when
/// written); bugs of this kind need few preemptions, and three keeps each
/// model to seconds. `LOOM_MAX_PREEMPTIONS` overrides it.
const BOUND: Option<usize> = Some(3);

/// Spawns a thread that places one peer.
///
/// Every racing operation runs on a spawned thread, never on the model's
/// main thread: loom 0.7 did not explore the orders in which another
/// thread's write lands before a main-thread load that ran first (one
/// interleaving instead of 44 for `release_racing_place_is_linearizable`).
fn spawn_place(balancer: &Arc<Balancer>) -> JoinHandle<usize> {
    let balancer = Arc::clone(balancer);
    thread::spawn(move || balancer.place_among(|_| true).unwrap())
}

/// Two placements racing on two empty ports land on different ports.
///
/// Both may snapshot `[0, 0]` and pick port 0; only one compare-and-swap
/// from 0 succeeds, and the loser's retry must see port 0 taken (a failed
/// CAS reads the latest value, and later loads cannot go back) and move to
/// port 1. If the claim were a plain `fetch_add`, both would land on port 0
/// and one port would carry twice its share.
#[test]
fn two_placements_take_both_ports() {
    check("two_placements_take_both_ports", None, || {
        let balancer = Arc::new(Balancer::new(2));
        let placers: Vec<_> = (0..2).map(|_| spawn_place(&balancer)).collect();
        let ports: Vec<usize> = placers.into_iter().map(|t| t.join().unwrap()).collect();
        assert_ne!(ports[0], ports[1], "both placements took port {}", ports[0]);
        assert_eq!(balancer.loads(), [1, 1]);
    });
}

/// Three placements racing on two empty ports end at exactly `[2, 1]`.
///
/// That is what any sequential order gives (ties go to the lowest index),
/// so the loads sum to the number of placements and differ by at most one.
/// Port 1 could only reach 2 through a claim that saw port 0 above 1, which
/// would need a fourth placement: the check catches a claim that lands on a
/// port that was not least loaded when it was read, and any lost update.
#[test]
fn three_placements_stay_within_one() {
    check("three_placements_stay_within_one", BOUND, || {
        let balancer = Arc::new(Balancer::new(2));
        let placers: Vec<_> = (0..3).map(|_| spawn_place(&balancer)).collect();
        let mut ports: Vec<usize> = placers.into_iter().map(|t| t.join().unwrap()).collect();
        ports.sort_unstable();
        assert_eq!(ports, [0, 0, 1], "placements went to {ports:?}");
        assert_eq!(balancer.loads(), [2, 1]);
    });
}

/// A release paired with an earlier add, racing two placements, never wraps
/// a counter, and every operation counts.
///
/// Port 0 starts at 1 (the add, before the threads start). Each sequential
/// order of {release port 0, place, place} ends at `[1, 1]`, so the
/// concurrent run must too: a release that hit zero (and was dropped), a
/// counter that wrapped to `usize::MAX`, or a lost increment all show up as
/// another final state.
#[test]
fn release_and_place_never_underflow() {
    check("release_and_place_never_underflow", BOUND, || {
        let balancer = Arc::new(Balancer::new(2));
        balancer.add(0);
        let releaser = {
            let balancer = Arc::clone(&balancer);
            thread::spawn(move || balancer.release(0))
        };
        let placers = [spawn_place(&balancer), spawn_place(&balancer)];
        releaser.join().unwrap();
        let [mine, theirs] = placers.map(|t| t.join().unwrap());
        let loads = balancer.loads();
        assert!(
            loads.iter().all(|&n| n <= 2),
            "a counter wrapped: {loads:?}"
        );
        assert_eq!(loads, [1, 1], "placed on {mine} and {theirs}");
        assert_ne!(mine, theirs);
    });
}

/// A placement that overlaps a release ends in a state a sequential order
/// of the two produces.
///
/// From `[1, 1]`, place ∥ release(port 1) may end at `[1, 1]` (release
/// first: the placement sees port 1 emptier) or `[2, 0]` (placement first,
/// on the tie, then the release). Both are fine: the operations overlap, so
/// either order is a valid linearization. What must not happen is a lost
/// update, or final loads that disagree with the port the placement chose.
///
/// Note: in the `[2, 0]` run the release can complete between the
/// placement's snapshot and its compare-and-swap, so at the instant of the
/// claim port 0 (load 1) was not least loaded (port 1 was at 0). The
/// module doc of `balancer.rs` ("every placement lands on a port that was
/// least loaded at the moment it was claimed") holds only while no release
/// runs concurrently; with releases the guarantee is linearizability.
#[test]
fn release_racing_place_is_linearizable() {
    check("release_racing_place_is_linearizable", None, || {
        let balancer = Arc::new(Balancer::new(2));
        balancer.add(0);
        balancer.add(1);
        let releaser = {
            let balancer = Arc::clone(&balancer);
            thread::spawn(move || balancer.release(1))
        };
        let placer = spawn_place(&balancer);
        releaser.join().unwrap();
        let port = placer.join().unwrap();
        let loads = balancer.loads();
        match port {
            0 => assert_eq!(loads, [2, 0]),
            1 => assert_eq!(loads, [1, 1]),
            _ => panic!("placed on port {port} of 2"),
        }
    });
}

/// A reservation added on one thread and released on another, racing a
/// placement, leaves the counts right.
///
/// This is the issuer's pattern: a token is issued (add) on the handle's
/// thread and lapses or is used (release) on a port thread, ordered by a
/// hand-off (here a flag with Release/Acquire and a `Notify`; in berth the
/// token travels through the network and the mailbox). Port 0 starts at 1.
/// The placement sees port 1 at 0 or 1: at 0 it goes there (`[1, 1]`), at
/// 1 it ties and goes to port 0 (`[2, 0]`). Any other state means the
/// release hit zero and was dropped, or an update was lost.
#[test]
fn add_and_release_on_different_threads() {
    check("add_and_release_on_different_threads", BOUND, || {
        let balancer = Arc::new(Balancer::new(2));
        balancer.add(0);
        let added = Arc::new(AtomicBool::new(false));
        let handoff = Arc::new(Notify::new());
        let adder = {
            let (balancer, added, handoff) = (balancer.clone(), added.clone(), handoff.clone());
            thread::spawn(move || {
                balancer.add(1);
                added.store(true, Ordering::Release);
                handoff.notify();
            })
        };
        let releaser = {
            let balancer = Arc::clone(&balancer);
            thread::spawn(move || {
                while !added.load(Ordering::Acquire) {
                    handoff.wait();
                }
                balancer.release(1);
            })
        };
        let placer = spawn_place(&balancer);
        adder.join().unwrap();
        releaser.join().unwrap();
        let port = placer.join().unwrap();
        let loads = balancer.loads();
        match port {
            0 => assert_eq!(loads, [2, 0]),
            1 => assert_eq!(loads, [1, 1]),
            _ => panic!("placed on port {port} of 2"),
        }
    });
}
