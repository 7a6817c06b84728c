//! The channel layer fed hostile packets: one body for proptest
//! (`tests/channel_properties.rs`) and cargo-fuzz (`fuzz/fuzz_targets/channel.rs`).
//!
//! The bytes are a script. An honest peer's [`Connection`] writes real
//! packets (so the fuzzer starts from valid frames), which the script may
//! corrupt, truncate, or replace with raw bytes, before the connection
//! under test reads them. After every step: no panic, the send queue within
//! its budget, every refused packet counted.

use berth::proto::channel::{ChannelId, ChannelKind, ChannelTable, Connection, Inbox};
use std::time::{Duration, Instant};

/// The send budget of the fuzzed table (small, so limits are reached).
pub const BUDGET: usize = 16 * 1024;
/// The largest message of the fuzzed table.
pub const MAX_MESSAGE: usize = 8 * 1024;

/// The fuzzed table: one channel of each kind, ids 1..=4.
pub fn table() -> ChannelTable {
    ChannelTable::new()
        .channel(1, ChannelKind::Unreliable)
        .channel(2, ChannelKind::UnreliableSequenced)
        .channel(3, ChannelKind::ReliableUnordered)
        .channel(4, ChannelKind::ReliableOrdered)
        .max_message_len(MAX_MESSAGE)
        .send_budget(BUDGET)
        .build()
        .expect("a valid table")
}

/// Runs the script in `data`; panics only if an invariant breaks.
pub fn channel_connection(data: &[u8]) {
    let start = Instant::now();
    let mut now = start;
    let mut honest = Connection::new(table());
    let mut target = Connection::new(table());
    let mut honest_number = 0u64;
    let mut target_number = 0u64;
    let mut refused = 0u64;
    let mut bytes = data.iter().copied();
    let mut packet = [0u8; 1200];
    let mut inbox = Inbox::new();
    while let Some(op) = bytes.next() {
        match op % 6 {
            // The honest peer queues a message: channel and length from the script.
            0 => {
                let channel =
                    ChannelId::new(u32::from(bytes.next().unwrap_or(0) % 6)).expect("small");
                let len = usize::from(bytes.next().unwrap_or(0)) * 40;
                let _ = honest.send(channel, &vec![op; len]);
            }
            // The honest peer writes a packet; the target reads it, maybe damaged.
            1 | 2 => {
                let len = honest.write_packet(now, honest_number, &mut packet);
                honest_number += 1;
                if len == 0 {
                    continue;
                }
                let payload = &mut packet[..len];
                if op % 6 == 2 {
                    let at = usize::from(bytes.next().unwrap_or(0)) % len;
                    payload[at] ^= bytes.next().unwrap_or(0xff) | 1;
                }
                let cut = usize::from(bytes.next().unwrap_or(255));
                let payload = &payload[..len.min(cut.max(1) * 8)];
                if target.read_packet(now, honest_number - 1, payload).is_err() {
                    refused += 1;
                }
            }
            // Raw bytes from the script as a payload.
            3 => {
                let len = usize::from(bytes.next().unwrap_or(0));
                let raw: Vec<u8> = bytes.by_ref().take(len).collect();
                let number = u64::from(bytes.next().unwrap_or(0));
                if target.read_packet(now, number, &raw).is_err() {
                    refused += 1;
                }
            }
            // The target answers (its acks reach the honest peer intact).
            4 => {
                let len = target.write_packet(now, target_number, &mut packet);
                target_number += 1;
                if len > 0 {
                    let _ = honest.read_packet(now, target_number - 1, &packet[..len]);
                }
                // Drained either one owned message at a time or swapped
                // out whole and read as borrows.
                if op / 6 % 2 == 0 {
                    while target.recv().is_some() {}
                } else {
                    target.take_messages(&mut inbox);
                    let held: usize = inbox.iter().map(|(_, bytes)| bytes.len()).sum();
                    assert_eq!(held, inbox.held_bytes(), "inbox bytes miscounted");
                    inbox.clear();
                }
            }
            // Time passes.
            _ => now += Duration::from_millis(u64::from(bytes.next().unwrap_or(0))),
        }
        assert!(honest.queued_bytes() <= BUDGET, "send budget overrun");
        assert_eq!(
            target.stats().packets_refused,
            refused,
            "a refusal went uncounted"
        );
    }
}
