//! The seed corpus for the cargo-fuzz targets.

use crate::fixtures::{
    OwnedBody, plain_of, request_bytes, sample_packets, sample_private_token, sample_token, seal,
};
use crate::fuzz_bodies::{PROTOCOL_ID, packet_cipher};
use berth::crypto::{MAC_LEN, VERSION};
use berth::wire::connect_token::PRIVATE_PLAIN_LEN;
use berth::wire::packet;

/// Writes valid inputs for each fuzz target under `$BERTH_FUZZ_SEEDS/<target>/`.
///
/// `BERTH_FUZZ_SEEDS=$PWD/fuzz/corpus cargo test --test wire_properties -- --ignored`
#[test]
#[ignore = "writes the fuzz seed corpus; set BERTH_FUZZ_SEEDS"]
fn write_fuzz_seeds() {
    let Some(root) = std::env::var_os("BERTH_FUZZ_SEEDS") else {
        return;
    };
    let root = std::path::PathBuf::from(root);
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        std::fs::write(dir.join(name), bytes).expect("write seed");
    };
    for (name, bytes) in sample_packets(100) {
        write("packet", &format!("seed-{name}"), &bytes);
    }
    for (i, body) in OwnedBody::samples(100).iter().enumerate() {
        // packet_sealed_plain input: prefix, sequence byte, body plaintext.
        let body = body.as_body();
        let prefix = body.packet_type() as u8 | 0x10;
        let mut plain = vec![prefix, 5];
        let sealed = seal(&body, 5);
        let header = packet::parse_header(&sealed).expect("header");
        let mut copy = sealed.clone();
        let _ = packet::open(&mut copy, &header, PROTOCOL_ID, &packet_cipher());
        plain.extend_from_slice(&copy[header.encoded_len()..copy.len() - MAC_LEN]);
        write("packet", &format!("seed-plain-{i}"), &plain);
    }
    let token = sample_token();
    write("connect_token", "seed-token", &token.to_bytes());
    write(
        "connect_token",
        "seed-token-unversioned",
        &token.to_bytes()[VERSION.len()..],
    );
    let plain = plain_of(&sample_private_token());
    write("private_token", "seed-plain", &plain[..PRIVATE_PLAIN_LEN]);
    write("private_token", "seed-request", &request_bytes(&token));
}
