//! Fleet rooms in the matchmaker: players a fleet front placed in one room
//! meet in it, and a room whose node died is rebuilt, seat by seat, on the
//! node its players rejoin through.

use super::{Matchmaker, Outbound, RoomKind, Seat};
use crate::engine::PeerId;
use crate::relay::protocol::{MAX_PLAYERS, MatchInfo, REJOIN_SECRET_LEN, RelayError, RelayMessage};
use std::time::Instant;

impl Matchmaker {
    /// `peer` asks for the match of fleet room `room` of `seats`: into that
    /// room (opened here on its first player), whatever its MatchInfo.
    pub(crate) fn request_fleet_match(
        &mut self,
        peer: PeerId,
        info: MatchInfo,
        (room, seats): (u64, u8),
        out: &mut Vec<Outbound>,
    ) {
        let info = MatchInfo {
            player_count: seats,
            ..info
        };
        if let Err(e) = self.check_new(peer, &info) {
            return Self::error(peer, e, out);
        }
        let id = match self.fleet_rooms.get(&room) {
            Some(&id) => id,
            None => self.insert_room(info, RoomKind::Waiting, false, Some(room)),
        };
        let open = self
            .rooms
            .get(&id)
            .is_some_and(|r| !r.started && r.seats.len() < usize::from(seats));
        if !open {
            return Self::error(peer, RelayError::LobbyFull, out);
        }
        out.push((peer, RelayMessage::Accepted.to_vec()));
        self.seat(id, peer, out);
    }

    /// Makes `secret` known here if it is a genuine fleet secret for the
    /// room `fleet` names: rebuilding the room, every seat held open for
    /// the rejoin window, when this node does not hold it.
    pub(super) fn rebuild_fleet_seat(
        &mut self,
        secret: [u8; REJOIN_SECRET_LEN],
        fleet: Option<(u64, u8)>,
        now: Instant,
    ) {
        let (Some(rejoin), Some((room, seats))) = (&self.fleet_rejoin, fleet) else {
            return;
        };
        let Some((named, index)) = rejoin.open(&secret) else {
            return;
        };
        if named != room || index >= seats || seats > MAX_PLAYERS {
            return;
        }
        let id = match self.fleet_rooms.get(&room) {
            Some(&id) => id,
            None => {
                if self.rooms.len() >= self.config.max_rooms {
                    return;
                }
                let info = MatchInfo {
                    player_count: seats,
                    match_data: Vec::new(),
                };
                let id = self.insert_room(info, RoomKind::Waiting, false, Some(room));
                let until = now + self.config.rejoin_grace;
                if let Some(rebuilt) = self.rooms.get_mut(&id) {
                    rebuilt.started = true;
                    rebuilt.seats = (0..seats).map(|_| Seat::Held { until }).collect();
                }
                self.changed.push(id);
                id
            }
        };
        self.secrets.insert(secret, (id, index));
    }
}
