//! The matchmaker under arbitrary sequences of requests from a few peers:
//! after every step its tables agree with each other, every room has a
//! player, every message it queues parses, and routing never echoes.

use super::*;
use crate::relay::budgets::{FAILED_JOIN_COST, RequestBudgets};
use proptest::prelude::*;
use std::time::Duration;

/// Peers the model plays with; each may come back on a new connection.
const PEERS: u32 = 6;

#[derive(Debug, Clone)]
enum Op {
    RequestMatch {
        peer: u32,
        data: u8,
        count: u8,
    },
    CreateLobby {
        peer: u32,
        count: u8,
        public: bool,
    },
    /// A code seen in a `LobbyCreated`, by index, or a made-up one.
    JoinLobby {
        peer: u32,
        code: usize,
    },
    ListLobbies {
        peer: u32,
        data: u8,
    },
    Leave {
        peer: u32,
        reason: u8,
    },
    Start {
        peer: u32,
    },
    /// A secret seen in a `Success`, by index, on the peer's next connection.
    Rejoin {
        peer: u32,
        secret: usize,
    },
    Route {
        peer: u32,
        target: Option<u8>,
    },
    Wait {
        ms: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let peer = 0..PEERS;
    prop_oneof![
        (peer.clone(), 0..2u8, 0..5u8).prop_map(|(peer, data, count)| Op::RequestMatch {
            peer,
            data,
            count
        }),
        (peer.clone(), 0..5u8, any::<bool>()).prop_map(|(peer, count, public)| {
            Op::CreateLobby {
                peer,
                count,
                public,
            }
        }),
        (peer.clone(), 0..8usize).prop_map(|(peer, code)| Op::JoinLobby { peer, code }),
        (peer.clone(), 0..2u8).prop_map(|(peer, data)| Op::ListLobbies { peer, data }),
        (peer.clone(), 0..3u8).prop_map(|(peer, reason)| Op::Leave { peer, reason }),
        peer.clone().prop_map(|peer| Op::Start { peer }),
        (peer.clone(), 0..8usize).prop_map(|(peer, secret)| Op::Rejoin { peer, secret }),
        (peer, proptest::option::of(0..5u8)).prop_map(|(peer, target)| Op::Route { peer, target }),
        (0..3_000u64).prop_map(|ms| Op::Wait { ms }),
    ]
}

/// What the model remembers: each peer's connection number, and the codes
/// and secrets the matchmaker handed out.
struct World {
    mm: Matchmaker,
    /// The request budgets, as the handler keeps them on the peer's port.
    budgets: RequestBudgets,
    /// A port's copy of the started rooms, fed only by the matchmaker's
    /// route updates: it must route exactly as the matchmaker does.
    routes: Routes,
    now: Instant,
    generation: [u32; PEERS as usize],
    codes: Vec<LobbyCode>,
    secrets: Vec<[u8; REJOIN_SECRET_LEN]>,
}

impl World {
    fn peer(&self, n: u32) -> PeerId {
        PeerId::new(0, n, self.generation[n as usize])
    }

    fn run(&mut self, op: &Op) {
        let mut out = Vec::new();
        let now = self.now;
        let info = |count: u8, data: u8| MatchInfo {
            player_count: count,
            match_data: vec![data],
        };
        // Like the handler: every request but a proxy spends the budget; a
        // dropped connection is not a request.
        let asks = match *op {
            Op::Route { .. } | Op::Wait { .. } => None,
            Op::Leave { reason, .. } if reason != 0 => None,
            Op::RequestMatch { peer, .. }
            | Op::CreateLobby { peer, .. }
            | Op::JoinLobby { peer, .. }
            | Op::ListLobbies { peer, .. }
            | Op::Leave { peer, .. }
            | Op::Start { peer }
            | Op::Rejoin { peer, .. } => Some(self.peer(peer)),
        };
        if let Some(who) = asks {
            if !self.budgets.admit(who, now, 1, &mut out) {
                return self.after(&out);
            }
        }
        match *op {
            Op::RequestMatch { peer, data, count } => {
                self.mm
                    .request_match(self.peer(peer), info(count, data), &mut out);
            }
            Op::CreateLobby {
                peer,
                count,
                public,
            } => self
                .mm
                .create_lobby(self.peer(peer), info(count, 0), public, None, &mut out),
            Op::JoinLobby { peer, code } => {
                let code = self
                    .codes
                    .get(code)
                    .copied()
                    .unwrap_or(LobbyCode::from_random([code as u8; LOBBY_CODE_LEN]));
                let who = self.peer(peer);
                if !self.mm.join_lobby(who, code, &mut out) {
                    self.budgets.charge(who, FAILED_JOIN_COST);
                }
            }
            Op::ListLobbies { peer, data } => {
                self.mm.list_lobbies(self.peer(peer), &[data], &mut out)
            }
            Op::Leave { peer, reason } => {
                let reason = match reason {
                    0 => LeaveReason::Left,
                    1 => LeaveReason::Disconnected,
                    _ => LeaveReason::TooSlow,
                };
                let who = self.peer(peer);
                self.mm.leave(who, reason, now, &mut out);
                if reason != LeaveReason::Left {
                    self.budgets.forget(who);
                    // Its connection is gone; it comes back as a new peer id.
                    self.generation[peer as usize] += 1;
                }
            }
            Op::Start { peer } => self.mm.start(self.peer(peer), &mut out),
            Op::Rejoin { peer, secret } => {
                let secret = self
                    .secrets
                    .get(secret)
                    .copied()
                    .unwrap_or([7; REJOIN_SECRET_LEN]);
                self.mm.rejoin(self.peer(peer), secret, None, now, &mut out);
            }
            Op::Route { peer, target } => {
                let from = self.peer(peer);
                let target = target.map_or(Target::AllOthers, Target::Player);
                let mut into = Vec::new();
                if self.mm.route(from, target, &mut into).is_ok() {
                    assert!(!into.contains(&from), "routed back to the sender");
                    let room = self.mm.players.get(&from);
                    for to in &into {
                        assert_eq!(self.mm.players.get(to), room, "routed out of the room");
                    }
                }
            }
            Op::Wait { ms } => self.now += Duration::from_millis(ms),
        }
        self.after(&out);
    }

    /// Checks what a step queued, remembers its codes and secrets, and
    /// checks the tables.
    fn after(&mut self, out: &[Outbound]) {
        for (_, bytes) in out {
            match RelayMessage::parse(bytes) {
                Ok(RelayMessage::LobbyCreated(code)) => self.codes.push(code),
                Ok(RelayMessage::Success {
                    player_idx,
                    player_count,
                    rejoin_secret,
                    ..
                }) => {
                    assert!(
                        player_idx < player_count,
                        "seat {player_idx} of {player_count}"
                    );
                    self.secrets.push(rejoin_secret);
                }
                Ok(_) => {}
                Err(e) => panic!("queued a message that does not parse: {e:?}"),
            }
        }
        let routes = &mut self.routes;
        self.mm.take_route_updates(|update| routes.apply(&update));
        self.check();
        self.check_routes();
    }

    /// The port's copy routes every peer, to everyone and to each index,
    /// exactly as the matchmaker does; and so does a copy rebuilt whole.
    fn check_routes(&self) {
        let mut rebuilt = Routes::default();
        self.mm.fill_routes(&mut rebuilt);
        for n in 0..PEERS {
            let peer = self.peer(n);
            let targets =
                std::iter::once(Target::AllOthers).chain((0..=MAX_PLAYERS).map(Target::Player));
            for target in targets {
                let (mut want, mut got, mut again) = (Vec::new(), Vec::new(), Vec::new());
                let expected = self.mm.route(peer, target, &mut want);
                assert_eq!(
                    (self.routes.route(peer, target, &mut got), &got),
                    (expected, &want),
                    "the port's copy routes {peer} to {target:?} as the matchmaker does"
                );
                assert_eq!(
                    (rebuilt.route(peer, target, &mut again), &again),
                    (expected, &want),
                    "a rebuilt copy routes {peer} to {target:?} as the matchmaker does"
                );
            }
        }
    }

    /// The tables agree with each other.
    fn check(&self) {
        let mm = &self.mm;
        for (peer, id) in &mm.players {
            let room = mm.rooms.get(id).expect("a player's room exists");
            assert!(room.index_of(*peer).is_some(), "a player sits in its room");
        }
        let mut seated = 0;
        for (id, room) in &mm.rooms {
            let taken: Vec<_> = room.taken().collect();
            assert!(!taken.is_empty(), "room {id} has nobody and still exists");
            for (_, peer) in &taken {
                assert_eq!(
                    mm.players.get(peer),
                    Some(id),
                    "seat and player table agree"
                );
            }
            seated += taken.len();
            assert!(room.seats.len() <= usize::from(MAX_PLAYERS));
            if !room.started {
                assert!(
                    room.seats.len() < usize::from(room.info.player_count)
                        || room.info.player_count == 0
                );
            }
        }
        assert_eq!(
            seated,
            mm.players.len(),
            "every player has exactly one seat"
        );
        for id in mm.waiting.values().chain(mm.lobbies.values()) {
            let room = mm.rooms.get(id).expect("an open room exists");
            assert!(!room.started, "a started room is not open to joins");
        }
        for (id, idx) in mm.secrets.values() {
            let room = mm.rooms.get(id).expect("a secret's room exists");
            assert!(usize::from(*idx) < room.seats.len());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_tables_stay_consistent_under_any_requests(ops in proptest::collection::vec(op(), 1..60)) {
        let config = RelayConfig::default().rejoin_grace(Duration::from_secs(1)).max_rooms(4);
        let mut world = World {
            budgets: RequestBudgets::new(&config),
            mm: Matchmaker::new(config),
            routes: Routes::default(),
            now: Instant::now(),
            generation: [1; PEERS as usize],
            codes: Vec::new(),
            secrets: Vec::new(),
        };
        for op in &ops {
            world.run(op);
        }
        // Everyone drops: nothing is left behind.
        for peer in 0..PEERS {
            let mut out = Vec::new();
            let who = world.peer(peer);
            world.mm.leave(who, LeaveReason::Disconnected, world.now, &mut out);
        }
        world.check();
        prop_assert_eq!(world.mm.room_count(), 0);
        prop_assert_eq!(world.mm.player_count(), 0);
        prop_assert!(world.mm.secrets.is_empty());
    }
}
