//! The matchmaker and relay messages: parse/emit pairs.
//!
//! Each message travels as one channel message on the relay's reserved
//! channels ([`CONTROL`], reliable-ordered, and [`UNRELIABLE`]) and starts
//! with a type byte. All integers little-endian; see `docs/wire.md`,
//! "Relay messages".

mod direct;
mod token_room;

pub use direct::{
    ADDRESS_CHECK_LEN, ADDRESS_CHECK_MARKER, CHECK_TICKET_LEN, DIRECT_HEADER_LEN, DIRECT_MARKER,
    DIRECTION_BIT, DirectHeader, Introduction, MAX_CANDIDATES, MAX_LAN_CANDIDATES, PAIR_KEY_LEN,
};

pub use token_room::TokenRoom;

use crate::proto::channel::ChannelId;
use crate::wire::{Error, Reader, Writer};
use std::net::SocketAddr;

/// The relay's reliable-ordered channel (matchmaking, reliable proxying):
/// the first id of the reserved block.
pub const CONTROL: ChannelId = ChannelId::RESERVED_FIRST;
/// The relay's unreliable channel (unreliable proxying).
pub const UNRELIABLE: ChannelId = match ChannelId::new(ChannelId::RESERVED_FIRST.get() + 1) {
    Some(id) => id,
    None => ChannelId::MAX,
};
/// Longest `match_data`.
pub const MAX_MATCH_DATA_LEN: usize = 256;
/// Most players in a room.
pub const MAX_PLAYERS: u8 = 16;
/// Characters of a lobby code.
pub const LOBBY_CODE_LEN: usize = 6;
/// What lobby codes are made of: no 0/O, 1/I/L, so they read aloud well.
pub const LOBBY_CODE_ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Bytes of a rejoin secret.
pub const REJOIN_SECRET_LEN: usize = 16;
/// Most lobbies in one [`RelayMessage::LobbyList`].
pub const MAX_LOBBY_LIST: usize = 32;

/// What players must share to play together: byte-identical infos share a room.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MatchInfo {
    /// Players in a full room, 1..=[`MAX_PLAYERS`].
    pub player_count: u8,
    /// Game-defined bytes (mode, map, version), at most [`MAX_MATCH_DATA_LEN`].
    pub match_data: Vec<u8>,
}

/// A lobby's join code: [`LOBBY_CODE_LEN`] characters of [`LOBBY_CODE_ALPHABET`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LobbyCode([u8; LOBBY_CODE_LEN]);

impl LobbyCode {
    /// The code `text`, if it has the right length and characters
    /// (lower case is accepted and upper-cased).
    pub fn parse_text(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let mut code = [0u8; LOBBY_CODE_LEN];
        if bytes.len() != LOBBY_CODE_LEN {
            return None;
        }
        for (out, c) in code.iter_mut().zip(bytes) {
            let c = c.to_ascii_uppercase();
            if !LOBBY_CODE_ALPHABET.contains(&c) {
                return None;
            }
            *out = c;
        }
        Some(Self(code))
    }

    /// The code made from `random` bytes, one character per byte.
    pub fn from_random(random: [u8; LOBBY_CODE_LEN]) -> Self {
        let alphabet = LOBBY_CODE_ALPHABET.len() as u8;
        Self(random.map(|b| {
            LOBBY_CODE_ALPHABET
                .get(usize::from(b % alphabet))
                .copied()
                .unwrap_or(b'2')
        }))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// Reads a code as it goes on the wire: exactly the alphabet's
    /// characters (upper case only: one encoding per code).
    fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let bytes = r.array::<LOBBY_CODE_LEN>()?;
        if !bytes.iter().all(|c| LOBBY_CODE_ALPHABET.contains(c)) {
            return Err(Error::BadLength {
                len: LOBBY_CODE_LEN,
            });
        }
        let mut code = [0u8; LOBBY_CODE_LEN];
        code.copy_from_slice(bytes);
        Ok(Self(code))
    }
}

impl std::fmt::Display for LobbyCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a proxied message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// One player, by index in the room.
    Player(u8),
    /// Every other player in the room (never the sender).
    AllOthers,
}

/// Why a player left a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaveReason {
    /// It asked to ([`ClientMessage::LeaveRoom`]).
    Left,
    /// Its connection ended or timed out; in a match, its seat is held
    /// for the rejoin window.
    Disconnected,
    /// The relay dropped it for not keeping up: it did not ack the room's
    /// reliable messages fast enough to take more, and the relay does not
    /// drop reliable messages silently. In a match, its seat is held for
    /// the rejoin window.
    TooSlow,
}

/// Why the relay refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayError {
    /// The message did not parse.
    BadRequest,
    /// `player_count` is 0 or over [`MAX_PLAYERS`], or match data too long.
    BadMatchInfo,
    /// No open lobby has that code.
    NoSuchLobby,
    /// The lobby is full or its match started.
    LobbyFull,
    /// The player is not in a room (or the room has not started).
    NotInRoom,
    /// Only the lobby's host may start it.
    NotHost,
    /// A proxy target is not a player of the room.
    BadTarget,
    /// Too many requests; slow down.
    RateLimited,
    /// The player is already in a room; leave it first.
    AlreadyInRoom,
    /// The rejoin secret matches no seat held open.
    BadRejoin,
    /// The relay is draining and takes no new matches.
    Draining,
    /// The relay's rooms or lobbies are at their limit.
    Full,
}

impl RelayError {
    const ALL: [Self; 12] = [
        Self::BadRequest,
        Self::BadMatchInfo,
        Self::NoSuchLobby,
        Self::LobbyFull,
        Self::NotInRoom,
        Self::NotHost,
        Self::BadTarget,
        Self::RateLimited,
        Self::AlreadyInRoom,
        Self::BadRejoin,
        Self::Draining,
        Self::Full,
    ];

    fn code(self) -> u8 {
        Self::ALL.iter().position(|e| *e == self).unwrap_or(0) as u8
    }

    fn from_code(code: u8) -> Result<Self, Error> {
        Self::ALL
            .get(usize::from(code))
            .copied()
            .ok_or(Error::BadFrameKind(code))
    }
}

/// A public lobby in a [`RelayMessage::LobbyList`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LobbyEntry {
    /// Its join code.
    pub code: LobbyCode,
    /// Players in it now.
    pub players: u8,
    /// Players it is made for.
    pub player_count: u8,
}

/// What a game sends the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientMessage<'a> {
    /// Join (or open) the waiting room for this match.
    RequestMatch(MatchInfo),
    /// Open a lobby and host it.
    CreateLobby {
        /// What the lobby is for.
        info: MatchInfo,
        /// Whether [`ClientMessage::ListLobbies`] shows it.
        public: bool,
    },
    /// Join the lobby with this code.
    JoinLobby(LobbyCode),
    /// List public lobbies, not started, with this match data.
    ListLobbies {
        /// The match data to look for.
        match_data: &'a [u8],
    },
    /// Leave the waiting room, lobby or match.
    LeaveRoom,
    /// Start the lobby now (host only), even below its player count.
    StartMatch,
    /// Relay `data` to `target` in the room.
    SendProxy {
        /// Who it is for.
        target: Target,
        /// The game's bytes.
        data: &'a [u8],
    },
    /// Take back a seat held open after a disconnect.
    Rejoin([u8; REJOIN_SECRET_LEN]),
    /// This player consents to direct play: the relay may show its address,
    /// and these LAN addresses, to the other consenting players of a room
    /// that allows it. Holds for this connection; send it before joining.
    AllowDirect {
        /// Its LAN addresses, at most [`MAX_LAN_CANDIDATES`].
        lan: Vec<SocketAddr>,
    },
    /// Relay a sealed direct datagram to player `to`: the path between two
    /// introduced players while they have no direct one.
    SendPair {
        /// The receiver's index.
        to: u8,
        /// The datagram, as it would go direct.
        data: &'a [u8],
    },
}

/// What the relay sends a game.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayMessage<'a> {
    /// The match request was taken; waiting for players.
    Accepted,
    /// Players in the waiting room or lobby now.
    WaitingCount(u8),
    /// The lobby is open under this code.
    LobbyCreated(LobbyCode),
    /// Public lobbies matching a [`ClientMessage::ListLobbies`].
    LobbyList(Vec<LobbyEntry>),
    /// The match starts.
    Success {
        /// The same for every player of the room.
        random_seed: u64,
        /// This player's index, 0..player_count.
        player_idx: u8,
        /// Players in the match.
        player_count: u8,
        /// Give it back in [`ClientMessage::Rejoin`] to take this seat again
        /// within the rejoin window.
        rejoin_secret: [u8; REJOIN_SECRET_LEN],
    },
    /// Bytes another player relayed.
    RecvProxy {
        /// The sender's index.
        from: u8,
        /// Its bytes.
        data: &'a [u8],
    },
    /// A player left the room.
    PlayerLeft {
        /// Its index.
        idx: u8,
        /// Why.
        reason: LeaveReason,
    },
    /// A player who had dropped took its seat again.
    PlayerRejoined(u8),
    /// A request was refused.
    Error(RelayError),
    /// Another consenting player, to try reaching directly.
    Introduce(Introduction),
    /// A sealed direct datagram another player sent through the relay.
    RecvPair {
        /// The sender's index.
        from: u8,
        /// The datagram.
        data: &'a [u8],
    },
    /// Send this ticket, after [`ADDRESS_CHECK_MARKER`], to another port of
    /// the relay (an address of the connect token other than the one
    /// connected to), from the same socket.
    CheckAddress([u8; CHECK_TICKET_LEN]),
    /// The address check arrived: whether this player's NAT mapped it to
    /// another public address for the second port (a NAT that maps per
    /// destination, "symmetric", through which punching cannot work).
    AddressChecked {
        /// The NAT maps per destination.
        per_destination: bool,
    },
}

mod kind {
    pub(super) const REQUEST_MATCH: u8 = 1;
    pub(super) const CREATE_LOBBY: u8 = 2;
    pub(super) const JOIN_LOBBY: u8 = 3;
    pub(super) const LIST_LOBBIES: u8 = 4;
    pub(super) const LEAVE_ROOM: u8 = 5;
    pub(super) const START_MATCH: u8 = 6;
    pub(super) const SEND_PROXY: u8 = 7;
    pub(super) const REJOIN: u8 = 8;
    pub(super) const ALLOW_DIRECT: u8 = 9;
    pub(super) const SEND_PAIR: u8 = 10;
    pub(super) const ACCEPTED: u8 = 0x81;
    pub(super) const WAITING_COUNT: u8 = 0x82;
    pub(super) const LOBBY_CREATED: u8 = 0x83;
    pub(super) const LOBBY_LIST: u8 = 0x84;
    pub(super) const SUCCESS: u8 = 0x85;
    pub(super) const RECV_PROXY: u8 = 0x86;
    pub(super) const PLAYER_LEFT: u8 = 0x87;
    pub(super) const PLAYER_REJOINED: u8 = 0x88;
    pub(super) const ERROR: u8 = 0x89;
    pub(super) const INTRODUCE: u8 = 0x8A;
    pub(super) const RECV_PAIR: u8 = 0x8B;
    pub(super) const CHECK_ADDRESS: u8 = 0x8C;
    pub(super) const ADDRESS_CHECKED: u8 = 0x8D;
}

const ALL_OTHERS: u8 = 0xff;

fn parse_info(r: &mut Reader<'_>) -> Result<MatchInfo, Error> {
    let player_count = r.u8()?;
    let len = usize::from(r.u16()?);
    if len > MAX_MATCH_DATA_LEN {
        return Err(Error::BadLength { len });
    }
    Ok(MatchInfo {
        player_count,
        match_data: r.bytes(len)?.to_vec(),
    })
}

fn emit_info(info: &MatchInfo, w: &mut Writer<'_>) -> Result<(), Error> {
    let len = info.match_data.len();
    let len16 = u16::try_from(len).map_err(|_| Error::BadLength { len })?;
    w.u8(info.player_count)?;
    w.u16(len16)?;
    w.bytes(&info.match_data)
}

fn finish<T>(r: &Reader<'_>, value: T) -> Result<T, Error> {
    if r.remaining() == 0 {
        Ok(value)
    } else {
        Err(Error::BadLength { len: r.remaining() })
    }
}

impl<'a> ClientMessage<'a> {
    /// Reads one message.
    ///
    /// # Errors
    ///
    /// [`Error::BadFrameKind`] for an unknown type; [`Error::Truncated`];
    /// [`Error::BadLength`] for match data over [`MAX_MATCH_DATA_LEN`],
    /// a bad lobby code, or bytes left over; [`Error::BadFlag`] for a
    /// `public` byte other than 0 or 1.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let message = match r.u8()? {
            kind::REQUEST_MATCH => Self::RequestMatch(parse_info(&mut r)?),
            kind::CREATE_LOBBY => {
                let info = parse_info(&mut r)?;
                let public = match r.u8()? {
                    0 => false,
                    1 => true,
                    other => return Err(Error::BadFlag(other)),
                };
                Self::CreateLobby { info, public }
            }
            kind::JOIN_LOBBY => Self::JoinLobby(LobbyCode::parse(&mut r)?),
            kind::LIST_LOBBIES => {
                let data = r.into_rest();
                if data.len() > MAX_MATCH_DATA_LEN {
                    return Err(Error::BadLength { len: data.len() });
                }
                return Ok(Self::ListLobbies { match_data: data });
            }
            kind::LEAVE_ROOM => Self::LeaveRoom,
            kind::START_MATCH => Self::StartMatch,
            kind::SEND_PROXY => {
                let target = match r.u8()? {
                    ALL_OTHERS => Target::AllOthers,
                    idx => Target::Player(idx),
                };
                return Ok(Self::SendProxy {
                    target,
                    data: r.into_rest(),
                });
            }
            kind::REJOIN => Self::Rejoin(*r.array::<REJOIN_SECRET_LEN>()?),
            kind::ALLOW_DIRECT => Self::AllowDirect {
                lan: direct::parse_addresses(&mut r, MAX_LAN_CANDIDATES)?,
            },
            kind::SEND_PAIR => {
                let to = r.u8()?;
                return Ok(Self::SendPair {
                    to,
                    data: r.into_rest(),
                });
            }
            other => return Err(Error::BadFrameKind(other)),
        };
        finish(&r, message)
    }

    /// Writes the message.
    ///
    /// # Errors
    ///
    /// [`Error::BadLength`] for match data over 65,535 bytes;
    /// [`Error::BufferTooSmall`].
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        match self {
            Self::RequestMatch(info) => {
                w.u8(kind::REQUEST_MATCH)?;
                emit_info(info, w)
            }
            Self::CreateLobby { info, public } => {
                w.u8(kind::CREATE_LOBBY)?;
                emit_info(info, w)?;
                w.u8(u8::from(*public))
            }
            Self::JoinLobby(code) => {
                w.u8(kind::JOIN_LOBBY)?;
                w.bytes(&code.0)
            }
            Self::ListLobbies { match_data } => {
                w.u8(kind::LIST_LOBBIES)?;
                w.bytes(match_data)
            }
            Self::LeaveRoom => w.u8(kind::LEAVE_ROOM),
            Self::StartMatch => w.u8(kind::START_MATCH),
            Self::SendProxy { target, data } => {
                w.u8(kind::SEND_PROXY)?;
                w.u8(match target {
                    Target::AllOthers => ALL_OTHERS,
                    Target::Player(idx) => *idx,
                })?;
                w.bytes(data)
            }
            Self::Rejoin(secret) => {
                w.u8(kind::REJOIN)?;
                w.bytes(secret)
            }
            Self::AllowDirect { lan } => {
                w.u8(kind::ALLOW_DIRECT)?;
                direct::emit_addresses(lan, MAX_LAN_CANDIDATES, w)
            }
            Self::SendPair { to, data } => {
                w.u8(kind::SEND_PAIR)?;
                w.u8(*to)?;
                w.bytes(data)
            }
        }
    }

    /// Bytes [`ClientMessage::emit`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + match self {
            Self::RequestMatch(info) => 3 + info.match_data.len(),
            Self::CreateLobby { info, .. } => 4 + info.match_data.len(),
            Self::JoinLobby(_) => LOBBY_CODE_LEN,
            Self::ListLobbies { match_data } => match_data.len(),
            Self::LeaveRoom | Self::StartMatch => 0,
            Self::SendProxy { data, .. } => 1 + data.len(),
            Self::Rejoin(_) => REJOIN_SECRET_LEN,
            Self::AllowDirect { lan } => direct::addresses_len(lan),
            Self::SendPair { data, .. } => 1 + data.len(),
        }
    }

    /// The message as a new `Vec`.
    pub fn to_vec(&self) -> Vec<u8> {
        to_vec(self.encoded_len(), |w| self.emit(w))
    }
}

impl<'a> RelayMessage<'a> {
    /// Reads one message.
    ///
    /// # Errors
    ///
    /// As [`ClientMessage::parse`]; a lobby list longer than
    /// [`MAX_LOBBY_LIST`] is [`Error::BadLength`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let message = match r.u8()? {
            kind::ACCEPTED => Self::Accepted,
            kind::WAITING_COUNT => Self::WaitingCount(r.u8()?),
            kind::LOBBY_CREATED => Self::LobbyCreated(LobbyCode::parse(&mut r)?),
            kind::LOBBY_LIST => {
                let count = usize::from(r.u8()?);
                if count > MAX_LOBBY_LIST {
                    return Err(Error::BadLength { len: count });
                }
                let mut entries = Vec::with_capacity(count);
                for _ in 0..count {
                    entries.push(LobbyEntry {
                        code: LobbyCode::parse(&mut r)?,
                        players: r.u8()?,
                        player_count: r.u8()?,
                    });
                }
                Self::LobbyList(entries)
            }
            kind::SUCCESS => Self::Success {
                random_seed: r.u64()?,
                player_idx: r.u8()?,
                player_count: r.u8()?,
                rejoin_secret: *r.array::<REJOIN_SECRET_LEN>()?,
            },
            kind::RECV_PROXY => {
                let from = r.u8()?;
                return Ok(Self::RecvProxy {
                    from,
                    data: r.into_rest(),
                });
            }
            kind::PLAYER_LEFT => {
                let idx = r.u8()?;
                let reason = match r.u8()? {
                    0 => LeaveReason::Left,
                    1 => LeaveReason::Disconnected,
                    2 => LeaveReason::TooSlow,
                    other => return Err(Error::BadFrameKind(other)),
                };
                Self::PlayerLeft { idx, reason }
            }
            kind::PLAYER_REJOINED => Self::PlayerRejoined(r.u8()?),
            kind::ERROR => Self::Error(RelayError::from_code(r.u8()?)?),
            kind::INTRODUCE => Self::Introduce(Introduction::parse(&mut r)?),
            kind::CHECK_ADDRESS => Self::CheckAddress(*r.array::<CHECK_TICKET_LEN>()?),
            kind::ADDRESS_CHECKED => Self::AddressChecked {
                per_destination: match r.u8()? {
                    0 => false,
                    1 => true,
                    other => return Err(Error::BadFlag(other)),
                },
            },
            kind::RECV_PAIR => {
                let from = r.u8()?;
                return Ok(Self::RecvPair {
                    from,
                    data: r.into_rest(),
                });
            }
            other => return Err(Error::BadFrameKind(other)),
        };
        finish(&r, message)
    }

    /// Writes the message.
    ///
    /// # Errors
    ///
    /// [`Error::BadLength`] for a lobby list over [`MAX_LOBBY_LIST`];
    /// [`Error::BufferTooSmall`].
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        match self {
            Self::Accepted => w.u8(kind::ACCEPTED),
            Self::WaitingCount(n) => {
                w.u8(kind::WAITING_COUNT)?;
                w.u8(*n)
            }
            Self::LobbyCreated(code) => {
                w.u8(kind::LOBBY_CREATED)?;
                w.bytes(&code.0)
            }
            Self::LobbyList(entries) => {
                if entries.len() > MAX_LOBBY_LIST {
                    return Err(Error::BadLength { len: entries.len() });
                }
                w.u8(kind::LOBBY_LIST)?;
                w.u8(entries.len() as u8)?;
                for entry in entries {
                    w.bytes(&entry.code.0)?;
                    w.u8(entry.players)?;
                    w.u8(entry.player_count)?;
                }
                Ok(())
            }
            Self::Success {
                random_seed,
                player_idx,
                player_count,
                rejoin_secret,
            } => {
                w.u8(kind::SUCCESS)?;
                w.u64(*random_seed)?;
                w.u8(*player_idx)?;
                w.u8(*player_count)?;
                w.bytes(rejoin_secret)
            }
            Self::RecvProxy { from, data } => {
                w.u8(kind::RECV_PROXY)?;
                w.u8(*from)?;
                w.bytes(data)
            }
            Self::PlayerLeft { idx, reason } => {
                w.u8(kind::PLAYER_LEFT)?;
                w.u8(*idx)?;
                w.u8(match reason {
                    LeaveReason::Left => 0,
                    LeaveReason::Disconnected => 1,
                    LeaveReason::TooSlow => 2,
                })
            }
            Self::PlayerRejoined(idx) => {
                w.u8(kind::PLAYER_REJOINED)?;
                w.u8(*idx)
            }
            Self::Error(error) => {
                w.u8(kind::ERROR)?;
                w.u8(error.code())
            }
            Self::Introduce(introduction) => {
                w.u8(kind::INTRODUCE)?;
                introduction.emit(w)
            }
            Self::RecvPair { from, data } => {
                w.u8(kind::RECV_PAIR)?;
                w.u8(*from)?;
                w.bytes(data)
            }
            Self::CheckAddress(ticket) => {
                w.u8(kind::CHECK_ADDRESS)?;
                w.bytes(ticket)
            }
            Self::AddressChecked { per_destination } => {
                w.u8(kind::ADDRESS_CHECKED)?;
                w.u8(u8::from(*per_destination))
            }
        }
    }

    /// Bytes [`RelayMessage::emit`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + match self {
            Self::Accepted => 0,
            Self::WaitingCount(_) | Self::PlayerRejoined(_) | Self::Error(_) => 1,
            Self::LobbyCreated(_) => LOBBY_CODE_LEN,
            Self::LobbyList(entries) => 1 + entries.len() * (LOBBY_CODE_LEN + 2),
            Self::Success { .. } => 10 + REJOIN_SECRET_LEN,
            Self::RecvProxy { data, .. } | Self::RecvPair { data, .. } => 1 + data.len(),
            Self::PlayerLeft { .. } => 2,
            Self::Introduce(introduction) => introduction.encoded_len(),
            Self::CheckAddress(_) => CHECK_TICKET_LEN,
            Self::AddressChecked { .. } => 1,
        }
    }

    /// The message as a new `Vec`.
    pub fn to_vec(&self) -> Vec<u8> {
        to_vec(self.encoded_len(), |w| self.emit(w))
    }

    /// Writes the message over what `buf` held, reusing its capacity, so
    /// that one buffer serves message after message without allocating
    /// (the relay encodes each forward once, for all its recipients).
    pub fn write_over(&self, buf: &mut Vec<u8>) {
        write_over(buf, self.encoded_len(), |w| self.emit(w));
    }
}

/// Emits a message of `len` bytes into a new `Vec`; empty if it would not emit.
fn to_vec(len: usize, emit: impl FnOnce(&mut Writer<'_>) -> Result<(), Error>) -> Vec<u8> {
    let mut buf = Vec::new();
    write_over(&mut buf, len, emit);
    buf
}

/// Emits a message of `len` bytes over what `buf` held; empty if it would not emit.
fn write_over(
    buf: &mut Vec<u8>,
    len: usize,
    emit: impl FnOnce(&mut Writer<'_>) -> Result<(), Error>,
) {
    buf.clear();
    buf.resize(len, 0);
    let mut w = Writer::new(buf);
    let len = match emit(&mut w) {
        Ok(()) => w.len(),
        Err(_) => 0,
    };
    buf.truncate(len);
}

#[cfg(test)]
mod tests;
