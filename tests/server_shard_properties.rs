//! The server-shard fuzz body (`fuzz_bodies/server_shard.rs`) under
//! proptest, so stable `cargo test` covers what `cargo fuzz run
//! server_shard` does (STYLE.md §5 "Fuzz").
//!
//! - Arbitrary bytes, read as a script, as libFuzzer feeds them.
//! - Scripts built from [`Op`]s, weighted towards the steps that complete a
//!   handshake, so most cases run against live connections.
//! - Hand-made scripts that connect clients and then attack them, asserting
//!   that the body really got that deep.

pub mod fuzz_bodies;

use berth::proto::server::DropReason;
use fuzz_bodies::server_shard::{
    MAX_ADVANCE_MS, MAX_CLIENTS, MAX_INJECT_LEN, MAX_OPS, Op, Summary, server_shard,
    server_shard_channels, server_shard_channels_run, server_shard_run,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// `cases` per property, unless `PROPTEST_CASES` asks for more (or fewer):
/// each case may run hundreds of debug-build handshakes.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig::with_cases(cases)
}

#[track_caller]
fn run(ops: &[Op]) -> Summary {
    let summary = server_shard_run(&Op::encode_all(ops));
    assert_eq!(summary.ops, ops.len(), "the script decoded differently");
    summary
}

/// Two rounds of every client updating and the server's replies arriving:
/// enough for a handshake.
const CONNECT: [Op; 2] = [Op::Pump { rounds: 1 }, Op::Pump { rounds: 0 }];

fn garbage(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn op() -> impl Strategy<Value = Op> {
    let bytes = || vec(any::<u8>(), 0..64);
    prop_oneof![
        3 => (0..=MAX_ADVANCE_MS).prop_map(|ms| Op::Advance { ms }),
        2 => (0..=200u16).prop_map(|ms| Op::Advance { ms }),
        2 => any::<u8>().prop_map(|client| Op::ClientUpdate { client }),
        2 => prop_oneof![Just(0u8), any::<u8>()].prop_map(|lose| Op::DeliverServer { lose }),
        3 => (any::<u8>(), any::<u16>(), any::<u8>())
            .prop_map(|(pick, at, xor)| Op::Mutate { pick, at, xor }),
        2 => (any::<u8>(), bytes()).prop_map(|(source, bytes)| Op::Inject { source, bytes }),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(pick, source)| Op::Replay { pick, source }),
        1 => Just(Op::ServerUpdate),
        1 => (any::<u8>(), any::<u16>()).prop_map(|(slot, len)| Op::ServerSend { slot, len }),
        1 => any::<u8>().prop_map(|slot| Op::ServerDisconnect { slot }),
        1 => (any::<u8>(), any::<bool>())
            .prop_map(|(client, deliver)| Op::ClientDisconnect { client, deliver }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(client, token)| Op::ClientConnect { client, token }),
        2 => (any::<u8>(), any::<u16>()).prop_map(|(client, len)| Op::ClientSend { client, len }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(source, token)| Op::InjectRequest { source, token }),
        1 => (any::<u8>(), bytes()).prop_map(|(client, bytes)| Op::InjectToClient { client, bytes }),
        4 => any::<u8>().prop_map(|rounds| Op::Pump { rounds }),
    ]
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn shard_holds_on_arbitrary_bytes(data in vec(any::<u8>(), 0..512)) {
        server_shard(&data);
    }

    #[test]
    fn shard_holds_on_arbitrary_scripts(ops in vec(op(), 0..48)) {
        run(&ops);
    }

    #[test]
    fn channel_sessions_hold_on_arbitrary_bytes(data in vec(any::<u8>(), 0..512)) {
        server_shard_channels(&data);
    }

    #[test]
    fn channel_sessions_hold_on_arbitrary_scripts(ops in vec(op(), 0..48)) {
        let summary = server_shard_channels_run(&Op::encode_all(&ops));
        prop_assert_eq!(summary.ops, ops.len());
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Drivers and hand-made scripts rely on bytes meaning what `encode` says.
    #[test]
    fn scripts_decode_to_what_was_encoded(ops in vec(op(), 0..32)) {
        prop_assert_eq!(Op::decode_all(&Op::encode_all(&ops)), ops);
    }
}

#[test]
fn decoding_is_total_and_bounded() {
    assert!(Op::decode_all(&[]).is_empty());
    // Every byte value is an op, and a cut-off op reads zeros.
    for b in 0..=255u8 {
        assert_eq!(Op::decode_all(&[b]).len(), 1);
    }
    assert_eq!(Op::decode_all(&[6; 10 * MAX_OPS]).len(), MAX_OPS);
    let long = Op::Inject {
        source: 0,
        bytes: vec![1; MAX_INJECT_LEN + 100],
    };
    let Op::Inject { bytes, .. } = &Op::decode_all(&Op::encode_all(&[long]))[0] else {
        panic!("not an inject");
    };
    assert_eq!(bytes.len(), MAX_INJECT_LEN);
}

/// Two clients connect and exchange payloads; then garbage, tampered and
/// replayed datagrams from every kind of source.
fn garbage_script() -> Vec<Op> {
    let mut ops = CONNECT.to_vec();
    ops.extend([
        Op::ClientSend { client: 0, len: 50 },
        Op::ClientSend {
            client: 1,
            len: 1200,
        },
        Op::ServerSend { slot: 0, len: 7 },
        Op::ServerSend { slot: 1, len: 1 },
        Op::DeliverServer { lose: 0 },
        // Garbage from a connected client's address, from strangers, and
        // from the server's own address.
        Op::Inject {
            source: 0,
            bytes: garbage(64, 1),
        },
        Op::Inject {
            source: 1,
            bytes: vec![0x15; 40],
        },
        Op::Inject {
            source: 3,
            bytes: garbage(1078, 2),
        },
        Op::Inject {
            source: 4,
            bytes: vec![0],
        },
        Op::Inject {
            source: 5,
            bytes: vec![],
        },
        // Every byte of a payload flipped in turn, then replays of it.
        Op::ClientSend { client: 0, len: 20 },
    ]);
    for at in 0..40 {
        ops.push(Op::Mutate {
            pick: 0,
            at,
            xor: 0x80,
        });
    }
    ops.extend([
        Op::Replay { pick: 0, source: 6 },
        Op::Replay { pick: 5, source: 6 },
        Op::Replay { pick: 9, source: 3 },
        Op::Mutate {
            pick: 200,
            at: 3,
            xor: 1,
        },
        Op::Replay {
            pick: 129,
            source: 6,
        },
        Op::InjectToClient {
            client: 0,
            bytes: garbage(30, 3),
        },
        Op::Advance { ms: 100 },
        Op::Pump { rounds: 0 },
        Op::ClientSend { client: 1, len: 3 },
    ]);
    ops
}

#[test]
fn channel_sessions_connect_exchange_messages_and_survive_garbage() {
    let summary = server_shard_channels_run(&Op::encode_all(&garbage_script()));
    assert_eq!(summary.connects, 2, "{summary:#?}");
    assert_eq!(summary.disconnects, 0, "{summary:#?}");
    // Reliable messages both ways, each delivery at least one message.
    assert!(summary.payloads_in >= 3, "{summary:#?}");
    assert!(summary.payloads_out >= 1, "{summary:#?}");
    let stats = &summary.stats;
    assert!(stats.dropped(DropReason::Replayed) >= 35, "{stats:#?}");
    assert!(stats.dropped(DropReason::Malformed) >= 3, "{stats:#?}");
}

#[test]
fn clients_connect_exchange_payloads_and_survive_garbage() {
    let summary = run(&garbage_script());
    assert_eq!(summary.connects, 2, "{summary:#?}");
    assert_eq!(summary.most_connected, MAX_CLIENTS);
    assert_eq!(summary.disconnects, 0, "{summary:#?}");
    assert_eq!(summary.payloads_in, 4, "{summary:#?}");
    assert_eq!(summary.payloads_out, 2, "{summary:#?}");
    assert!(summary.accepted_from_connected >= 6, "{summary:#?}");
    let stats = &summary.stats;
    // The payload was accepted, so a copy with its sequence intact is a
    // replay whatever else changed; a changed sequence fails to authenticate.
    assert!(stats.dropped(DropReason::Replayed) >= 35, "{stats:#?}");
    assert!(
        stats.dropped(DropReason::Unauthenticated) >= 2,
        "{stats:#?}"
    );
    assert!(stats.dropped(DropReason::Malformed) >= 3, "{stats:#?}");
}

/// Both slots taken; the third client is denied, then gets a freed slot.
fn denial_script() -> Vec<Op> {
    let mut ops = CONNECT.to_vec();
    // Client 2's token names an unreachable server first: after its 1 s
    // timeout it turns to ours, which is full.
    ops.extend([
        Op::Advance { ms: 1100 },
        Op::Pump { rounds: 1 },
        Op::ServerDisconnect { slot: 0 },
        Op::DeliverServer { lose: 0 },
        Op::ClientConnect {
            client: 2,
            token: 2,
        },
        Op::Advance { ms: 1100 },
        Op::Pump { rounds: 2 },
    ]);
    ops
}

#[test]
fn a_third_client_is_denied_until_a_slot_frees() {
    let summary = run(&denial_script());
    assert_eq!(summary.connects, 3, "{summary:#?}");
    assert_eq!(summary.disconnects, 1, "{summary:#?}");
    assert!(summary.stats.denied >= 1, "{:#?}", summary.stats);
}

/// Time-out, a captured disconnect, reconnection and shutdown.
fn lifecycle_script() -> Vec<Op> {
    let mut ops = CONNECT.to_vec();
    // Nothing from the clients for 6 s: client 0 (5 s timeout) times out,
    // client 1 (no timeout) stays.
    for _ in 0..3 {
        ops.extend([Op::Advance { ms: 2000 }, Op::ServerUpdate]);
    }
    ops.extend([
        Op::DeliverServer { lose: 0 },
        // Client 1 (no timeout) leaves, its disconnect packets lost; a
        // tampered copy fails, a captured one ends the connection.
        Op::ClientDisconnect {
            client: 1,
            deliver: false,
        },
        Op::Mutate {
            pick: 0,
            at: 5,
            xor: 1,
        },
        Op::Replay { pick: 3, source: 6 },
        // Both come back, client 0 with a fresh token under the same id.
        Op::ClientConnect {
            client: 0,
            token: 3,
        },
        Op::ClientConnect {
            client: 1,
            token: 1,
        },
        Op::Pump { rounds: 1 },
        Op::ServerDisconnect { slot: 3 },
    ]);
    ops
}

#[test]
fn connections_time_out_end_and_come_back() {
    let summary = run(&lifecycle_script());
    assert_eq!(summary.connects, 4, "{summary:#?}");
    assert_eq!(summary.connects, summary.disconnects, "{summary:#?}");
    let stats = &summary.stats;
    assert_eq!(stats.dropped(DropReason::Unauthenticated), 1, "{stats:#?}");
}

/// Requests with every kind of bad token, while both slots are taken.
fn bad_request_script() -> Vec<Op> {
    let mut ops = CONNECT.to_vec();
    ops.extend([
        // Another client id 1 while client 0 holds it.
        Op::InjectRequest {
            source: 3,
            token: 3,
        },
        Op::InjectRequest {
            source: 3,
            token: 4,
        },
        Op::InjectRequest {
            source: 3,
            token: 5,
        },
        Op::InjectRequest {
            source: 3,
            token: 7,
        },
        // Client 0's token from another address.
        Op::InjectRequest {
            source: 4,
            token: 0,
        },
        // Two handshakes fill the pending table.
        Op::InjectRequest {
            source: 3,
            token: 6,
        },
        Op::InjectRequest {
            source: 2,
            token: 2,
        },
        Op::InjectRequest {
            source: 5,
            token: 2,
        },
        Op::Advance { ms: 2000 },
        Op::Advance { ms: 2000 },
        Op::InjectRequest {
            source: 4,
            token: 6,
        },
    ]);
    ops
}

#[test]
fn every_kind_of_bad_request_is_dropped() {
    let summary = run(&bad_request_script());
    assert_eq!(summary.connects, 2, "{summary:#?}");
    let stats = &summary.stats;
    for reason in [
        DropReason::AlreadyConnected,
        DropReason::NotThisServer,
        DropReason::WrongProtocol,
        DropReason::TokenInvalid,
        DropReason::TokenExpired,
    ] {
        assert!(stats.dropped(reason) >= 1, "{reason:?}: {stats:#?}");
    }
}

/// Writes the hand-made scripts as seeds under `$BERTH_FUZZ_SEEDS/server_shard/`.
///
/// `BERTH_FUZZ_SEEDS=$PWD/fuzz/corpus cargo test --test server_shard_properties -- --ignored`
#[test]
#[ignore = "writes the fuzz seed corpus; set BERTH_FUZZ_SEEDS"]
fn write_fuzz_seeds() {
    let Some(root) = std::env::var_os("BERTH_FUZZ_SEEDS") else {
        return;
    };
    let dir = std::path::PathBuf::from(root).join("server_shard");
    std::fs::create_dir_all(&dir).expect("create corpus dir");
    for (name, ops) in [
        ("connect", CONNECT.to_vec()),
        ("garbage", garbage_script()),
        ("denial", denial_script()),
        ("lifecycle", lifecycle_script()),
        ("bad-request", bad_request_script()),
    ] {
        std::fs::write(dir.join(format!("seed-{name}")), Op::encode_all(&ops)).expect("write seed");
    }
}
