//! Any datagram: request and header parsers, the open path, and the same
//! bytes as a packet plaintext sealed under a fixed key, so the body parser
//! behind the AEAD is reached. Challenge tokens travel in challenge and
//! response packets, so their bodies run here too.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/fuzz_bodies/mod.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_bodies::packet_parse(data);
    fuzz_bodies::packet_sealed_plain(data);
    fuzz_bodies::challenge_token_open(data);
    fuzz_bodies::challenge_token_sealed_plain(data);
});
