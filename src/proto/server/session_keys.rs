//! A session's two packet keys: prepared while the peer trades payloads,
//! raw while it is idle.
//!
//! A prepared key is 544 bytes with `ring` (its key type is sized for AES
//! schedules), and preparing one takes about 26 ns (PERF.md). A peer that trades
//! payloads uses its keys on every packet, so it keeps them prepared; a
//! peer that only trades keep-alives (ten a second each way) uses them
//! rarely, so it keeps the 64 raw bytes and prepares a key for each such
//! packet. The shard's sweep drops prepared keys that went a whole sweep
//! interval without a payload: at 10,000 idle peers that is 10 MiB.

use crate::crypto::{Key, PacketCipher};
use std::ops::Deref;

/// The keys of one connected peer.
#[derive(Debug)]
pub(crate) struct SessionKeys {
    send: Key,
    recv: Key,
    /// Both keys prepared, while payloads flow.
    prepared: Option<Box<Prepared>>,
}

#[derive(Debug)]
struct Prepared {
    send: PacketCipher,
    recv: PacketCipher,
    /// A payload used them since the last sweep.
    used: bool,
}

/// Which of the two keys.
#[derive(Clone, Copy)]
enum Half {
    Send,
    Recv,
}

/// A key ready to seal or open one packet: the session's prepared key, or
/// one prepared for this packet alone.
#[allow(
    clippy::large_enum_variant,
    reason = "a stack value for one packet: boxing the key would allocate per keep-alive"
)]
pub(crate) enum Cipher<'a> {
    Prepared(&'a PacketCipher),
    ForOnePacket(PacketCipher),
}

impl Deref for Cipher<'_> {
    type Target = PacketCipher;

    fn deref(&self) -> &PacketCipher {
        match self {
            Self::Prepared(cipher) => cipher,
            Self::ForOnePacket(cipher) => cipher,
        }
    }
}

impl SessionKeys {
    /// The keys of a peer just admitted; nothing prepared yet.
    pub(crate) const fn new(send: Key, recv: Key) -> Self {
        Self {
            send,
            recv,
            prepared: None,
        }
    }

    /// The key to seal a packet to the peer with. A payload keeps the
    /// keys prepared (preparing them if they were not).
    pub(crate) fn send(&mut self, payload: bool) -> Cipher<'_> {
        self.cipher(payload, Half::Send)
    }

    /// The key to open a packet from the peer with. A payload keeps the
    /// keys prepared; it is not authentic yet, so a forger can make a
    /// session prepare its keys, which costs what an active peer costs and
    /// is undone by the second sweep after.
    pub(crate) fn recv(&mut self, payload: bool) -> Cipher<'_> {
        self.cipher(payload, Half::Recv)
    }

    fn cipher(&mut self, payload: bool, half: Half) -> Cipher<'_> {
        if payload {
            self.prepare();
        }
        match (self.prepared.as_deref(), half) {
            (Some(prepared), Half::Send) => Cipher::Prepared(&prepared.send),
            (Some(prepared), Half::Recv) => Cipher::Prepared(&prepared.recv),
            (None, Half::Send) => Cipher::ForOnePacket(PacketCipher::new(&self.send)),
            (None, Half::Recv) => Cipher::ForOnePacket(PacketCipher::new(&self.recv)),
        }
    }

    /// Prepares the keys if they are not, and marks them used.
    fn prepare(&mut self) {
        let (send, recv) = (&self.send, &self.recv);
        let prepared = self.prepared.get_or_insert_with(|| {
            Box::new(Prepared {
                send: PacketCipher::new(send),
                recv: PacketCipher::new(recv),
                used: false,
            })
        });
        prepared.used = true;
    }

    /// Drops the prepared keys if no payload used them since the last
    /// sweep.
    pub(crate) fn sweep(&mut self) {
        match &mut self.prepared {
            Some(prepared) if prepared.used => prepared.used = false,
            Some(_) => self.prepared = None,
            None => {}
        }
    }

    /// Whether the keys are prepared now.
    #[cfg(test)]
    pub(crate) const fn is_prepared(&self) -> bool {
        self.prepared.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SessionKeys {
        SessionKeys::new(Key::from_bytes([1; 32]), Key::from_bytes([2; 32]))
    }

    fn sealed(keys: &mut SessionKeys, payload: bool) -> ([u8; 8], [u8; 16]) {
        let mut buf = *b"a packet";
        let tag = keys.send(payload).seal(7, b"aad", &mut buf);
        (buf, tag)
    }

    #[test]
    fn prepared_or_not_a_key_seals_the_same_bytes() {
        let mut keys = keys();
        let once = sealed(&mut keys, false);
        assert!(!keys.is_prepared());
        let prepared = sealed(&mut keys, true);
        assert!(keys.is_prepared());
        assert_eq!(once, prepared);
        // The peer's side opens with the same raw keys, either way.
        let mut peer = SessionKeys::new(Key::from_bytes([2; 32]), Key::from_bytes([1; 32]));
        let (mut buf, tag) = once;
        assert!(peer.recv(false).open(7, b"aad", &mut buf, &tag).is_ok());
        assert_eq!(&buf, b"a packet");
    }

    #[test]
    fn keep_alives_alone_never_prepare_the_keys() {
        let mut keys = keys();
        for _ in 0..10 {
            let _ = sealed(&mut keys, false);
            let _ = keys.recv(false);
            keys.sweep();
        }
        assert!(!keys.is_prepared());
    }

    #[test]
    fn a_sweep_interval_without_payloads_drops_the_prepared_keys() {
        let mut keys = keys();
        let _ = keys.recv(true);
        keys.sweep();
        assert!(keys.is_prepared(), "used since the last sweep");
        // Keep-alives use the prepared keys but do not keep them.
        let _ = sealed(&mut keys, false);
        keys.sweep();
        assert!(!keys.is_prepared());
        let _ = sealed(&mut keys, true);
        assert!(keys.is_prepared());
    }
}
