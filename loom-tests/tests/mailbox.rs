//! loom models of `Mailbox`, the bounded queue into a port thread.
//!
//! A push wakes the port only when no wake is pending; the port clears the
//! pending flag before it drains. The risk in that saving is a lost
//! wake-up: a push that sees the flag still set skips its wake, and if the
//! port had already finished its last pop, the item sits in the queue while
//! the port sleeps (until unrelated traffic comes, or forever on an idle
//! server). The models run the consumer the way `Port::run` does — sleep
//! until woken, then drain — so a lost wake leaves it asleep with items
//! queued and nobody left to wake it, which loom reports as a deadlock.
//!
//! The waker is [`PortWaker`]: a loom `Notify` (wakes coalesce into one
//! pending notification, as eventfd writes do for `mio::Waker`) plus a
//! count of wakes. Under loom the queue is a mutex-guarded `VecDeque`
//! (berth's `sync::BoundedQueue`), which orders more than crossbeam's
//! `ArrayQueue`: these models check the wake protocol, not the orderings
//! that only the lock-free queue relies on (see the crate docs).
//!
//! Sizes are shrunk for loom: at most two producers and four items,
//! capacities of one to four.

#![cfg(loom)]

use berth::engine::loom_models::Mailbox;
use berth_loom_tests::{PortWaker, Signal, check};
use loom::sync::Arc;
use loom::thread::{self, JoinHandle};

/// Preemption bound of the two-producer models. Unbounded,
/// `two_producers_nothing_lost_no_missed_wake` passed once, when written,
/// after 803 684 interleavings and 3 minutes; bounded it takes seconds.
/// `LOOM_MAX_PREEMPTIONS` overrides it.
const BOUND: Option<usize> = Some(3);

/// An item: (producer, sequence number within that producer).
type Item = (usize, usize);

type TestMailbox = Mailbox<Item, PortWaker>;

fn mailbox(capacity: usize) -> (Arc<TestMailbox>, Arc<Signal>) {
    let signal = Arc::new(Signal::default());
    let mailbox = Mailbox::new(capacity, PortWaker(Arc::clone(&signal)));
    (Arc::new(mailbox), signal)
}

/// The port's side: sleep until woken, drain, until `expected` items came.
///
/// It never drains without a wake first, so an item whose push did not
/// wake the port (and was not taken by a drain that a later wake caused)
/// strands this thread in `wait` with nobody left to notify it: a loom
/// deadlock. The `Notify` may also wake spuriously once, as a poll can.
fn spawn_consumer(
    mailbox: &Arc<TestMailbox>,
    signal: &Arc<Signal>,
    expected: usize,
) -> JoinHandle<Vec<Item>> {
    let (mailbox, signal) = (Arc::clone(mailbox), Arc::clone(signal));
    thread::spawn(move || {
        let mut got = Vec::new();
        while got.len() < expected {
            signal.wait();
            mailbox.drain(|item| got.push(item));
        }
        got
    })
}

/// A producer pushing `count` items, retrying (with a yield) while the
/// queue is full; a rejected push must hand back the very item.
fn spawn_producer(mailbox: &Arc<TestMailbox>, producer: usize, count: usize) -> JoinHandle<()> {
    let mailbox = Arc::clone(mailbox);
    thread::spawn(move || {
        for seq in 0..count {
            let mut item = (producer, seq);
            while let Err(back) = mailbox.push(item) {
                assert_eq!(back, item, "a full queue gave back another item");
                item = back;
                thread::yield_now();
            }
        }
    })
}

/// Every item arrived exactly once and in its producer's order, at most one
/// wake per push, and nothing is left in the queue.
fn assert_delivered(mailbox: &TestMailbox, signal: &Signal, got: &[Item], per_producer: &[usize]) {
    let pushed: usize = per_producer.iter().sum();
    for (producer, &count) in per_producer.iter().enumerate() {
        let seqs: Vec<usize> = got
            .iter()
            .filter(|(p, _)| *p == producer)
            .map(|&(_, seq)| seq)
            .collect();
        let want: Vec<usize> = (0..count).collect();
        assert_eq!(seqs, want, "producer {producer}'s items arrived as {got:?}");
    }
    assert_eq!(got.len(), pushed, "drained {got:?}");
    let wakes = signal.wakes();
    assert!(
        (1..=pushed).contains(&wakes),
        "{wakes} wakes for {pushed} pushes"
    );
    mailbox.drain(|item| panic!("{item:?} left in the queue"));
}

/// Runs `per_producer.len()` producers against one consumer.
fn producers_and_consumer(capacity: usize, per_producer: &'static [usize]) {
    let (mailbox, signal) = mailbox(capacity);
    let pushed = per_producer.iter().sum();
    let consumer = spawn_consumer(&mailbox, &signal, pushed);
    let producers: Vec<_> = per_producer
        .iter()
        .enumerate()
        .map(|(producer, &count)| spawn_producer(&mailbox, producer, count))
        .collect();
    for producer in producers {
        producer.join().unwrap();
    }
    let got = consumer.join().unwrap();
    assert_delivered(&mailbox, &signal, &got, per_producer);
}

/// Two producers push one item each while the port sleeps and drains.
///
/// The interesting runs: producer A's push sets the flag and wakes; the
/// port clears the flag and pops A's item; producer B pushes now. B must
/// see the flag clear (the port's clear is a read-modify-write ordered
/// before its pops) and wake the port again. If B could still see A's
/// `true`, it would skip the wake and its item would be stranded.
#[test]
fn two_producers_nothing_lost_no_missed_wake() {
    check("two_producers_nothing_lost_no_missed_wake", BOUND, || {
        producers_and_consumer(2, &[1, 1]);
    });
}

/// One producer pushes a burst of three while the port drains: the burst
/// may cost one to three wakes depending on where the drains fall, but
/// every item arrives, in order, and the last never waits without a wake.
#[test]
fn one_producer_burst_nothing_lost_no_missed_wake() {
    check(
        "one_producer_burst_nothing_lost_no_missed_wake",
        None,
        || {
            producers_and_consumer(3, &[3]);
        },
    );
}

/// Two producers, two items each: wakes coalescing across producers, drains
/// landing between a producer's two pushes. The queue has room for all
/// four (back-pressure is `producer_retries_when_full`'s job: spinning
/// producers here exceed loom's branch limit).
#[test]
fn two_producers_two_items_each() {
    check("two_producers_two_items_each", BOUND, || {
        producers_and_consumer(4, &[2, 2]);
    });
}

/// A producer pushes two items into a queue of one, retrying while it is
/// full: the rejected push hands the item back, the retry after the port's
/// drain gets in, and that second push wakes the port again.
#[test]
fn producer_retries_when_full() {
    check("producer_retries_when_full", None, || {
        producers_and_consumer(1, &[2]);
    });
}

/// A full queue gives the item back, untouched, and does not wake the port
/// (there is nothing new to drain); a capacity of zero is taken as one.
#[test]
fn full_queue_gives_the_item_back() {
    check("full_queue_gives_the_item_back", None, || {
        let (mailbox, signal) = mailbox(0);
        assert_eq!(mailbox.push((0, 0)), Ok(()));
        assert_eq!(mailbox.push((0, 1)), Err((0, 1)));
        assert_eq!(signal.wakes(), 1);
        let mut got = Vec::new();
        mailbox.drain(|item| got.push(item));
        assert_eq!(got, [(0, 0)]);
        assert_eq!(mailbox.push((0, 1)), Ok(()));
        assert_eq!(signal.wakes(), 2);
    });
}

/// Two pushes race for the last slot: exactly one gets in, the other gets
/// its own item back, and the one accepted push woke the port once.
#[test]
fn racing_pushes_into_a_full_queue() {
    check("racing_pushes_into_a_full_queue", None, || {
        let (mailbox, signal) = mailbox(1);
        let pushers: Vec<_> = (0..2)
            .map(|producer| {
                let mailbox = Arc::clone(&mailbox);
                thread::spawn(move || mailbox.push((producer, 0)))
            })
            .collect();
        let results: Vec<_> = pushers.into_iter().map(|t| t.join().unwrap()).collect();
        let accepted: Vec<usize> = (0..2).filter(|&p| results[p].is_ok()).collect();
        assert_eq!(accepted.len(), 1, "pushes returned {results:?}");
        let loser = 1 - accepted[0];
        assert_eq!(results[loser], Err((loser, 0)));
        assert_eq!(signal.wakes(), 1);
        let mut got = Vec::new();
        mailbox.drain(|item| got.push(item));
        assert_eq!(got, [(accepted[0], 0)]);
    });
}
