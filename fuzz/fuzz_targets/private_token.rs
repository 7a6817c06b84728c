//! Any bytes as a sealed private token, and as its plaintext: sealed under
//! a fixed key and opened, so the parser behind the AEAD is reached.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/fuzz_bodies/mod.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_bodies::private_token_open(data);
    fuzz_bodies::private_token_sealed_plain(data);
});
