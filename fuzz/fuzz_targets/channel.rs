//! The channel layer: honest packets, damaged ones and raw bytes read by a
//! channel connection, as a script (see `tests/fuzz_bodies/channel.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/fuzz_bodies/mod.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_bodies::channel::channel_connection(data);
});
