//! What a fleet front puts in a connect token's user data for the relay
//! node: the room the player was placed for. Sealed inside the token, so
//! only a holder of the fleet's key can write it; the node trusts it.
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `BRT1` |
//! | 1 | kind: 1 = host a lobby |
//! | 6 | lobby code (kind 1) |
//! | rest | zero |
//!
//! User data that does not start with the magic (a lone relay's tokens:
//! all zero) names no room.

use super::LobbyCode;
use crate::wire::connect_token::{USER_DATA_LEN, UserData};
use crate::wire::{Reader, Writer};

const MAGIC: &[u8; 4] = b"BRT1";
const KIND_LOBBY_HOST: u8 = 1;

/// The room a token was issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenRoom {
    /// The player will open a lobby: under this code, which the front
    /// claimed fleet-wide.
    LobbyHost(LobbyCode),
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
        assert_eq!(TokenRoom::parse(&[0; USER_DATA_LEN]), None);
        let mut unknown = room.to_user_data();
        unknown[4] = 9;
        assert_eq!(TokenRoom::parse(&unknown), None);
        let mut bad_code = room.to_user_data();
        bad_code[5] = b'0';
        assert_eq!(TokenRoom::parse(&bad_code), None);
    }
}
