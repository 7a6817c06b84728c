//! Any bytes as a public connect token (as is, and behind a valid version
//! string), and as an address record.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/fuzz_bodies/mod.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_bodies::connect_token_parse(data);
    fuzz_bodies::address_parse(data);
});
