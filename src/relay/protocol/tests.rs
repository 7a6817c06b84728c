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
        ClientMessage::AllowDirect { lan: vec![] },
        ClientMessage::AllowDirect {
            lan: vec![
                "10.0.1.2:4000".parse().unwrap(),
                "[fe80::1]:4000".parse().unwrap(),
            ],
        },
        ClientMessage::SendPair {
            to: 1,
            data: b"sealed",
        },
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
        RelayMessage::Introduce(Introduction {
            peer: 1,
            key: [3; PAIR_KEY_LEN],
            delay_ms: 40,
            candidates: vec![
                "203.0.113.20:61000".parse().unwrap(),
                "10.0.2.2:5000".parse().unwrap(),
            ],
        }),
        RelayMessage::RecvPair {
            from: 0,
            data: b"sealed",
        },
        RelayMessage::CheckAddress([5; CHECK_TICKET_LEN]),
        RelayMessage::AddressChecked {
            per_destination: true,
        },
        RelayMessage::AddressChecked {
            per_destination: false,
        },
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
fn hostile_direct_messages_are_errors() {
    // Five LAN addresses, one over the limit.
    let mut five = vec![9, 5];
    for _ in 0..5 {
        five.extend_from_slice(&[1, 10, 0, 0, 1, 0x10, 0x27]);
    }
    assert_eq!(
        ClientMessage::parse(&five),
        Err(Error::BadLength { len: 5 })
    );
    // An address of an unknown type.
    assert!(ClientMessage::parse(&[9, 1, 7, 0, 0]).is_err());
    let introduction = RelayMessage::Introduce(Introduction {
        peer: 0,
        key: [0; PAIR_KEY_LEN],
        delay_ms: 0,
        candidates: vec!["203.0.113.10:1".parse().unwrap()],
    })
    .to_vec();
    for len in 0..introduction.len() {
        assert!(RelayMessage::parse(&introduction[..len]).is_err());
    }
    // No candidates at all.
    let mut empty = introduction[..1 + 3 + PAIR_KEY_LEN].to_vec();
    empty.push(0);
    assert_eq!(
        RelayMessage::parse(&empty),
        Err(Error::BadLength { len: 0 })
    );
    assert_eq!(RelayMessage::parse(&[0x8D, 2]), Err(Error::BadFlag(2)));
    assert!(RelayMessage::parse(&[0x8C; CHECK_TICKET_LEN]).is_err());
    // A direct datagram with another first byte, or cut short.
    assert!(DirectHeader::parse(&[0x01; 20]).is_err());
    assert!(DirectHeader::parse(&[DIRECT_MARKER, 0, 1, 0]).is_err());
    let (header, rest) = DirectHeader::parse(&[DIRECT_MARKER, 2, 1, 0, 0, 0x80, 9]).unwrap();
    assert_eq!(
        (header.from, header.sequence, rest),
        (2, DIRECTION_BIT | 1, &[9][..])
    );
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
