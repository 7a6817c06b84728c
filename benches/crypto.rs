//! Packet and token crypto: berth against the bare AEAD in the same group.
//!
//! Each group pairs a `berth` arm with a `bare` arm that does only the
//! AEAD call berth wraps (ring's for packets, chacha20poly1305's for tokens),
//! over the same byte counts, so the ratio berth / bare comes from one run
//! (`PERF.md`).
//!
//! - `packet_seal/{berth,bare}/{64,256,1200}`: [`packet::seal`] of a payload
//!   packet against ring's `seal_in_place_separate_tag` with the same nonce
//!   and a 22-byte AAD.
//! - `packet_open/{berth,bare}/{64,256,1200}`: [`packet::parse_header`] plus
//!   [`packet::open`] against ring's `open_in_place_separate_tag` of the same
//!   ciphertext. Opening decrypts in place, so both arms first copy the sealed
//!   packet into a scratch buffer.
//! - `packet_aead/{seal,open}-{ring,rustcrypto}/{64,256,1200}`: the two packet
//!   backends berth can be built with (the default `ring` feature, or the
//!   pure-Rust `chacha20poly1305` without it), bare, side by side. Run it
//!   with and without `RUSTFLAGS="-C target-feature=+avx2"` to see what a
//!   build flag buys each.
//! - `packet_key/{prepare,keep_alive_prepared,keep_alive_for_one_packet}`:
//!   what an idle session pays for keeping raw keys (`PacketCipher::new`
//!   alone, then a keep-alive sealed with a prepared key against one
//!   prepared for that packet).
//! - `token_open/{berth,bare}`: [`PrivateToken::open`] (copy, open, parse)
//!   against a 1024-byte copy and an XChaCha20-Poly1305 open of 1008 bytes
//!   with a 29-byte AAD.
//!
//! # Timing
//!
//! The bench machine is shared: a plain criterion sample of tens of
//! milliseconds includes however long the thread sat descheduled, and that
//! differs between the two arms of a pair. So every arm times short batches of
//! [`BATCH`] calls and reports the median batch, scaled to criterion's
//! iteration count ([`median_batch`]). A batch that straddles a context switch
//! is an outlier and drops out of the median.

use berth::Key;
use berth::crypto::{KEY_LEN, MAC_LEN, PacketCipher, TOKEN_NONCE_LEN, VERSION};
use berth::wire::connect_token::{PRIVATE_LEN, PRIVATE_PLAIN_LEN, PrivateToken, ServerAddresses};
use berth::wire::packet::{self, Body, MAX_ENCRYPTED_LEN};
use berth::wire::prefix::{Header, PacketType};
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce, Tag, XChaCha20Poly1305, XNonce};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, UnboundKey};
use std::hint::black_box;
use std::time::{Duration, Instant};

const PROTOCOL_ID: u64 = 0x1122_3344_5566_7788;
/// A four-byte sequence, as a connection a few minutes old sends.
const SEQUENCE: u64 = 0x0102_0304;
const SIZES: [usize; 3] = [64, 256, 1200];
const PACKET_KEY: [u8; KEY_LEN] = [0x42; KEY_LEN];

/// Calls per timed batch: 15..150 µs here, well under a scheduler tick.
const BATCH: u64 = 32;

/// Runs `routine` about `iters` times in batches of [`BATCH`] and returns the
/// median batch time scaled to `iters` calls.
fn median_batch<O>(iters: u64, mut routine: impl FnMut() -> O) -> Duration {
    let batches = iters.div_ceil(BATCH);
    let mut times = Vec::with_capacity(batches as usize);
    for _ in 0..batches {
        let start = Instant::now();
        for _ in 0..BATCH {
            black_box(routine());
        }
        times.push(start.elapsed());
    }
    times.sort_unstable();
    times[times.len() / 2].mul_f64(iters as f64 / BATCH as f64)
}

/// `[0; 4] | sequence LE`, as berth builds it.
fn nonce(sequence: u64) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&sequence.to_le_bytes());
    Nonce::from(nonce)
}

/// `VERSION | protocol id | prefix`: the 22 bytes berth authenticates.
fn packet_aad(prefix: u8) -> [u8; 22] {
    let mut aad = [0u8; 22];
    aad[..13].copy_from_slice(&VERSION);
    aad[13..21].copy_from_slice(&PROTOCOL_ID.to_le_bytes());
    aad[21] = prefix;
    aad
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| i as u8).collect()
}

/// A sealed payload packet of `len` payload bytes, from berth.
fn sealed_packet(len: usize, cipher: &PacketCipher) -> Vec<u8> {
    let plain = payload(len);
    let mut out = [0u8; MAX_ENCRYPTED_LEN];
    let n = packet::seal(
        &Body::Payload(&plain),
        SEQUENCE,
        PROTOCOL_ID,
        cipher,
        &mut out,
    )
    .expect("seal a valid payload");
    out[..n].to_vec()
}

/// One packet AEAD backend, called the way berth calls it: in place, with a
/// detached tag.
trait Backend {
    fn seal(&self, sequence: u64, aad: &[u8], buf: &mut [u8]) -> [u8; MAC_LEN];
    fn open(&self, sequence: u64, aad: &[u8], buf: &mut [u8], tag: &[u8; MAC_LEN]) -> bool;
}

/// ring's ChaCha20-Poly1305: berth's default packet backend.
fn ring_backend() -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &PACKET_KEY).expect("32-byte key"))
}

impl Backend for LessSafeKey {
    fn seal(&self, sequence: u64, aad: &[u8], buf: &mut [u8]) -> [u8; MAC_LEN] {
        let nonce = ring::aead::Nonce::assume_unique_for_key(nonce(sequence).into());
        let tag = self
            .seal_in_place_separate_tag(nonce, Aad::from(aad), buf)
            .expect("seal");
        tag.as_ref().try_into().expect("16-byte tag")
    }

    fn open(&self, sequence: u64, aad: &[u8], buf: &mut [u8], tag: &[u8; MAC_LEN]) -> bool {
        let nonce = ring::aead::Nonce::assume_unique_for_key(nonce(sequence).into());
        self.open_in_place_separate_tag(nonce, Aad::from(aad), (*tag).into(), buf, 0..)
            .is_ok()
    }
}

/// The pure-Rust `chacha20poly1305`: the packet backend without the `ring` feature.
impl Backend for ChaCha20Poly1305 {
    fn seal(&self, sequence: u64, aad: &[u8], buf: &mut [u8]) -> [u8; MAC_LEN] {
        self.encrypt_inout_detached(&nonce(sequence), aad, buf.into())
            .expect("seal")
            .into()
    }

    fn open(&self, sequence: u64, aad: &[u8], buf: &mut [u8], tag: &[u8; MAC_LEN]) -> bool {
        self.decrypt_inout_detached(&nonce(sequence), aad, buf.into(), &Tag::from(*tag))
            .is_ok()
    }
}

fn packet_seal(c: &mut Criterion) {
    let cipher = PacketCipher::new(&Key::from_bytes(PACKET_KEY));
    let bare = ring_backend();
    let aad = packet_aad(Header::new(PacketType::Payload, SEQUENCE).prefix());
    let mut group = c.benchmark_group("packet_seal");
    for len in SIZES {
        group.throughput(Throughput::Bytes(len as u64));
        let plain = payload(len);
        let mut out = [0u8; MAX_ENCRYPTED_LEN];
        group.bench_with_input(BenchmarkId::new("berth", len), &plain, |b, plain| {
            b.iter_custom(|iters| {
                median_batch(iters, || {
                    packet::seal(
                        &Body::Payload(black_box(plain)),
                        black_box(SEQUENCE),
                        PROTOCOL_ID,
                        &cipher,
                        &mut out,
                    )
                })
            });
        });
        let mut buf = plain.clone();
        group.bench_function(BenchmarkId::new("bare", len), |b| {
            b.iter_custom(|iters| {
                median_batch(iters, || {
                    bare.seal(black_box(SEQUENCE), &aad, black_box(buf.as_mut_slice()))
                })
            });
        });
    }
    group.finish();
}

fn packet_key(c: &mut Criterion) {
    let key = Key::from_bytes(PACKET_KEY);
    let prepared = PacketCipher::new(&key);
    let body = Body::KeepAlive {
        client_index: 7,
        max_clients: 256,
    };
    let mut out = [0u8; MAX_ENCRYPTED_LEN];
    let mut group = c.benchmark_group("packet_key");
    group.bench_function("prepare", |b| {
        b.iter_custom(|iters| median_batch(iters, || PacketCipher::new(black_box(&key))));
    });
    group.bench_function("keep_alive_prepared", |b| {
        b.iter_custom(|iters| {
            median_batch(iters, || {
                packet::seal(&body, black_box(SEQUENCE), PROTOCOL_ID, &prepared, &mut out)
            })
        });
    });
    group.bench_function("keep_alive_for_one_packet", |b| {
        b.iter_custom(|iters| {
            median_batch(iters, || {
                let cipher = PacketCipher::new(black_box(&key));
                packet::seal(&body, black_box(SEQUENCE), PROTOCOL_ID, &cipher, &mut out)
            })
        });
    });
    group.finish();
}

fn packet_open(c: &mut Criterion) {
    let cipher = PacketCipher::new(&Key::from_bytes(PACKET_KEY));
    let bare = ring_backend();
    let mut group = c.benchmark_group("packet_open");
    for len in SIZES {
        group.throughput(Throughput::Bytes(len as u64));
        let sealed = sealed_packet(len, &cipher);
        let n = sealed.len();
        let mut scratch = [0u8; MAX_ENCRYPTED_LEN];
        group.bench_with_input(BenchmarkId::new("berth", len), &sealed, |b, sealed| {
            b.iter_custom(|iters| {
                median_batch(iters, || {
                    let datagram = &mut scratch[..n];
                    datagram.copy_from_slice(black_box(sealed));
                    let header = packet::parse_header(datagram).expect("valid header");
                    let body = packet::open(datagram, &header, PROTOCOL_ID, &cipher)
                        .expect("authentic packet");
                    black_box(body);
                })
            });
        });

        // The same packet, opened by hand: the header is known in advance.
        let header = Header::new(PacketType::Payload, SEQUENCE);
        let aad = packet_aad(header.prefix());
        let body_start = header.encoded_len();
        let tag_start = n - MAC_LEN;
        group.bench_with_input(BenchmarkId::new("bare", len), &sealed, |b, sealed| {
            b.iter_custom(|iters| {
                median_batch(iters, || {
                    let datagram = &mut scratch[..n];
                    datagram.copy_from_slice(black_box(sealed));
                    let (body, tag) = datagram.split_at_mut(tag_start);
                    let tag: [u8; MAC_LEN] = (&*tag).try_into().expect("16-byte tag");
                    let body = &mut body[body_start..];
                    assert!(bare.open(black_box(SEQUENCE), &aad, body, &tag));
                    black_box(body);
                })
            });
        });
    }
    group.finish();
}

/// Both packet backends, bare, at each size: what the `ring` feature buys.
fn packet_aead(c: &mut Criterion) {
    let backends: [(&str, Box<dyn Backend>); 2] = [
        ("ring", Box::new(ring_backend())),
        (
            "rustcrypto",
            Box::new(ChaCha20Poly1305::new(&PACKET_KEY.into())),
        ),
    ];
    let aad = packet_aad(Header::new(PacketType::Payload, SEQUENCE).prefix());
    let mut group = c.benchmark_group("packet_aead");
    for len in SIZES {
        group.throughput(Throughput::Bytes(len as u64));
        for (name, backend) in &backends {
            let mut buf = payload(len);
            group.bench_function(BenchmarkId::new(format!("seal-{name}"), len), |b| {
                b.iter_custom(|iters| {
                    median_batch(iters, || {
                        backend.seal(black_box(SEQUENCE), &aad, black_box(buf.as_mut_slice()))
                    })
                });
            });
            let mut sealed = payload(len);
            let tag = backend.seal(SEQUENCE, &aad, &mut sealed);
            let mut scratch = sealed.clone();
            group.bench_function(BenchmarkId::new(format!("open-{name}"), len), |b| {
                b.iter_custom(|iters| {
                    median_batch(iters, || {
                        scratch.copy_from_slice(black_box(&sealed));
                        assert!(backend.open(black_box(SEQUENCE), &aad, &mut scratch, &tag));
                    })
                });
            });
        }
    }
    group.finish();
}

fn token_open(c: &mut Criterion) {
    let private_key = Key::from_bytes([0x17; KEY_LEN]);
    let nonce = [0x5a; TOKEN_NONCE_LEN];
    let expire_unix_secs = 1_700_000_030;
    let token = PrivateToken {
        client_id: 0xdead_beef,
        timeout_secs: 10,
        server_addresses: ServerAddresses::new(&[
            "127.0.0.1:40000".parse().expect("address"),
            "[::1]:40000".parse().expect("address"),
        ])
        .expect("two addresses"),
        client_to_server_key: Key::from_bytes([1; KEY_LEN]),
        server_to_client_key: Key::from_bytes([2; KEY_LEN]),
        user_data: [0x33; 256],
    };
    let mut sealed = [0u8; PRIVATE_LEN];
    token
        .seal(
            &private_key,
            PROTOCOL_ID,
            expire_unix_secs,
            &nonce,
            &mut sealed,
        )
        .expect("seal a valid token");

    let mut aad = [0u8; 29];
    aad[..13].copy_from_slice(&VERSION);
    aad[13..21].copy_from_slice(&PROTOCOL_ID.to_le_bytes());
    aad[21..].copy_from_slice(&expire_unix_secs.to_le_bytes());
    let bare = XChaCha20Poly1305::new(private_key.as_bytes().into());
    let xnonce = XNonce::from(nonce);

    let mut group = c.benchmark_group("token_open");
    group.throughput(Throughput::Bytes(PRIVATE_PLAIN_LEN as u64));
    group.bench_function("berth", |b| {
        b.iter_custom(|iters| {
            median_batch(iters, || {
                PrivateToken::open(
                    black_box(&sealed),
                    &private_key,
                    PROTOCOL_ID,
                    expire_unix_secs,
                    &nonce,
                )
                .expect("authentic token")
            })
        });
    });
    let mut scratch = [0u8; PRIVATE_LEN];
    group.bench_function("bare", |b| {
        b.iter_custom(|iters| {
            median_batch(iters, || {
                scratch.copy_from_slice(black_box(&sealed));
                let (plain, tag) = scratch.split_at_mut(PRIVATE_PLAIN_LEN);
                let tag = Tag::try_from(&*tag).expect("16-byte tag");
                bare.decrypt_inout_detached(&xnonce, &aad, (&mut *plain).into(), &tag)
                    .expect("authentic token");
                black_box(plain);
            })
        });
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = packet_seal, packet_open, packet_key, packet_aead, token_open
}
criterion_main!(benches);
