//! What a fleet front puts in a connect token's user data for the relay
//! node: the room the player was placed for. Sealed inside the token, so
//! only a holder of the fleet's key can write it; the node trusts it.
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `BRT1` |
//! | 1 | kind: 1 = host a lobby, 2 = a seat of a match room, 3 = rejoin a match room |
//! | 6 | kind 1: lobby code |
//! | 8 + 1 | kinds 2 and 3: room id (`u64` LE), seats |
//! | rest | zero |
//!
//! User data that does not start with the magic (a lone relay's tokens:
//! all zero) names no room.

use super::LobbyCode;
use crate::wire::connect_token::{USER_DATA_LEN, UserData};
use crate::wire::{Reader, Writer};

const MAGIC: &[u8; 4] = b"BRT1";
const KIND_LOBBY_HOST: u8 = 1;
const KIND_MATCH: u8 = 2;
const KIND_REJOIN: u8 = 3;

/// The room a token was issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenRoom {
    /// The player will open a lobby: under this code, which the front
    /// claimed fleet-wide.
    LobbyHost(LobbyCode),
    /// The player was placed in fleet match room `room` of `seats`: players
    /// of one room meet, and its seed and rejoin secrets follow from its id.
    Match {
        /// The room's fleet-wide id.
        room: u64,
        /// Seats in the room.
        seats: u8,
    },
    /// The player rejoins fleet match room `room` of `seats` (its secret
    /// names the seat): the node rebuilds the room if it never held it.
    Rejoin {
        /// The room's fleet-wide id.
        room: u64,
        /// Seats in the room.
        seats: u8,
    },
}

impl TokenRoom {
    /// The room `user_data` names, if it names one.
    pub fn parse(user_data: &UserData) -> Option<Self> {
        let mut r = Reader::new(user_data);
        if r.array::<4>().ok()? != MAGIC {
            return None;
        }
        match r.u8().ok()? {
            KIND_LOBBY_HOST => Some(Self::LobbyHost(LobbyCode::parse(&mut r).ok()?)),
            kind @ (KIND_MATCH | KIND_REJOIN) => {
                let room = r.u64().ok()?;
                let seats = r.u8().ok()?;
                Some(if kind == KIND_MATCH {
                    Self::Match { room, seats }
                } else {
                    Self::Rejoin { room, seats }
                })
            }
            _ => None,
        }
    }

    /// The room as token user data.
    pub fn to_user_data(&self) -> UserData {
        let mut data = [0u8; USER_DATA_LEN];
        let mut w = Writer::new(&mut data);
        let written = w.bytes(MAGIC).and_then(|()| match self {
            Self::LobbyHost(code) => {
                w.u8(KIND_LOBBY_HOST)?;
                w.bytes(code.as_str().as_bytes())
            }
            Self::Match { room, seats } | Self::Rejoin { room, seats } => {
                w.u8(if matches!(self, Self::Match { .. }) {
                    KIND_MATCH
                } else {
                    KIND_REJOIN
                })?;
                w.u64(*room)?;
                w.u8(*seats)
            }
        });
        debug_assert!(written.is_ok(), "a room fits the user data");
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_round_trips_and_anything_else_names_none() {
        let code = LobbyCode::parse_text("ABC234").unwrap();
        let room = TokenRoom::LobbyHost(code);
        assert_eq!(TokenRoom::parse(&room.to_user_data()), Some(room));
        for other in [
            TokenRoom::Match { room: 7, seats: 4 },
            TokenRoom::Rejoin {
                room: u64::MAX,
                seats: 2,
            },
        ] {
            assert_eq!(TokenRoom::parse(&other.to_user_data()), Some(other));
        }
        assert_eq!(TokenRoom::parse(&[0; USER_DATA_LEN]), None);
        let mut unknown = room.to_user_data();
        unknown[4] = 9;
        assert_eq!(TokenRoom::parse(&unknown), None);
        let mut bad_code = room.to_user_data();
        bad_code[5] = b'0';
        assert_eq!(TokenRoom::parse(&bad_code), None);
    }
}
