//! The relay's messages, both directions, from arbitrary bytes (see
//! `tests/fuzz_bodies/relay.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/fuzz_bodies/mod.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_bodies::relay::relay_messages(data);
});
