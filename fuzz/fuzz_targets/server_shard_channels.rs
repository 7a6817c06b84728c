//! The server-shard script of `server_shard` against sessions on the
//! standard channel table: queued sends, acks, resends and reassembly
//! under mutated, replayed, spoofed and raw datagrams. See
//! `tests/fuzz_bodies/server_shard.rs`.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/fuzz_bodies/mod.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_bodies::server_shard::server_shard_channels(data);
});
