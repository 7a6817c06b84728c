//! Counting, not timing: the heap an idle connected peer holds in its
//! shard, so a change that brings back eager per-peer state fails here
//! and not only in the scale bench (`cargo bench --bench scale`, 10,000
//! peers, which CI does not run).
//!
//! One shard and 1,000 sans-IO clients on the standard channel table, on
//! a fake clock in one thread. The process runs on `tracking-allocator`;
//! every call into the shard runs in an allocation group of its own, and
//! the test counts the bytes that group holds live: allocated there and
//! not yet freed, wherever the free happens.

mod common;

use berth::proto::WallClock;
use berth::proto::channel::ChannelTable;
use berth::proto::client::{ClientSession, ClientState};
use berth::proto::server::{Shard, ShardConfig};
use berth::{ConnectTokenBuilder, Key, OsRandom};
use common::{PRIVATE_KEY, PROTOCOL_ID};
use std::alloc::System;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tracking_allocator::{
    AllocationGroupId, AllocationGroupToken, AllocationRegistry, AllocationTracker, Allocator,
};

#[global_allocator]
static GLOBAL: Allocator<System> = Allocator::system();

/// The shard's allocation group, once registered.
static SHARD_GROUP: AtomicUsize = AtomicUsize::new(0);
/// Bytes allocated in the shard's group and not freed.
static SHARD_LIVE: AtomicI64 = AtomicI64::new(0);

struct ShardBytes;

impl AllocationTracker for ShardBytes {
    fn allocated(&self, _addr: usize, size: usize, _wrapped: usize, group: AllocationGroupId) {
        if group.as_usize().get() == SHARD_GROUP.load(Ordering::Relaxed) {
            SHARD_LIVE.fetch_add(size as i64, Ordering::Relaxed);
        }
    }

    fn deallocated(
        &self,
        _addr: usize,
        size: usize,
        _wrapped: usize,
        source: AllocationGroupId,
        _current: AllocationGroupId,
    ) {
        if source.as_usize().get() == SHARD_GROUP.load(Ordering::Relaxed) {
            SHARD_LIVE.fetch_sub(size as i64, Ordering::Relaxed);
        }
    }
}

const PEERS: usize = 1_000;
/// What an idle peer may hold in its shard. Today: its boxed session (264
/// bytes), its token's user data (256), its share of the address and id
/// maps and of the token log. Prepared keys (1,088 bytes) or an eager
/// channel connection (about 1.5 KiB) would each break it.
const MAX_BYTES_PER_IDLE_PEER: i64 = 1024;

fn client_address(i: usize) -> SocketAddr {
    let i = u32::try_from(i).unwrap();
    SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 50_000))
}

#[test]
fn an_idle_peer_holds_at_most_a_kibibyte_of_its_shard() {
    AllocationRegistry::set_global_tracker(ShardBytes).expect("the only tracker");
    let mut group = AllocationGroupToken::register().expect("an allocation group");
    SHARD_GROUP.store(group.id().as_usize().get(), Ordering::Relaxed);
    AllocationRegistry::enable_tracking();

    let start = Instant::now();
    let wall = WallClock::new(start, 1_800_000_000);
    let server: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let key = Key::from_bytes(PRIVATE_KEY);
    let table = ChannelTable::standard();
    let config = ShardConfig::new(PROTOCOL_ID, key.clone(), server)
        .channels(Some(table.clone()))
        .max_clients(PEERS + 24);
    let mut shard = {
        let _in_shard = group.enter();
        Shard::new(config, start, wall, &mut OsRandom).unwrap()
    };
    let empty = SHARD_LIVE.load(Ordering::Relaxed);

    let mut clients: Vec<ClientSession> = (0..PEERS)
        .map(|i| {
            let token = ConnectTokenBuilder::new(PROTOCOL_ID, i as u64 + 1)
                .server(server)
                .timeout(None)
                .build_with(&key, wall.unix_secs(start), &mut OsRandom)
                .unwrap();
            let mut client = ClientSession::new().channels(Some(table.clone()));
            client.connect(start, token);
            client
        })
        .collect();
    let index: HashMap<SocketAddr, usize> = (0..PEERS).map(|i| (client_address(i), i)).collect();

    // Connect everyone, then stay idle for 5 s of keep-alives and sweeps.
    let mut to_server: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
    let mut to_clients: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
    let mut connected_at = None;
    for ms in (0..8_000u64).step_by(10) {
        let now = start + Duration::from_millis(ms);
        for (i, client) in clients.iter_mut().enumerate() {
            let mut out = Vec::new();
            client.update(now, &mut out);
            client.poll_transmit(now, &mut out);
            to_server.extend(out.into_iter().map(|(_, bytes)| (client_address(i), bytes)));
        }
        {
            let _in_shard = group.enter();
            for (from, mut bytes) in to_server.drain(..) {
                let _ = shard.handle_datagram(now, from, &mut bytes, &mut to_clients);
            }
            shard.update(now, &mut to_clients);
            shard.poll_transmit(now, &mut to_clients);
            while shard.poll_event().is_some() {}
        }
        for (to, mut bytes) in to_clients.drain(..) {
            if let Some(&i) = index.get(&to) {
                let _ = clients[i].handle_datagram(now, server, &mut bytes);
            }
        }
        if connected_at.is_none() && clients.iter().all(|c| c.state() == ClientState::Connected) {
            connected_at = Some(ms);
        }
    }
    let connected_at = connected_at.expect("every client connected");
    assert!(connected_at < 3_000, "connected only at {connected_at} ms");
    assert_eq!(shard.connected_count(), PEERS);

    let per_peer = (SHARD_LIVE.load(Ordering::Relaxed) - empty) / PEERS as i64;
    AllocationRegistry::disable_tracking();
    assert!(
        per_peer <= MAX_BYTES_PER_IDLE_PEER,
        "an idle peer holds {per_peer} bytes of its shard's heap (at most {MAX_BYTES_PER_IDLE_PEER})"
    );
    // The count is real: the sessions are in it.
    assert!(
        per_peer >= 264 + 256,
        "{per_peer} bytes per peer is too few to be counted"
    );
}
