//! Each port's own copy of who sits where in the matches under way, so
//! that forwarding a proxied message takes no lock shared with other ports.
//!
//! The matchmaker owns the rooms. Whenever a started room changes (it
//! starts, a player leaves or rejoins, it is removed), it says so with a
//! [`RouteUpdate`], which the handler that made the change sends to every
//! port's [`RouteFeed`]. A port applies what its feed holds before it
//! routes. The change is queued before the replies that announce it are
//! sent, so a player who heard "matched" sends its first message to a port
//! that can already route it.
//!
//! A feed is bounded. When one fills (a port with no traffic of its own
//! while rooms churn elsewhere), the sender marks it stale instead, and
//! that port rebuilds its copy from the matchmaker the next time it routes:
//! memory stays bounded, and only that port takes the lock, once.

use super::protocol::{RelayError, Target};
use crate::engine::PeerId;
use crate::sync::{Arc, AtomicBool, Ordering};
use ahash::RandomState;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::collections::HashMap;

/// Most updates a port's feed holds before it is marked stale.
const FEED_LEN: usize = 4096;

/// A seat of a started room, as routing sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteSeat {
    /// A connected player.
    Taken(PeerId),
    /// A dropped player's seat, held for a rejoin: messages to it are
    /// dropped without an error.
    Held,
    /// A seat given up: messages to it are an error.
    Empty,
}

/// A change to one started room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RouteUpdate {
    /// The room's seats now, by player index.
    Room {
        /// The matchmaker's room id.
        id: u64,
        /// Seat `i` is player index `i`.
        seats: Vec<RouteSeat>,
    },
    /// The room is gone (or was never started).
    Removed {
        /// The matchmaker's room id.
        id: u64,
    },
}

/// One port's copy of the started rooms.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    rooms: HashMap<u64, Vec<RouteSeat>, RandomState>,
    /// Each seated player's room and index.
    players: HashMap<PeerId, (u64, u8), RandomState>,
}

impl Routes {
    /// Applies one change.
    pub(crate) fn apply(&mut self, update: &RouteUpdate) {
        let id = match update {
            RouteUpdate::Room { id, .. } | RouteUpdate::Removed { id } => *id,
        };
        if let Some(old) = self.rooms.remove(&id) {
            for seat in old {
                if let RouteSeat::Taken(peer) = seat {
                    if self.players.get(&peer).is_some_and(|(room, _)| *room == id) {
                        self.players.remove(&peer);
                    }
                }
            }
        }
        if let RouteUpdate::Room { seats, .. } = update {
            for (idx, seat) in (0u8..).zip(seats) {
                if let RouteSeat::Taken(peer) = seat {
                    self.players.insert(*peer, (id, idx));
                }
            }
            self.rooms.insert(id, seats.clone());
        }
    }

    /// Forgets everything (before a rebuild).
    pub(crate) fn clear(&mut self) {
        self.rooms.clear();
        self.players.clear();
    }

    /// The recipients of a message `peer` sends to `target`, pushed into
    /// `into`; returns `peer`'s player index.
    ///
    /// # Errors
    ///
    /// [`RelayError::NotInRoom`] when `peer` is not seated in a started
    /// room; [`RelayError::BadTarget`] for an index that is `peer`'s own,
    /// past the room, or a seat given up. A held seat gets nothing, and no
    /// error.
    pub(crate) fn route(
        &self,
        peer: PeerId,
        target: Target,
        into: &mut Vec<PeerId>,
    ) -> Result<u8, RelayError> {
        let &(id, from) = self.players.get(&peer).ok_or(RelayError::NotInRoom)?;
        let seats = self.rooms.get(&id).ok_or(RelayError::NotInRoom)?;
        match target {
            Target::AllOthers => {
                into.extend((0u8..).zip(seats).filter_map(|(idx, seat)| match seat {
                    RouteSeat::Taken(p) if idx != from => Some(*p),
                    _ => None,
                }))
            }
            Target::Player(idx) => match seats.get(usize::from(idx)) {
                Some(RouteSeat::Taken(p)) if idx != from => into.push(*p),
                Some(RouteSeat::Held) => {}
                _ => return Err(RelayError::BadTarget),
            },
        }
        Ok(from)
    }
}

/// The queue of [`RouteUpdate`]s into one port.
#[derive(Debug)]
pub(crate) struct RouteFeed {
    sender: Sender<Arc<RouteUpdate>>,
    receiver: Receiver<Arc<RouteUpdate>>,
    /// Updates were lost to a full queue: the port must rebuild.
    stale: AtomicBool,
}

impl RouteFeed {
    pub(crate) fn new() -> Self {
        let (sender, receiver) = crossbeam_channel::bounded(FEED_LEN);
        Self {
            sender,
            receiver,
            stale: AtomicBool::new(false),
        }
    }

    /// Queues `update`; marks the feed stale if it is full.
    pub(crate) fn push(&self, update: Arc<RouteUpdate>) {
        if let Err(TrySendError::Full(_)) = self.sender.try_send(update) {
            self.stale.store(true, Ordering::Release);
        }
    }

    /// Applies what is queued to `routes`. Returns false when updates were
    /// lost and `routes` must be rebuilt from the matchmaker instead (the
    /// queue is then emptied and the mark cleared).
    pub(crate) fn apply_to(&self, routes: &mut Routes) -> bool {
        // Checked on every forward: a plain load, and the read-modify-write
        // only on the rare stale feed.
        if self.stale.load(Ordering::Acquire) && self.stale.swap(false, Ordering::AcqRel) {
            while self.receiver.try_recv().is_ok() {}
            return false;
        }
        while let Ok(update) = self.receiver.try_recv() {
            routes.apply(&update);
        }
        true
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn peer(n: u32) -> PeerId {
        PeerId::new(0, n, 1)
    }

    #[test]
    fn routes_follow_the_updates_of_a_room() {
        let mut routes = Routes::default();
        let mut into = Vec::new();
        assert_eq!(
            routes.route(peer(1), Target::AllOthers, &mut into),
            Err(RelayError::NotInRoom)
        );
        let seats = vec![
            RouteSeat::Taken(peer(1)),
            RouteSeat::Taken(peer(2)),
            RouteSeat::Taken(peer(3)),
        ];
        routes.apply(&RouteUpdate::Room { id: 7, seats });
        assert_eq!(routes.route(peer(2), Target::AllOthers, &mut into), Ok(1));
        assert_eq!(into, [peer(1), peer(3)]);
        into.clear();
        assert_eq!(
            routes.route(peer(2), Target::Player(1), &mut into),
            Err(RelayError::BadTarget),
            "not to oneself"
        );

        // Player 3 drops (seat held), player 1 gives up its seat.
        let seats = vec![RouteSeat::Empty, RouteSeat::Taken(peer(2)), RouteSeat::Held];
        routes.apply(&RouteUpdate::Room { id: 7, seats });
        assert_eq!(routes.route(peer(2), Target::Player(2), &mut into), Ok(1));
        assert!(into.is_empty(), "a held seat gets nothing");
        assert_eq!(
            routes.route(peer(2), Target::Player(0), &mut into),
            Err(RelayError::BadTarget)
        );
        assert_eq!(
            routes.route(peer(1), Target::AllOthers, &mut into),
            Err(RelayError::NotInRoom),
            "a player who left routes nowhere"
        );

        routes.apply(&RouteUpdate::Removed { id: 7 });
        assert_eq!(
            routes.route(peer(2), Target::AllOthers, &mut into),
            Err(RelayError::NotInRoom)
        );
        assert!(routes.players.is_empty() && routes.rooms.is_empty());
    }

    #[test]
    fn a_full_feed_marks_itself_stale_and_asks_for_a_rebuild_once() {
        let feed = RouteFeed::new();
        let mut routes = Routes::default();
        for id in 0..FEED_LEN as u64 + 1 {
            feed.push(Arc::new(RouteUpdate::Removed { id }));
        }
        assert!(!feed.apply_to(&mut routes), "updates were lost");
        assert!(feed.receiver.is_empty());
        feed.push(Arc::new(RouteUpdate::Room {
            id: 1,
            seats: vec![RouteSeat::Taken(peer(1)), RouteSeat::Taken(peer(2))],
        }));
        assert!(feed.apply_to(&mut routes));
        let mut into = Vec::new();
        assert_eq!(routes.route(peer(1), Target::AllOthers, &mut into), Ok(0));
        assert_eq!(into, [peer(2)]);
    }
}
