//! The fuzz bodies of `fuzz_bodies/mod.rs` under proptest, so stable
//! `cargo test` runs what the cargo-fuzz targets run: on arbitrary bytes,
//! and on valid inputs with a few bytes changed.

use crate::config;
use crate::fixtures::{plain_of, read_packet, sample_packets, sample_private_token, sample_token};
use crate::fuzz_bodies;
use crate::strategies::{
    byte_array, mutated, openable_token, private_token, sealed_plain_input, valid_datagram,
};
use berth::crypto::VERSION;
use berth::wire::challenge_token::{self, ChallengeToken};
use berth::wire::connect_token::{PRIVATE_LEN, USER_DATA_LEN};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

fn all_bodies(data: &[u8]) {
    fuzz_bodies::packet_parse(data);
    fuzz_bodies::packet_sealed_plain(data);
    fuzz_bodies::header_parse(data);
    fuzz_bodies::address_parse(data);
    fuzz_bodies::connect_token_parse(data);
    fuzz_bodies::private_token_open(data);
    fuzz_bodies::private_token_plain(data);
    fuzz_bodies::private_token_sealed_plain(data);
    fuzz_bodies::challenge_token_open(data);
    fuzz_bodies::challenge_token_sealed_plain(data);
    fuzz_bodies::relay::relay_messages(data);
}

#[test]
fn every_body_accepts_valid_inputs() {
    // Deterministic coverage of the paths past authentication.
    for (name, bytes) in sample_packets(100) {
        fuzz_bodies::packet_parse(&bytes);
        fuzz_bodies::private_token_open(&bytes);
        assert_eq!(read_packet(&bytes), Ok(()), "{name}");
    }
    let token = sample_token();
    fuzz_bodies::connect_token_parse(&token.to_bytes());
    fuzz_bodies::connect_token_parse(&token.to_bytes()[VERSION.len()..]);
    let plain = plain_of(&sample_private_token());
    fuzz_bodies::private_token_plain(&plain);
    fuzz_bodies::private_token_sealed_plain(&plain);
    let mut challenge_input = 1000u64.to_le_bytes().to_vec();
    challenge_input.extend_from_slice(&[9; 284]);
    fuzz_bodies::challenge_token_sealed_plain(&challenge_input);
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn bodies_never_panic_on_arbitrary_bytes(data in vec(any::<u8>(), 0..2100)) {
        all_bodies(&data);
    }

    #[test]
    fn bodies_never_panic_on_short_arbitrary_bytes(data in vec(any::<u8>(), 0..48)) {
        all_bodies(&data);
    }

}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn bodies_hold_on_mutated_packets(data in mutated(valid_datagram())) {
        fuzz_bodies::packet_parse(&data);
        fuzz_bodies::packet_sealed_plain(&data);
        fuzz_bodies::private_token_open(&data);
    }

    #[test]
    fn bodies_hold_on_mutated_tokens(
        data in mutated(openable_token().prop_map(|t| t.to_bytes().to_vec()))
    ) {
        fuzz_bodies::connect_token_parse(&data);
        fuzz_bodies::connect_token_parse(data.get(VERSION.len()..).unwrap_or(&[]));
        let mut sealed_input = data.get(61..61 + PRIVATE_LEN).unwrap_or(&[]).to_vec();
        sealed_input.extend_from_slice(data.get(37..61).unwrap_or(&[]));
        sealed_input.extend_from_slice(data.get(29..37).unwrap_or(&[]));
        sealed_input.extend_from_slice(data.get(13..21).unwrap_or(&[]));
        fuzz_bodies::private_token_open(&sealed_input);
    }

    #[test]
    fn bodies_hold_on_mutated_private_plaintexts(
        data in mutated(private_token().prop_map(|t| plain_of(&t).to_vec()))
    ) {
        fuzz_bodies::private_token_plain(&data);
        fuzz_bodies::private_token_sealed_plain(&data);
    }

    #[test]
    fn bodies_hold_on_sealed_plain_packets(data in sealed_plain_input()) {
        fuzz_bodies::packet_sealed_plain(&data);
    }

    #[test]
    fn bodies_hold_on_mutated_challenge_tokens(
        sequence in any::<u64>(),
        client_id in any::<u64>(),
        user_data in byte_array::<USER_DATA_LEN>(),
        edits in vec((any::<Index>(), any::<u8>()), 0..3),
    ) {
        let mut sealed = [0u8; challenge_token::TOKEN_LEN];
        ChallengeToken { client_id, user_data }
            .seal(&fuzz_bodies::challenge_cipher(), sequence, &mut sealed);
        for (at, x) in edits {
            sealed[at.index(sealed.len())] ^= x;
        }
        let mut data = sealed.to_vec();
        data.extend_from_slice(&sequence.to_le_bytes());
        fuzz_bodies::challenge_token_open(&data);
    }
}

/// One of each relay message, encoded: the bases the mutations start from.
fn relay_samples() -> Vec<Vec<u8>> {
    use berth::relay::protocol::{ClientMessage, RelayMessage};
    use berth::relay::{LobbyCode, LobbyEntry, MatchInfo, RelayError, Target};
    let info = MatchInfo {
        player_count: 4,
        match_data: b"mode=duel".to_vec(),
    };
    let code = LobbyCode::from_random([3; 6]);
    vec![
        ClientMessage::RequestMatch(info.clone()).to_vec(),
        ClientMessage::CreateLobby { info, public: true }.to_vec(),
        ClientMessage::JoinLobby(code).to_vec(),
        ClientMessage::ListLobbies { match_data: b"m" }.to_vec(),
        ClientMessage::StartMatch.to_vec(),
        ClientMessage::SendProxy {
            target: Target::Player(2),
            data: b"state",
        }
        .to_vec(),
        ClientMessage::Rejoin([9; 16]).to_vec(),
        RelayMessage::WaitingCount(3).to_vec(),
        RelayMessage::LobbyList(vec![LobbyEntry {
            code,
            players: 1,
            player_count: 4,
        }])
        .to_vec(),
        RelayMessage::Success {
            random_seed: 7,
            player_idx: 1,
            player_count: 4,
            rejoin_secret: [5; 16],
        }
        .to_vec(),
        RelayMessage::RecvProxy {
            from: 0,
            data: b"state",
        }
        .to_vec(),
        RelayMessage::Error(RelayError::BadTarget).to_vec(),
    ]
}

#[test]
fn relay_body_accepts_every_valid_message() {
    for bytes in relay_samples() {
        fuzz_bodies::relay::relay_messages(&bytes);
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn relay_body_holds_on_mutated_messages(
        data in mutated(proptest::sample::select(relay_samples()))
    ) {
        fuzz_bodies::relay::relay_messages(&data);
    }
}
