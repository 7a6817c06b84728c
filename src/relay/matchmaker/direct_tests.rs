//! Unit tests of direct play in the matchmaker: who is introduced to whom,
//! and that no address leaves without both consents.

use super::*;
use crate::relay::protocol::Introduction;

fn peer(slot: u32) -> PeerId {
    PeerId::new(0, slot, 1)
}

fn info() -> MatchInfo {
    MatchInfo {
        player_count: 2,
        match_data: b"duel".to_vec(),
    }
}

fn observed(slot: u32) -> SocketAddr {
    SocketAddr::from(([203, 0, 113, slot as u8], 40_000 + slot as u16))
}

fn lan(slot: u32) -> SocketAddr {
    SocketAddr::from(([10, 0, slot as u8, 2], 5000))
}

fn introductions(out: &[Outbound], to: PeerId) -> Vec<Introduction> {
    out.iter()
        .filter(|(p, _)| *p == to)
        .filter_map(|(_, bytes)| match RelayMessage::parse(bytes) {
            Ok(RelayMessage::Introduce(i)) => Some(i),
            _ => None,
        })
        .collect()
}

/// Whether any message in `out` is an introduction: the only message
/// that carries a player's address.
fn any_address_sent(out: &[Outbound]) -> bool {
    out.iter()
        .any(|(_, b)| matches!(RelayMessage::parse(b), Ok(RelayMessage::Introduce(_))))
}

#[test]
fn two_consenting_players_get_each_other_with_one_key() {
    let mut mm = Matchmaker::new(RelayConfig::default().direct_play(true));
    let mut out = Vec::new();
    mm.allow_direct(peer(1), observed(1), &[lan(1)], Duration::from_millis(10));
    mm.allow_direct(
        peer(2),
        observed(2),
        &[lan(2), observed(2)],
        Duration::from_millis(50),
    );
    mm.request_match(peer(1), info(), &mut out);
    mm.request_match(peer(2), info(), &mut out);
    let to_1 = introductions(&out, peer(1));
    let to_2 = introductions(&out, peer(2));
    assert_eq!((to_1.len(), to_2.len()), (1, 1));
    assert_eq!((to_1[0].peer, to_2[0].peer), (1, 0));
    assert_eq!(to_1[0].key, to_2[0].key);
    // The observed address first, then the LAN one, no repeats.
    assert_eq!(to_1[0].candidates, [observed(2), lan(2)]);
    assert_eq!(to_2[0].candidates, [observed(1), lan(1)]);
    // The nearer one waits half the difference of the round trips.
    assert_eq!((to_1[0].delay_ms, to_2[0].delay_ms), (20, 0));
    // Each introduction comes after that player's Success.
    let kinds: Vec<u8> = out
        .iter()
        .filter(|(p, _)| *p == peer(1))
        .map(|(_, b)| b[0])
        .collect();
    assert_eq!(kinds.last(), Some(&0x8A));
}

#[test]
fn a_rejoining_consenting_player_is_introduced_again_with_a_fresh_key() {
    let mut mm = Matchmaker::new(RelayConfig::default().direct_play(true));
    let mut out = Vec::new();
    let now = Instant::now();
    for slot in [1, 2] {
        mm.allow_direct(peer(slot), observed(slot), &[], Duration::ZERO);
        mm.request_match(peer(slot), info(), &mut out);
    }
    let first_key = introductions(&out, peer(1))[0].key;
    let secret = out
        .iter()
        .filter(|(p, _)| *p == peer(2))
        .find_map(|(_, b)| match RelayMessage::parse(b) {
            Ok(RelayMessage::Success { rejoin_secret, .. }) => Some(rejoin_secret),
            _ => None,
        })
        .unwrap();
    mm.forget(peer(2));
    mm.leave(peer(2), LeaveReason::Disconnected, now, &mut out);
    out.clear();
    mm.allow_direct(peer(3), observed(3), &[], Duration::ZERO);
    mm.rejoin(peer(3), secret, None, now, &mut out);
    let to_1 = introductions(&out, peer(1));
    assert_eq!(to_1.len(), 1);
    assert_eq!(to_1[0].peer, 1);
    assert_eq!(to_1[0].candidates, [observed(3)]);
    assert_ne!(to_1[0].key, first_key);
    assert_eq!(introductions(&out, peer(3))[0].candidates, [observed(1)]);
}

#[test]
fn without_both_consents_or_the_relay_no_address_is_sent() {
    // One consents, one does not: they wait apart, and when each room
    // fills with its own kind, only consenting pairs are introduced.
    let mut mm = Matchmaker::new(RelayConfig::default().direct_play(true));
    let mut out = Vec::new();
    mm.allow_direct(peer(1), observed(1), &[lan(1)], Duration::ZERO);
    mm.request_match(peer(1), info(), &mut out);
    mm.request_match(peer(2), info(), &mut out);
    mm.request_match(peer(3), info(), &mut out);
    assert!(!any_address_sent(&out));
    assert_eq!(mm.room_count(), 2, "1 waits apart; 2 and 3 play");
    // A lobby opened without consent allows no direct play, even among
    // consenting joiners.
    let mut out = Vec::new();
    let mut mm = Matchmaker::new(RelayConfig::default().direct_play(true));
    mm.create_lobby(peer(4), info(), false, None, &mut out);
    let code = out
        .iter()
        .find_map(|(_, b)| match RelayMessage::parse(b) {
            Ok(RelayMessage::LobbyCreated(code)) => Some(code),
            _ => None,
        })
        .unwrap();
    mm.allow_direct(peer(5), observed(5), &[lan(5)], Duration::ZERO);
    mm.join_lobby(peer(5), code, &mut out);
    assert!(!any_address_sent(&out));
    // A relay that does not allow direct play ignores every consent.
    let mut mm = Matchmaker::new(RelayConfig::default());
    let mut out = Vec::new();
    for slot in [6, 7] {
        mm.allow_direct(peer(slot), observed(slot), &[lan(slot)], Duration::ZERO);
        mm.request_match(peer(slot), info(), &mut out);
    }
    assert!(!any_address_sent(&out));
    assert!(out.iter().all(|(_, b)| RelayMessage::parse(b).is_ok()));
}

#[test]
fn two_per_destination_nats_are_not_introduced_one_is() {
    let mut mm = Matchmaker::new(RelayConfig::default().direct_play(true));
    let mut out = Vec::new();
    for slot in [1, 2, 3, 4] {
        mm.allow_direct(peer(slot), observed(slot), &[], Duration::ZERO);
    }
    // 1 and 2 show another port at the second relay port; 3 the same one;
    // 4 is never checked.
    let elsewhere = |slot| SocketAddr::from(([203, 0, 113, slot as u8], 50_000));
    mm.address_checked(peer(1), elsewhere(1), &mut out);
    mm.address_checked(peer(2), elsewhere(2), &mut out);
    mm.address_checked(peer(3), observed(3), &mut out);
    // A repeat does not change the verdict, nor answer again.
    mm.address_checked(peer(3), elsewhere(3), &mut out);
    let verdicts: Vec<_> = out
        .iter()
        .map(|(p, b)| (*p, RelayMessage::parse(b).unwrap()))
        .collect();
    let checked = |per_destination| RelayMessage::AddressChecked { per_destination };
    assert_eq!(
        verdicts,
        [
            (peer(1), checked(true)),
            (peer(2), checked(true)),
            (peer(3), checked(false)),
        ]
    );
    let mut out = Vec::new();
    let duel = |tag: &[u8]| MatchInfo {
        player_count: 2,
        match_data: tag.to_vec(),
    };
    mm.request_match(peer(1), duel(b"a"), &mut out);
    mm.request_match(peer(2), duel(b"a"), &mut out);
    assert!(!any_address_sent(&out), "both map per destination");
    mm.request_match(peer(3), duel(b"b"), &mut out);
    mm.request_match(peer(4), duel(b"b"), &mut out);
    assert_eq!(introductions(&out, peer(3)).len(), 1);
    assert_eq!(introductions(&out, peer(4)).len(), 1);
}
