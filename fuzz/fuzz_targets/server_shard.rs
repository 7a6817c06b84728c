//! Any bytes as a script of operations against a server shard and real
//! clients holding valid tokens: handshakes, payloads, timeouts and
//! disconnects interleaved with mutated, replayed, spoofed and raw
//! datagrams. See `tests/fuzz_bodies/server_shard.rs`.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/fuzz_bodies/mod.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_bodies::server_shard::server_shard(data);
});
