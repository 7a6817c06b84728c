//! Hostile input to the channel layer: each rule a bad frame breaks is
//! refused with its own error and counted, and the fuzz body
//! (`fuzz_bodies/channel.rs`) holds its invariants under proptest.

pub mod fuzz_bodies;

use berth::proto::SendError;
use berth::proto::channel::{ChannelId, Connection, ReadError};
use berth::wire::Error;
use fuzz_bodies::channel::{MAX_MESSAGE, channel_connection, table};
use proptest::prelude::*;
use std::time::Instant;

fn refused(payload: &[u8]) -> ReadError {
    let mut connection = Connection::new(table());
    let err = connection
        .read_packet(Instant::now(), 0, payload)
        .expect_err("refused");
    assert_eq!(connection.stats().packets_refused, 1);
    assert!(connection.recv().is_none());
    err
}

/// A frame: 3-byte channel, 1-byte length, body.
fn frame(channel: u32, body: &[u8]) -> Vec<u8> {
    let mut f = channel.to_le_bytes()[..3].to_vec();
    assert!(body.len() < 128);
    f.push(body.len() as u8);
    f.extend_from_slice(body);
    f
}

#[test]
fn a_frame_on_an_unknown_channel_is_refused() {
    assert_eq!(
        refused(&frame(9, b"hi")),
        ReadError::UnknownChannel(ChannelId::new(9).unwrap())
    );
}

#[test]
fn a_frame_longer_than_the_packet_is_refused() {
    let mut f = frame(1, b"hi");
    f[3] = 50;
    assert!(matches!(
        refused(&f),
        ReadError::Frame(Error::Truncated { .. })
    ));
}

#[test]
fn a_fragment_index_out_of_range_is_refused() {
    // Message 0, fragment 3 of 3.
    let body = [0, 0x80, 3, 0, 3, 0, 1];
    assert_eq!(
        refused(&frame(4, &body)),
        ReadError::Frame(Error::BadFragment { index: 3, count: 3 })
    );
}

#[test]
fn a_fragment_count_over_the_largest_message_is_refused_before_any_allocation() {
    // 60,000 fragments claimed: the table's largest message needs 7.
    let count = 60_000u16.to_le_bytes();
    let body = [0, 0x80, 0, 0, count[0], count[1], 1];
    assert_eq!(refused(&frame(4, &body)), ReadError::BadFragment);
    const { assert!(MAX_MESSAGE.div_ceil(1176) < 60_000) };
}

#[test]
fn an_ack_of_a_packet_never_sent_is_refused() {
    let ack = [0u8, 5, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(refused(&frame(0, &ack)), ReadError::AckOfUnsent);
}

#[test]
fn an_engine_frame_of_unknown_kind_is_refused() {
    assert_eq!(
        refused(&frame(0, &[7])),
        ReadError::Frame(Error::BadFrameKind(7))
    );
}

#[test]
fn a_message_id_past_the_window_is_refused() {
    // Reliable-ordered message id 5000 (the window is 4096), one message of 1 byte.
    let body = [0x88, 0x13, 1, b'x'];
    assert_eq!(refused(&frame(4, &body)), ReadError::OutOfWindow);
}

#[test]
fn a_refused_packet_is_not_acked_so_its_reliable_data_is_resent() {
    let mut honest = Connection::new(table());
    let mut target = Connection::new(table());
    let reliable = ChannelId::new(4).unwrap();
    let now = Instant::now();
    honest.send(reliable, b"keep").unwrap();
    let mut packet = [0u8; 1200];
    let len = honest.write_packet(now, 0, &mut packet);
    let good = packet[..len].to_vec();
    // The good frame, then junk: the packet is refused after taking "keep".
    let mut damaged = good.clone();
    damaged.extend_from_slice(&frame(9, b"junk"));
    assert!(target.read_packet(now, 0, &damaged).is_err());
    // The target owes no ack, so it writes nothing.
    assert_eq!(target.write_packet(now, 0, &mut packet), 0);
    assert_eq!(target.recv().unwrap().bytes, b"keep");
    // The honest peer's resend is accepted and acked, but not delivered twice.
    target.read_packet(now, 1, &good).unwrap();
    assert!(target.recv().is_none());
    // The ack waits a little for data to ride on, then goes alone.
    assert!(!target.wants_to_send(now));
    let later = target.poll_timeout().expect("an ack deadline");
    assert!(later > now && later <= now + std::time::Duration::from_millis(5));
    assert!(target.wants_to_send(later));
    assert!(
        target.write_packet(later, 0, &mut packet) > 0,
        "an ack is owed now"
    );
}

#[test]
fn sends_past_the_budget_fail_with_queue_full() {
    let mut connection = Connection::new(table());
    let reliable = ChannelId::new(3).unwrap();
    let mut accepted = 0;
    loop {
        match connection.send(reliable, &[0; 1000]) {
            Ok(()) => accepted += 1,
            Err(SendError::QueueFull { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(accepted, 16);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn any_script_keeps_the_channel_layer_bounded_and_counted(
        data in proptest::collection::vec(any::<u8>(), 0..2048)
    ) {
        channel_connection(&data);
    }
}
