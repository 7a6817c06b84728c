//! Unit tests of the protocol.

use super::*;

fn info(n: u8, data: &[u8]) -> MatchInfo {
    MatchInfo {
        player_count: n,
        match_data: data.to_vec(),
    }
}

#[test]
fn client_messages_round_trip() {
    let code = LobbyCode::parse_text("ab23cd").unwrap();
    let messages = [
        ClientMessage::RequestMatch(info(4, b"mode=ffa")),
        ClientMessage::CreateLobby {
            info: info(2, b""),
            public: true,
        },
        ClientMessage::JoinLobby(code),
        ClientMessage::ListLobbies { match_data: b"x" },
        ClientMessage::LeaveRoom,
        ClientMessage::StartMatch,
        ClientMessage::SendProxy {
            target: Target::Player(3),
            data: b"move",
        },
        ClientMessage::SendProxy {
            target: Target::AllOthers,
            data: b"",
        },
        ClientMessage::Rejoin([9; REJOIN_SECRET_LEN]),
    ];
    for message in messages {
        let bytes = message.to_vec();
        assert_eq!(bytes.len(), message.encoded_len());
        assert_eq!(ClientMessage::parse(&bytes), Ok(message));
    }
}

#[test]
fn relay_messages_round_trip() {
    let code = LobbyCode::from_random([0, 1, 2, 30, 31, 255]);
    let messages = [
        RelayMessage::Accepted,
        RelayMessage::WaitingCount(3),
        RelayMessage::LobbyCreated(code),
        RelayMessage::LobbyList(vec![LobbyEntry {
            code,
            players: 1,
            player_count: 4,
        }]),
        RelayMessage::Success {
            random_seed: 0x0102_0304_0506_0708,
            player_idx: 2,
            player_count: 4,
            rejoin_secret: [7; REJOIN_SECRET_LEN],
        },
        RelayMessage::RecvProxy {
            from: 1,
            data: b"hi",
        },
        RelayMessage::PlayerLeft {
            idx: 0,
            reason: LeaveReason::Disconnected,
        },
        RelayMessage::PlayerLeft {
            idx: 3,
            reason: LeaveReason::TooSlow,
        },
        RelayMessage::PlayerRejoined(0),
        RelayMessage::Error(RelayError::Full),
    ];
    for message in messages {
        let bytes = message.to_vec();
        assert_eq!(bytes.len(), message.encoded_len());
        assert_eq!(RelayMessage::parse(&bytes), Ok(message));
    }
}

#[test]
fn hostile_messages_are_errors() {
    assert_eq!(ClientMessage::parse(&[99]), Err(Error::BadFrameKind(99)));
    assert!(ClientMessage::parse(&[]).is_err());
    // Match data claims 300 bytes.
    assert_eq!(
        ClientMessage::parse(&[1, 4, 0x2c, 0x01]),
        Err(Error::BadLength { len: 300 })
    );
    // A lobby code with an ambiguous letter.
    assert!(ClientMessage::parse(b"\x03ABCDE0").is_err());
    // Bytes after a complete message.
    assert!(ClientMessage::parse(&[5, 0]).is_err());
    assert!(RelayMessage::parse(&[0x84, 200]).is_err());
    assert!(RelayMessage::parse(&[0x89, 200]).is_err());
    for len in 0..9 {
        let full = RelayMessage::Success {
            random_seed: 1,
            player_idx: 0,
            player_count: 2,
            rejoin_secret: [0; REJOIN_SECRET_LEN],
        }
        .to_vec();
        assert!(RelayMessage::parse(&full[..len]).is_err());
    }
}

#[test]
fn lobby_codes_use_only_the_unambiguous_alphabet() {
    for b in 0..=255u8 {
        let code = LobbyCode::from_random([b; LOBBY_CODE_LEN]);
        assert!(
            code.as_str()
                .bytes()
                .all(|c| LOBBY_CODE_ALPHABET.contains(&c))
        );
        assert_eq!(LobbyCode::parse_text(code.as_str()), Some(code));
    }
    assert_eq!(LobbyCode::parse_text("ABCDEFG"), None);
}
