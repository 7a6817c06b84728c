//! Unit tests of the matchmaker.

use super::*;
use crate::relay::budgets::{FAILED_JOIN_COST, RequestBudgets};
use std::time::Duration;

fn peer(slot: u32) -> PeerId {
    PeerId::new(0, slot, 1)
}

fn info(n: u8, data: &[u8]) -> MatchInfo {
    MatchInfo {
        player_count: n,
        match_data: data.to_vec(),
    }
}

/// The relay messages `out` holds for `to`, parsed.
fn told(out: &[Outbound], to: PeerId) -> Vec<RelayMessage<'_>> {
    out.iter()
        .filter(|(p, _)| *p == to)
        .map(|(_, bytes)| RelayMessage::parse(bytes).unwrap())
        .collect()
}

fn matched(mm: &mut Matchmaker, peers: &[PeerId], info: &MatchInfo) -> Vec<Outbound> {
    let mut out = Vec::new();
    for p in peers {
        mm.request_match(*p, info.clone(), &mut out);
    }
    out
}

#[test]
fn bad_match_info_draining_and_a_second_room_are_refused() {
    let mut mm = Matchmaker::new(RelayConfig::default());
    let mut out = Vec::new();
    mm.request_match(peer(1), info(0, b""), &mut out);
    mm.request_match(peer(1), info(17, b""), &mut out);
    mm.request_match(peer(1), info(2, b"ok"), &mut out);
    mm.request_match(peer(1), info(2, b"other"), &mut out);
    mm.drain();
    mm.create_lobby(peer(2), info(2, b""), true, None, &mut out);
    assert_eq!(
        told(&out, peer(1)),
        [
            RelayMessage::Error(RelayError::BadMatchInfo),
            RelayMessage::Error(RelayError::BadMatchInfo),
            RelayMessage::Accepted,
            RelayMessage::WaitingCount(1),
            RelayMessage::Error(RelayError::AlreadyInRoom),
        ]
    );
    assert_eq!(
        told(&out, peer(2)),
        [RelayMessage::Error(RelayError::Draining)]
    );
}

#[test]
fn the_room_table_has_a_bound() {
    let mut mm = Matchmaker::new(RelayConfig::default().max_rooms(2));
    let mut out = Vec::new();
    for i in 0..3u8 {
        mm.request_match(peer(u32::from(i)), info(2, &[i]), &mut out);
    }
    assert_eq!(mm.room_count(), 2);
    assert_eq!(told(&out, peer(2)), [RelayMessage::Error(RelayError::Full)]);
}

#[test]
fn guessing_lobby_codes_spends_the_budget_six_times_as_fast() {
    let config = RelayConfig::default().requests_per_sec(5, 20);
    let mut budgets = RequestBudgets::new(&config);
    let mut mm = Matchmaker::new(config);
    let now = Instant::now();
    let mut out = Vec::new();
    let mut guesses = 0;
    for i in 0..100u8 {
        if !budgets.admit(peer(1), now, 1, &mut out) {
            break;
        }
        let code = LobbyCode::from_random([i; LOBBY_CODE_LEN]);
        if !mm.join_lobby(peer(1), code, &mut out) {
            budgets.charge(peer(1), FAILED_JOIN_COST);
        }
        guesses += 1;
    }
    assert_eq!(guesses, 4, "20 tokens at 1 + 5 per failed guess");
}

#[test]
fn leaving_the_waiting_room_renumbers_and_the_last_one_out_removes_it() {
    let mut mm = Matchmaker::new(RelayConfig::default());
    let room = info(4, b"w");
    matched(&mut mm, &[peer(1), peer(2), peer(3)], &room);
    let mut out = Vec::new();
    mm.leave(peer(1), LeaveReason::Left, Instant::now(), &mut out);
    assert_eq!(
        told(&out, peer(3)),
        [
            RelayMessage::PlayerLeft {
                idx: 0,
                reason: LeaveReason::Left
            },
            RelayMessage::WaitingCount(2)
        ]
    );
    assert!(
        told(&out, peer(1)).is_empty(),
        "the leaver is not told of itself"
    );
    mm.leave(peer(2), LeaveReason::Disconnected, Instant::now(), &mut out);
    mm.leave(peer(3), LeaveReason::Disconnected, Instant::now(), &mut out);
    assert_eq!((mm.room_count(), mm.player_count()), (0, 0));
    // A new request opens a fresh room.
    matched(&mut mm, &[peer(4)], &room);
    assert_eq!(mm.room_count(), 1);
}

#[test]
fn proxy_routes_exclude_the_sender_and_refuse_bad_targets() {
    let mut mm = Matchmaker::new(RelayConfig::default());
    let peers = [peer(1), peer(2), peer(3)];
    let mut targets = Vec::new();
    mm.request_match(peer(1), info(3, b"p"), &mut Vec::new());
    assert_eq!(
        mm.route(peer(1), Target::AllOthers, &mut targets),
        Err(RelayError::NotInRoom)
    );
    matched(&mut mm, &peers[1..], &info(3, b"p"));
    let from = mm.route(peer(2), Target::AllOthers, &mut targets).unwrap();
    assert_eq!(from, 1);
    assert_eq!(targets, [peer(1), peer(3)]);
    assert_eq!(
        mm.route(peer(2), Target::Player(1), &mut targets),
        Err(RelayError::BadTarget)
    );
    assert_eq!(
        mm.route(peer(2), Target::Player(3), &mut targets),
        Err(RelayError::BadTarget)
    );
    assert_eq!(
        mm.route(peer(9), Target::Player(0), &mut targets),
        Err(RelayError::NotInRoom)
    );
}

#[test]
fn a_held_seat_closes_after_the_grace_window() {
    let grace = Duration::from_secs(5);
    let mut mm = Matchmaker::new(RelayConfig::default().rejoin_grace(grace));
    let out = matched(&mut mm, &[peer(1), peer(2)], &info(2, b"g"));
    let secret = match told(&out, peer(1)).last() {
        Some(RelayMessage::Success { rejoin_secret, .. }) => *rejoin_secret,
        other => panic!("{other:?}"),
    };
    let now = Instant::now();
    mm.leave(peer(1), LeaveReason::Disconnected, now, &mut Vec::new());
    let mut late = Vec::new();
    mm.rejoin(
        peer(7),
        secret,
        None,
        now + grace + Duration::from_millis(1),
        &mut late,
    );
    assert_eq!(
        told(&late, peer(7)),
        [RelayMessage::Error(RelayError::BadRejoin)]
    );
    let mut wrong = Vec::new();
    mm.rejoin(peer(8), [0; REJOIN_SECRET_LEN], None, now, &mut wrong);
    assert_eq!(
        told(&wrong, peer(8)),
        [RelayMessage::Error(RelayError::BadRejoin)]
    );
    let mut in_time = Vec::new();
    mm.rejoin(peer(9), secret, None, now + grace, &mut in_time);
    assert!(matches!(
        told(&in_time, peer(9)).as_slice(),
        [RelayMessage::Success { player_idx: 0, .. }]
    ));
    assert_eq!(told(&in_time, peer(2)), [RelayMessage::PlayerRejoined(0)]);
}

#[test]
fn a_lobby_takes_the_code_a_front_claimed_and_a_taken_code_is_refused() {
    let mut mm = Matchmaker::new(RelayConfig::default());
    let code = LobbyCode::parse_text("FRE234").unwrap();
    let mut out = Vec::new();
    mm.create_lobby(peer(1), info(2, b""), true, Some(code), &mut out);
    mm.create_lobby(peer(2), info(2, b""), true, Some(code), &mut out);
    assert_eq!(told(&out, peer(1))[0], RelayMessage::LobbyCreated(code));
    assert_eq!(told(&out, peer(2)), [RelayMessage::Error(RelayError::Full)]);
}

#[test]
fn a_fleet_room_meets_by_id_and_is_rebuilt_by_a_node_that_never_held_it() {
    use crate::crypto::Key;
    use crate::relay::FleetRejoin;
    let rejoin = FleetRejoin::new(Key::from_bytes([5; 32]));
    let now = Instant::now();
    // The first node: two players placed in fleet room 77 of 2 meet there,
    // whatever their MatchInfo, with the room's id as seed.
    let mut first = Matchmaker::new(RelayConfig::default()).with_fleet_rejoin(rejoin.clone());
    let mut out = Vec::new();
    first.request_fleet_match(peer(1), info(2, b"x"), (77, 2), &mut out);
    first.request_fleet_match(peer(2), info(9, b"y"), (77, 2), &mut out);
    let seat = |out: &[Outbound], p| {
        told(out, p).into_iter().find_map(|m| match m {
            RelayMessage::Success {
                random_seed,
                player_idx,
                rejoin_secret,
                player_count,
            } => Some((random_seed, player_idx, player_count, rejoin_secret)),
            _ => None,
        })
    };
    let (seed, idx, count, secret) = seat(&out, peer(2)).unwrap();
    assert_eq!((seed, count), (77, 2));
    // A third player for the full room is refused.
    let mut late = Vec::new();
    first.request_fleet_match(peer(3), info(2, b"x"), (77, 2), &mut late);
    assert_eq!(
        told(&late, peer(3)),
        [RelayMessage::Error(RelayError::LobbyFull)]
    );

    // That node dies. Another, which never saw the room, takes the player
    // back with the same seat and seed; a forged or mismatched secret, or
    // a token naming another room, is refused.
    let mut second = Matchmaker::new(RelayConfig::default()).with_fleet_rejoin(rejoin);
    let mut out = Vec::new();
    let mut forged = secret;
    forged[15] ^= 1;
    second.rejoin(peer(10), forged, Some((77, 2)), now, &mut out);
    second.rejoin(peer(11), secret, Some((78, 2)), now, &mut out);
    assert_eq!(
        told(&out, peer(10)),
        [RelayMessage::Error(RelayError::BadRejoin)]
    );
    assert_eq!(
        told(&out, peer(11)),
        [RelayMessage::Error(RelayError::BadRejoin)]
    );
    let mut out = Vec::new();
    second.rejoin(peer(12), secret, Some((77, 2)), now, &mut out);
    assert_eq!(seat(&out, peer(12)), Some((77, idx, 2, secret)));
    assert_eq!(second.room_count(), 1);
}
