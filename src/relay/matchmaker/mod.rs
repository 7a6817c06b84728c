//! Rooms, lobbies and seats: the relay's state, shared by every port.
//!
//! Every call takes the time and returns what to tell whom in `out`; no
//! sockets, so tests drive it directly. The handler holds it behind one
//! lock, taken for matchmaking requests; proxied messages are routed from
//! each port's own copy of the started rooms (`super::routes`), which the
//! matchmaker keeps current through [`Matchmaker::take_route_updates`].

use super::config::RelayConfig;
#[cfg(test)]
use super::protocol::Target;
use super::protocol::{
    LOBBY_CODE_LEN, LeaveReason, LobbyCode, LobbyEntry, MAX_MATCH_DATA_LEN, MAX_PLAYERS, MatchInfo,
    REJOIN_SECRET_LEN, RelayError, RelayMessage,
};
use super::routes::{RouteSeat, RouteUpdate, Routes};
use crate::crypto::{OsRandom, Random};
use crate::engine::PeerId;
use crate::relay::FleetRejoin;
use ahash::RandomState;
use direct::Consents;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

mod direct;
mod fleet;

/// A message for one peer, on the control channel.
pub(crate) type Outbound = (PeerId, Vec<u8>);

/// Tries at a fresh lobby code before giving up (the space has 887 million).
const CODE_TRIES: usize = 16;

#[derive(Debug)]
enum Seat {
    Taken(PeerId),
    /// A dropped player's seat, open to its rejoin secret until the deadline.
    Held {
        until: Instant,
    },
    Empty,
}

impl Seat {
    /// The seat as routing sees it.
    fn route(&self) -> RouteSeat {
        match self {
            Self::Taken(peer) => RouteSeat::Taken(*peer),
            Self::Held { .. } => RouteSeat::Held,
            Self::Empty => RouteSeat::Empty,
        }
    }
}

#[derive(Debug)]
enum RoomKind {
    /// Matched by byte-identical [`MatchInfo`].
    Waiting,
    /// Joined by code; the host may start it early.
    Lobby {
        code: LobbyCode,
        public: bool,
        host: PeerId,
    },
}

#[derive(Debug)]
struct Room {
    info: MatchInfo,
    kind: RoomKind,
    /// Before the start, the players in join order; after, by index.
    seats: Vec<Seat>,
    started: bool,
    seed: u64,
    /// Consenting players of this room are introduced to each other.
    direct: bool,
    /// The room's fleet-wide id, when a fleet front placed it: its seed and
    /// rejoin secrets follow from it, so another node can rebuild it.
    fleet: Option<u64>,
}

impl Room {
    fn taken(&self) -> impl Iterator<Item = (u8, PeerId)> + '_ {
        (0u8..)
            .zip(&self.seats)
            .filter_map(|(idx, seat)| match seat {
                Seat::Taken(peer) => Some((idx, *peer)),
                _ => None,
            })
    }

    fn index_of(&self, peer: PeerId) -> Option<u8> {
        self.taken().find(|(_, p)| *p == peer).map(|(idx, _)| idx)
    }
}

/// The relay's rooms and who sits where.
#[derive(Debug)]
pub(crate) struct Matchmaker {
    config: RelayConfig,
    rooms: HashMap<u64, Room, RandomState>,
    /// Open waiting rooms by what they match on, and whether they allow
    /// direct play. Keyed by peer-chosen bytes: randomly seeded hashing.
    waiting: HashMap<(MatchInfo, bool), u64, RandomState>,
    lobbies: HashMap<LobbyCode, u64, RandomState>,
    players: HashMap<PeerId, u64, RandomState>,
    /// Each seat's rejoin secret: room and index.
    secrets: HashMap<[u8; REJOIN_SECRET_LEN], (u64, u8), RandomState>,
    /// Started rooms changed since [`Matchmaker::take_route_updates`]
    /// (started, a seat taken or left, removed); may repeat.
    changed: Vec<u64>,
    next_room: u64,
    draining: bool,
    random: OsRandom,
    consents: Consents,
    /// Fleet rooms held here, by fleet id.
    fleet_rooms: HashMap<u64, u64, RandomState>,
    /// Checks fleet rejoin secrets; `None` for a relay outside a fleet.
    fleet_rejoin: Option<FleetRejoin>,
}

impl Matchmaker {
    pub(crate) fn new(config: RelayConfig) -> Self {
        Self {
            config,
            rooms: HashMap::default(),
            waiting: HashMap::default(),
            lobbies: HashMap::default(),
            players: HashMap::default(),
            secrets: HashMap::default(),
            changed: Vec::new(),
            next_room: 0,
            draining: false,
            random: OsRandom,
            consents: Consents::default(),
            fleet_rooms: HashMap::default(),
            fleet_rejoin: None,
        }
    }

    /// Takes fleet rooms' rejoin secrets made with `rejoin`'s key.
    pub(crate) fn with_fleet_rejoin(mut self, rejoin: FleetRejoin) -> Self {
        self.fleet_rejoin = Some(rejoin);
        self
    }

    /// Rooms held now (waiting, lobbies, matches).
    pub(crate) fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// Players seated now.
    pub(crate) fn player_count(&self) -> usize {
        self.players.len()
    }

    /// Stops new matches and lobbies; rooms already made carry on.
    pub(crate) const fn is_draining(&self) -> bool {
        self.draining
    }

    pub(crate) fn drain(&mut self) {
        self.draining = true;
    }

    fn error(peer: PeerId, error: RelayError, out: &mut Vec<Outbound>) {
        out.push((peer, RelayMessage::Error(error).to_vec()));
    }

    fn check_new(&self, peer: PeerId, info: &MatchInfo) -> Result<(), RelayError> {
        if self.draining {
            return Err(RelayError::Draining);
        }
        if self.players.contains_key(&peer) {
            return Err(RelayError::AlreadyInRoom);
        }
        if info.player_count == 0
            || info.player_count > MAX_PLAYERS
            || info.match_data.len() > MAX_MATCH_DATA_LEN
        {
            return Err(RelayError::BadMatchInfo);
        }
        if self.rooms.len() >= self.config.max_rooms {
            return Err(RelayError::Full);
        }
        Ok(())
    }

    /// Whether a room `peer` opens allows direct play: the relay allows
    /// it and `peer` consented.
    fn allows_direct(&self, peer: PeerId) -> bool {
        self.config.direct_play && self.consents.contains(peer)
    }

    /// `peer`, seen at `observed` with round trip `rtt`, consents to direct
    /// play and reports `lan`; ignored (false) when the relay does not
    /// allow it.
    pub(crate) fn allow_direct(
        &mut self,
        peer: PeerId,
        observed: SocketAddr,
        lan: &[SocketAddr],
        rtt: Duration,
    ) -> bool {
        if self.config.direct_play {
            self.consents.allow(peer, observed, lan, rtt);
        }
        self.config.direct_play
    }

    /// `peer`'s address check arrived at another port from `from`: tells
    /// it whether its NAT maps per destination. Only the first check of a
    /// consent counts.
    pub(crate) fn address_checked(
        &mut self,
        peer: PeerId,
        from: SocketAddr,
        out: &mut Vec<Outbound>,
    ) {
        if let Some(per_destination) = self.consents.checked(peer, from) {
            out.push((
                peer,
                RelayMessage::AddressChecked { per_destination }.to_vec(),
            ));
        }
    }

    /// Forgets what `peer`'s connection consented to; call when it ends.
    pub(crate) fn forget(&mut self, peer: PeerId) {
        self.consents.forget(peer);
    }

    fn new_room(&mut self, info: MatchInfo, kind: RoomKind, direct: bool) -> u64 {
        self.insert_room(info, kind, direct, None)
    }

    /// Adds a room; a fleet room's seed is its fleet id, any other's random.
    fn insert_room(
        &mut self,
        info: MatchInfo,
        kind: RoomKind,
        direct: bool,
        fleet: Option<u64>,
    ) -> u64 {
        let id = self.next_room;
        self.next_room += 1;
        let mut seed = [0u8; 8];
        self.random.fill(&mut seed);
        let seed = fleet.unwrap_or(u64::from_le_bytes(seed));
        if let Some(fleet) = fleet {
            self.fleet_rooms.insert(fleet, id);
        }
        self.rooms.insert(
            id,
            Room {
                info,
                kind,
                seats: Vec::new(),
                started: false,
                seed,
                direct,
                fleet,
            },
        );
        id
    }

    /// `peer` asks for a match on `info`: into the waiting room for it.
    pub(crate) fn request_match(&mut self, peer: PeerId, info: MatchInfo, out: &mut Vec<Outbound>) {
        if let Err(e) = self.check_new(peer, &info) {
            return Self::error(peer, e, out);
        }
        // Consenting players wait apart: their rooms allow direct play.
        let key = (info, self.allows_direct(peer));
        let id = match self.waiting.get(&key) {
            Some(id) => *id,
            None => {
                let id = self.new_room(key.0.clone(), RoomKind::Waiting, key.1);
                self.waiting.insert(key, id);
                id
            }
        };
        out.push((peer, RelayMessage::Accepted.to_vec()));
        self.seat(id, peer, out);
    }

    /// `peer` opens a lobby for `info` and hosts it.
    ///
    /// With `preset`, the lobby takes that code (a fleet front claimed it
    /// fleet-wide for this player); without, a fresh one.
    pub(crate) fn create_lobby(
        &mut self,
        peer: PeerId,
        info: MatchInfo,
        public: bool,
        preset: Option<LobbyCode>,
        out: &mut Vec<Outbound>,
    ) {
        if let Err(e) = self.check_new(peer, &info) {
            return Self::error(peer, e, out);
        }
        let code = match preset {
            Some(code) if !self.lobbies.contains_key(&code) => Some(code),
            Some(_) => None,
            None => self.fresh_code(),
        };
        let Some(code) = code else {
            return Self::error(peer, RelayError::Full, out);
        };
        let direct = self.allows_direct(peer);
        let id = self.new_room(
            info,
            RoomKind::Lobby {
                code,
                public,
                host: peer,
            },
            direct,
        );
        self.lobbies.insert(code, id);
        out.push((peer, RelayMessage::LobbyCreated(code).to_vec()));
        self.seat(id, peer, out);
    }

    fn fresh_code(&mut self) -> Option<LobbyCode> {
        for _ in 0..CODE_TRIES {
            let mut random = [0u8; LOBBY_CODE_LEN];
            self.random.fill(&mut random);
            let code = LobbyCode::from_random(random);
            if !self.lobbies.contains_key(&code) {
                return Some(code);
            }
        }
        None
    }

    /// `peer` joins the lobby `code`. Returns false when the code names no
    /// lobby: a guess, which the caller charges to the peer's budget
    /// ([`super::budgets::FAILED_JOIN_COST`]).
    pub(crate) fn join_lobby(
        &mut self,
        peer: PeerId,
        code: LobbyCode,
        out: &mut Vec<Outbound>,
    ) -> bool {
        if self.players.contains_key(&peer) {
            Self::error(peer, RelayError::AlreadyInRoom, out);
            return true;
        }
        let found = self
            .lobbies
            .get(&code)
            .and_then(|id| Some((*id, self.rooms.get(id)?)));
        let Some((id, room)) = found else {
            Self::error(peer, RelayError::NoSuchLobby, out);
            return false;
        };
        if room.started || room.seats.len() >= usize::from(room.info.player_count) {
            Self::error(peer, RelayError::LobbyFull, out);
            return true;
        }
        out.push((peer, RelayMessage::Accepted.to_vec()));
        self.seat(id, peer, out);
        true
    }

    /// Public, unstarted lobbies for `match_data`, up to a page.
    pub(crate) fn list_lobbies(&self, peer: PeerId, match_data: &[u8], out: &mut Vec<Outbound>) {
        let entries: Vec<LobbyEntry> = self
            .lobbies
            .iter()
            .filter_map(|(code, id)| {
                let room = self.rooms.get(id)?;
                let public = matches!(room.kind, RoomKind::Lobby { public: true, .. });
                (public && !room.started && room.info.match_data == match_data).then_some(
                    LobbyEntry {
                        code: *code,
                        players: room.seats.len() as u8,
                        player_count: room.info.player_count,
                    },
                )
            })
            .take(self.config.max_lobby_list)
            .collect();
        out.push((peer, RelayMessage::LobbyList(entries).to_vec()));
    }

    /// Seats `peer` in room `id`, tells the room, and starts it when full.
    fn seat(&mut self, id: u64, peer: PeerId, out: &mut Vec<Outbound>) {
        let Some(room) = self.rooms.get_mut(&id) else {
            return;
        };
        room.seats.push(Seat::Taken(peer));
        self.players.insert(peer, id);
        let n = room.seats.len() as u8;
        for (_, p) in room.taken() {
            out.push((p, RelayMessage::WaitingCount(n).to_vec()));
        }
        if room.seats.len() >= usize::from(room.info.player_count) {
            self.start_room(id, out);
        }
    }

    /// The host of a lobby starts it now.
    pub(crate) fn start(&mut self, peer: PeerId, out: &mut Vec<Outbound>) {
        let Some(&id) = self.players.get(&peer) else {
            return Self::error(peer, RelayError::NotInRoom, out);
        };
        let is_host = self.rooms.get(&id).is_some_and(|r| {
            !r.started && matches!(r.kind, RoomKind::Lobby { host, .. } if host == peer)
        });
        if !is_host {
            return Self::error(peer, RelayError::NotHost, out);
        }
        self.start_room(id, out);
    }

    fn start_room(&mut self, id: u64, out: &mut Vec<Outbound>) {
        let Some(room) = self.rooms.get_mut(&id) else {
            return;
        };
        room.started = true;
        self.changed.push(id);
        match &room.kind {
            RoomKind::Waiting => {
                self.waiting.remove(&(room.info.clone(), room.direct));
            }
            RoomKind::Lobby { code, .. } => {
                self.lobbies.remove(code);
            }
        }
        let player_count = room.seats.len() as u8;
        let seed = room.seed;
        let direct = room.direct;
        let seated: Vec<(u8, PeerId)> = room.taken().collect();
        for &(idx, peer) in &seated {
            let success = self.success(id, idx, seed, player_count);
            out.push((peer, success));
        }
        if direct {
            for (n, &player) in seated.iter().enumerate() {
                let later = seated.get(n + 1..).unwrap_or_default().iter().copied();
                self.consents
                    .introduce(player, later, &mut self.random, out);
            }
        }
    }

    /// The `Success` for seat `idx` of room `id`, with a fresh rejoin secret.
    fn success(&mut self, id: u64, idx: u8, random_seed: u64, player_count: u8) -> Vec<u8> {
        let mut rejoin_secret = [0u8; REJOIN_SECRET_LEN];
        let fleet = self.rooms.get(&id).and_then(|r| r.fleet);
        match (fleet, &self.fleet_rejoin) {
            // Any node of the fleet can check it, and rebuild the room.
            (Some(room), Some(rejoin)) => rejoin_secret = rejoin.secret(room, idx),
            _ => self.random.fill(&mut rejoin_secret),
        }
        self.secrets.insert(rejoin_secret, (id, idx));
        RelayMessage::Success {
            random_seed,
            player_idx: idx,
            player_count,
            rejoin_secret,
        }
        .to_vec()
    }

    /// `peer` leaves its room (asked to, or its connection ended).
    pub(crate) fn leave(
        &mut self,
        peer: PeerId,
        reason: LeaveReason,
        now: Instant,
        out: &mut Vec<Outbound>,
    ) {
        let Some(id) = self.players.remove(&peer) else {
            if reason == LeaveReason::Left {
                Self::error(peer, RelayError::NotInRoom, out);
            }
            return;
        };
        let grace = self.config.rejoin_grace;
        let Some(room) = self.rooms.get_mut(&id) else {
            return;
        };
        let Some(idx) = room.index_of(peer) else {
            return;
        };
        if room.started {
            self.changed.push(id);
            let seat = room.seats.get_mut(usize::from(idx));
            if let Some(seat) = seat {
                *seat = match reason {
                    LeaveReason::Disconnected | LeaveReason::TooSlow => {
                        Seat::Held { until: now + grace }
                    }
                    LeaveReason::Left => Seat::Empty,
                };
            }
        } else {
            room.seats.remove(usize::from(idx));
        }
        let left = RelayMessage::PlayerLeft { idx, reason }.to_vec();
        let count = RelayMessage::WaitingCount(room.seats.len() as u8).to_vec();
        for (_, p) in room.taken() {
            out.push((p, left.clone()));
            if !room.started {
                out.push((p, count.clone()));
            }
        }
        if room.taken().next().is_none() {
            self.remove_room(id);
        }
    }

    fn remove_room(&mut self, id: u64) {
        if let Some(room) = self.rooms.remove(&id) {
            if room.started {
                self.changed.push(id);
            }
            if let Some(fleet) = room.fleet {
                self.fleet_rooms.remove(&fleet);
            }
            match room.kind {
                RoomKind::Waiting => {
                    let key = (room.info, room.direct);
                    if self.waiting.get(&key) == Some(&id) {
                        self.waiting.remove(&key);
                    }
                }
                RoomKind::Lobby { code, .. } => {
                    self.lobbies.remove(&code);
                }
            }
            self.secrets.retain(|_, (room, _)| *room != id);
        }
    }

    /// `peer`, on a new connection, takes back a held seat.
    ///
    /// `fleet` is the fleet room (id and seats) the peer's token names,
    /// when a fleet front sent it: a genuine secret for a room this node
    /// never held rebuilds it (its first node died).
    pub(crate) fn rejoin(
        &mut self,
        peer: PeerId,
        secret: [u8; REJOIN_SECRET_LEN],
        fleet: Option<(u64, u8)>,
        now: Instant,
        out: &mut Vec<Outbound>,
    ) {
        if self.players.contains_key(&peer) {
            return Self::error(peer, RelayError::AlreadyInRoom, out);
        }
        if !self.secrets.contains_key(&secret) {
            self.rebuild_fleet_seat(secret, fleet, now);
        }
        let Some((id, idx)) = self.secrets.get(&secret).copied() else {
            return Self::error(peer, RelayError::BadRejoin, out);
        };
        let Some(room) = self.rooms.get_mut(&id) else {
            return Self::error(peer, RelayError::BadRejoin, out);
        };
        let Some(seat) = room.seats.get_mut(usize::from(idx)) else {
            return Self::error(peer, RelayError::BadRejoin, out);
        };
        if !matches!(seat, Seat::Held { until } if *until >= now) {
            return Self::error(peer, RelayError::BadRejoin, out);
        }
        *seat = Seat::Taken(peer);
        self.changed.push(id);
        let (seed, player_count, direct) = (room.seed, room.seats.len() as u8, room.direct);
        let others: Vec<(u8, PeerId)> = room.taken().filter(|(i, _)| *i != idx).collect();
        self.players.insert(peer, id);
        // A secret opens its seat once.
        self.secrets.remove(&secret);
        let success = self.success(id, idx, seed, player_count);
        out.push((peer, success));
        let rejoined = RelayMessage::PlayerRejoined(idx).to_vec();
        out.extend(others.iter().map(|(_, p)| (*p, rejoined.clone())));
        if direct {
            self.consents
                .introduce((idx, peer), others, &mut self.random, out);
        }
    }

    /// Where `peer`'s proxied message goes: its index and the peers targeted.
    /// Hands `each` one update per started room changed since the last
    /// call: its seats now, or its removal.
    pub(crate) fn take_route_updates(&mut self, mut each: impl FnMut(RouteUpdate)) {
        self.changed.sort_unstable();
        self.changed.dedup();
        for id in self.changed.drain(..) {
            let update = match self.rooms.get(&id).filter(|room| room.started) {
                Some(room) => RouteUpdate::Room {
                    id,
                    seats: room.seats.iter().map(Seat::route).collect(),
                },
                None => RouteUpdate::Removed { id },
            };
            each(update);
        }
    }

    /// Rebuilds `routes` from every started room (for a port whose feed
    /// lost updates).
    pub(crate) fn fill_routes(&self, routes: &mut Routes) {
        routes.clear();
        for (&id, room) in self.rooms.iter().filter(|(_, room)| room.started) {
            routes.apply(&RouteUpdate::Room {
                id,
                seats: room.seats.iter().map(Seat::route).collect(),
            });
        }
    }

    /// The reference for [`Routes::route`], from the rooms themselves.
    #[cfg(test)]
    pub(crate) fn route(
        &self,
        peer: PeerId,
        target: Target,
        into: &mut Vec<PeerId>,
    ) -> Result<u8, RelayError> {
        let id = self.players.get(&peer).ok_or(RelayError::NotInRoom)?;
        let room = self.rooms.get(id).ok_or(RelayError::NotInRoom)?;
        if !room.started {
            return Err(RelayError::NotInRoom);
        }
        let from = room.index_of(peer).ok_or(RelayError::NotInRoom)?;
        match target {
            Target::AllOthers => {
                into.extend(room.taken().filter(|(idx, _)| *idx != from).map(|(_, p)| p))
            }
            Target::Player(idx) => match room.seats.get(usize::from(idx)) {
                Some(Seat::Taken(p)) if idx != from => into.push(*p),
                Some(Seat::Held { .. }) => {}
                _ => return Err(RelayError::BadTarget),
            },
        }
        Ok(from)
    }
}

#[cfg(test)]
mod direct_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;
