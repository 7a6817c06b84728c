//! Properties of the wire layer (STYLE.md §5 "Wire" and "Fuzz"), one
//! concept per module:
//!
//! - [`fuzz_drivers`]: the fuzz bodies of `fuzz_bodies/mod.rs` under
//!   proptest: on arbitrary bytes, and on valid packets and tokens with a few
//!   bytes changed, so the paths past parsing and authentication are reached
//!   on stable `cargo test`.
//! - [`round_trips`] and [`truncation`]: smoltcp's set per format:
//!   parse(emit(x)) == x for arbitrary values; every strict prefix of a
//!   valid packet or token is an `Err`.
//! - [`rejection`]: one test per rejection rule of netcode-spec §2, §4 and §5.
//! - [`seeds`]: the seed corpus of the cargo-fuzz targets.
//!
//! [`fixtures`] holds the sample values and builders, [`strategies`] the
//! proptest strategies they share.

#[path = "../fuzz_bodies/mod.rs"]
pub mod fuzz_bodies;

mod fixtures;
mod fuzz_drivers;
mod rejection;
mod round_trips;
mod seeds;
mod strategies;
mod truncation;

use proptest::prelude::ProptestConfig;

/// `cases` per property, unless `PROPTEST_CASES` asks for more (or fewer):
/// debug-build crypto costs milliseconds per kilobyte, and the file should
/// run in a few seconds.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig::with_cases(cases)
}
