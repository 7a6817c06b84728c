//! One introduced pair's path, sans-IO: probes, latching, keep-alives and
//! fallback, and the pair's own channels, sealed end to end with the pair
//! key whichever way their packets go.

use super::{DirectConfig, PathCounters, PeerPath, Route};
use crate::crypto::{Key, MAC_LEN, PacketCipher};
use crate::proto::channel::{ChannelId, ChannelTable, Connection, Message};
use crate::proto::{Outbox, ReplayWindow, SendError};
use crate::relay::protocol::{
    DIRECT_HEADER_LEN, DIRECTION_BIT, DirectHeader, Introduction, MAX_CANDIDATES,
};
use crate::wire::Writer;
use crate::wire::packet::MAX_PAYLOAD_LEN;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The sealed body's first byte, low bits: a probe (no payload) or
/// channel data.
const KIND_PROBE: u8 = 0;
const KIND_DATA: u8 = 1;
/// The sealed body's first byte, top bit: the sender has had a direct
/// datagram from the receiver.
const FLAG_SEEN: u8 = 0x80;
/// Kind and flag.
const BODY_HEAD_LEN: usize = 1;
/// Where the sealed part starts.
const BODY_START: usize = DIRECT_HEADER_LEN;
/// Where channel data starts.
const PAYLOAD_START: usize = BODY_START + BODY_HEAD_LEN;
/// The longest direct datagram: a full channel payload.
pub(crate) const MAX_DIRECT_LEN: usize = PAYLOAD_START + MAX_PAYLOAD_LEN + MAC_LEN;
/// A direct datagram fits wherever a netcode packet does.
const _: () = assert!(MAX_DIRECT_LEN <= crate::wire::packet::MAX_PACKET_LEN);
/// A probe's length; its answer has the same.
pub(crate) const PROBE_LEN: usize = PAYLOAD_START + MAC_LEN;

/// Where a path stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Punch {
    /// Sending probes in round `round`; the next at `next`.
    Probing { round: usize, next: Instant },
    /// Both sides have had the other's datagrams.
    Direct,
    /// No direct path: probing gave up, or a direct path went silent.
    Relayed,
}

/// Why a datagram for a path was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PathDrop {
    /// Cut short, another pair's, or of an unknown kind.
    #[error("malformed direct datagram")]
    Malformed,
    /// Its sequence was seen already, or is too old.
    #[error("replayed direct datagram")]
    Replayed,
    /// It failed authentication under the pair key.
    #[error("direct datagram failed authentication")]
    BadTag,
    /// Its channel payload broke the channel rules.
    #[error("bad channel payload in a direct datagram")]
    BadPayload,
}

/// Where a path's datagrams go.
pub(crate) trait PathSink {
    /// Sends `datagram` from the client's socket to `to`.
    fn direct(&mut self, to: SocketAddr, datagram: &[u8]);
    /// Sends `datagram` through the relay to player `peer`.
    fn relayed(&mut self, peer: u8, datagram: &[u8]);
}

/// An [`Outbox`] as a sink for direct datagrams only (answers to probes).
pub(crate) struct OutboxSink<'a>(pub(crate) &'a mut dyn Outbox);

impl PathSink for OutboxSink<'_> {
    fn direct(&mut self, to: SocketAddr, datagram: &[u8]) {
        self.0
            .push(to, &mut |buf| match buf.get_mut(..datagram.len()) {
                Some(out) => {
                    out.copy_from_slice(datagram);
                    datagram.len()
                }
                None => 0,
            });
    }

    fn relayed(&mut self, _: u8, _: &[u8]) {}
}

/// One introduced peer: the punch state machine and the pair's channels.
#[derive(Debug)]
pub(crate) struct DirectPath {
    me: u8,
    peer: u8,
    cipher: PacketCipher,
    /// The next sequence, without the direction bit.
    next_sequence: u32,
    /// This side's direction bit.
    direction: u32,
    replay: ReplayWindow,
    candidates: Vec<SocketAddr>,
    config: DirectConfig,
    /// When probing starts (the introduction's delay after it arrived).
    start: Instant,
    punch: Punch,
    /// Where the peer's last authentic direct datagram came from.
    latched: Option<SocketAddr>,
    /// The peer said it has had a direct datagram from this side.
    peer_saw_me: bool,
    last_heard: Instant,
    last_sent: Instant,
    became_direct: Option<Instant>,
    channels: Connection,
    counters: PathCounters,
    /// Where datagrams are built and sealed; reused.
    scratch: Vec<u8>,
}

impl DirectPath {
    /// The path `me` opens to the peer `introduction` names, probing from
    /// `now` plus its delay.
    pub(crate) fn new(
        now: Instant,
        me: u8,
        introduction: &Introduction,
        config: DirectConfig,
        table: ChannelTable,
    ) -> Self {
        let start = now + Duration::from_millis(u64::from(introduction.delay_ms));
        let mut candidates = introduction.candidates.clone();
        candidates.truncate(MAX_CANDIDATES);
        Self {
            me,
            peer: introduction.peer,
            cipher: PacketCipher::new(&Key::from_bytes(introduction.key)),
            next_sequence: 0,
            direction: if me > introduction.peer {
                DIRECTION_BIT
            } else {
                0
            },
            replay: ReplayWindow::new(),
            candidates,
            config,
            start,
            punch: Punch::Probing {
                round: 0,
                next: start,
            },
            latched: None,
            peer_saw_me: false,
            last_heard: start,
            last_sent: start,
            became_direct: None,
            channels: Connection::new(table),
            counters: PathCounters::default(),
            scratch: vec![0; MAX_DIRECT_LEN],
        }
    }

    /// The peer's index.
    pub(crate) const fn peer(&self) -> u8 {
        self.peer
    }

    /// The path as the game sees it.
    pub(crate) fn report(&self) -> PeerPath {
        let stats = self.channels.stats();
        PeerPath {
            route: if self.punch == Punch::Direct {
                Route::Direct
            } else {
                Route::Relayed
            },
            rtt: (stats.packets_acked > 0).then_some(stats.rtt),
            address: self.latched.filter(|_| self.punch == Punch::Direct),
            time_to_direct: self
                .became_direct
                .map(|at| at.saturating_duration_since(self.start)),
            counters: self.counters,
        }
    }

    /// Queues `message` for the peer on `channel` (the relay's two).
    pub(crate) fn send(&mut self, channel: ChannelId, message: &[u8]) -> Result<(), SendError> {
        self.channels.send(channel, message)
    }

    /// The next message from the peer.
    pub(crate) fn recv(&mut self) -> Option<Message> {
        self.channels.recv()
    }

    /// Takes a datagram from the peer: straight from `from`, or through the
    /// relay (`None`). A direct one latches the path onto `from`; a probe
    /// from a peer that has not yet heard this side is answered once, with
    /// a probe of the same size.
    pub(crate) fn handle_datagram(
        &mut self,
        now: Instant,
        from: Option<SocketAddr>,
        datagram: &mut [u8],
        out: &mut dyn Outbox,
    ) -> Result<(), PathDrop> {
        let result = self.open(now, from, datagram, out);
        match result {
            Ok(()) => {}
            Err(PathDrop::Replayed) => self.counters.replayed += 1,
            Err(PathDrop::BadTag) => self.counters.bad_tag += 1,
            Err(PathDrop::Malformed | PathDrop::BadPayload) => self.counters.malformed += 1,
        }
        result
    }

    fn open(
        &mut self,
        now: Instant,
        from: Option<SocketAddr>,
        datagram: &mut [u8],
        out: &mut dyn Outbox,
    ) -> Result<(), PathDrop> {
        let (header, _) = DirectHeader::parse(datagram).map_err(|_| PathDrop::Malformed)?;
        let peer_direction = DIRECTION_BIT ^ self.direction;
        if header.from != self.peer
            || header.sequence & DIRECTION_BIT != peer_direction
            || datagram.len() < PROBE_LEN
        {
            return Err(PathDrop::Malformed);
        }
        let sequence = u64::from(header.sequence);
        if self.replay.is_replay(sequence) {
            return Err(PathDrop::Replayed);
        }
        let tag_at = datagram.len() - MAC_LEN;
        let (sealed, tag) = datagram.split_at_mut(tag_at);
        let tag: &[u8; MAC_LEN] = (&*tag).try_into().map_err(|_| PathDrop::Malformed)?;
        let body = sealed.get_mut(BODY_START..).ok_or(PathDrop::Malformed)?;
        self.cipher
            .open(sequence, &header.associated_data(self.me), body, tag)
            .map_err(|_| PathDrop::BadTag)?;
        self.replay.advance(sequence);
        let (head, payload) = body.split_first().ok_or(PathDrop::Malformed)?;
        let (kind, flags) = (head & !FLAG_SEEN, head & FLAG_SEEN);
        if let Some(address) = from {
            self.latched = Some(address);
            self.last_heard = now;
            self.peer_saw_me |= flags & FLAG_SEEN != 0;
        }
        match kind {
            KIND_PROBE if payload.is_empty() => {
                if let Some(address) = from.filter(|_| flags & FLAG_SEEN == 0) {
                    self.counters.probes_answered += 1;
                    self.probe(now, address, &mut OutboxSink(out));
                }
            }
            KIND_DATA => {
                let number = u64::from(header.sequence & !DIRECTION_BIT);
                self.channels
                    .read_packet(now, number, payload)
                    .map_err(|_| PathDrop::BadPayload)?;
            }
            _ => return Err(PathDrop::Malformed),
        }
        if self.latched.is_some() && self.peer_saw_me && self.punch != Punch::Direct {
            self.punch = Punch::Direct;
            self.became_direct.get_or_insert(now);
            // Tell the peer at once that this side has heard it.
            if let Some(address) = self.latched {
                self.probe(now, address, &mut OutboxSink(out));
            }
        }
        Ok(())
    }

    /// Seals `payload_len` bytes of kind `kind` already at
    /// `scratch[PAYLOAD_START..]`; returns the datagram's length, 0 once
    /// the sequence is used up.
    fn seal(&mut self, kind: u8, payload_len: usize) -> usize {
        if self.next_sequence >= DIRECTION_BIT {
            return 0;
        }
        let sequence = self.direction | self.next_sequence;
        self.next_sequence += 1;
        let header = DirectHeader {
            from: self.me,
            sequence,
        };
        let end = PAYLOAD_START + payload_len;
        let written = header.emit(&mut Writer::new(&mut self.scratch));
        debug_assert!(written.is_ok(), "the scratch holds a header");
        let Some(body) = self.scratch.get_mut(BODY_START..end) else {
            return 0;
        };
        if let Some(head) = body.first_mut() {
            *head = kind | if self.latched.is_some() { FLAG_SEEN } else { 0 };
        }
        let tag = self.cipher.seal(
            u64::from(sequence),
            &header.associated_data(self.peer),
            body,
        );
        match self.scratch.get_mut(end..end + MAC_LEN) {
            Some(out) => out.copy_from_slice(&tag),
            None => return 0,
        }
        end + MAC_LEN
    }

    /// Sends a probe to `to`.
    fn probe(&mut self, now: Instant, to: SocketAddr, sink: &mut dyn PathSink) {
        let len = self.seal(KIND_PROBE, 0);
        if let Some(datagram) = self.scratch.get(..len).filter(|d| !d.is_empty()) {
            sink.direct(to, datagram);
            self.counters.probes_sent += 1;
            self.last_sent = now;
        }
    }

    /// Runs the path's timers (probes, keep-alives, fallback) and sends
    /// what its channels have queued: direct on a direct path, through the
    /// relay otherwise.
    pub(crate) fn poll_transmit(&mut self, now: Instant, sink: &mut dyn PathSink) {
        self.run_timers(now, sink);
        while self.next_sequence < DIRECTION_BIT {
            let number = u64::from(self.next_sequence);
            let Some(payload) = self
                .scratch
                .get_mut(PAYLOAD_START..PAYLOAD_START + MAX_PAYLOAD_LEN)
            else {
                return;
            };
            let len = self.channels.write_packet(now, number, payload);
            if len == 0 {
                return;
            }
            let len = self.seal(KIND_DATA, len);
            let Some(datagram) = self.scratch.get(..len).filter(|d| !d.is_empty()) else {
                return;
            };
            match self.latched.filter(|_| self.punch == Punch::Direct) {
                Some(to) => {
                    sink.direct(to, datagram);
                    self.last_sent = now;
                }
                None => sink.relayed(self.peer, datagram),
            }
        }
    }

    fn run_timers(&mut self, now: Instant, sink: &mut dyn PathSink) {
        let keepalive = self.config.keepalive;
        match self.punch {
            Punch::Probing { round, next } if now >= next => {
                let round_start = self.start + self.config.round_start(round);
                if now < round_start + self.config.burst {
                    self.punch = Punch::Probing {
                        round,
                        next: now + self.config.probe_interval,
                    };
                    let mut targets = self.candidates.clone();
                    if let Some(latched) = self.latched.filter(|a| !targets.contains(a)) {
                        targets.push(latched);
                    }
                    for to in targets {
                        self.probe(now, to, sink);
                    }
                } else if round + 1 < self.config.rounds() {
                    self.punch = Punch::Probing {
                        round: round + 1,
                        next: self.start + self.config.round_start(round + 1),
                    };
                } else {
                    self.punch = Punch::Relayed;
                }
            }
            Punch::Direct if now >= self.last_heard + keepalive * 3 => {
                // Three keep-alives missed: back to the relay. Reliable
                // data the dead path lost is resent there by its channel.
                self.punch = Punch::Relayed;
                self.latched = None;
                self.peer_saw_me = false;
                self.counters.fallbacks += 1;
            }
            Punch::Direct if now >= self.last_sent + keepalive => {
                if let Some(to) = self.latched {
                    self.probe(now, to, sink);
                }
            }
            _ => {}
        }
    }

    /// When [`DirectPath::poll_transmit`] next has timer work.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let timer = match self.punch {
            Punch::Probing { next, .. } => Some(next),
            Punch::Direct => Some(
                (self.last_heard + self.config.keepalive * 3)
                    .min(self.last_sent + self.config.keepalive),
            ),
            Punch::Relayed => None,
        };
        [timer, self.channels.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }
}
