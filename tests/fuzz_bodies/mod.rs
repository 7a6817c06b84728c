//! Fuzz bodies for berth's wire layer: one body, two drivers.
//!
//! Each `pub fn` takes arbitrary bytes, feeds them to berth's **public** wire
//! API and asserts only what must hold for every input: no panic, a value
//! that parses emits back to the bytes it came from, a header that parses
//! leaves room for the tag, an authenticated body opens to what was sealed.
//! `tests/wire_properties/` runs them under proptest in `cargo test`;
//! `fuzz/fuzz_targets/*.rs` runs them under libFuzzer (s2n-quic's pattern,
//! STYLE.md §5). They use nothing but `berth` and `std`.
//!
//! # Getting past the AEAD
//!
//! A fuzzer cannot forge a Poly1305 tag, so bytes taken as ciphertext only
//! reach the authentication check. The `*_sealed_plain` bodies take the bytes
//! as a *plaintext*, seal them under the fixed keys below with the nonce and
//! associated data the standard fixes (built here, independently of the
//! crate), and run the full open + parse path: the parser behind the AEAD
//! sees arbitrary bytes too. The fixed keys are public so that test drivers
//! can build valid inputs the bodies are able to open.
//!
//! # The channel layer
//!
//! [`channel::channel_connection`] reads arbitrary bytes as a script against
//! a channel [`berth::proto::channel::Connection`]: honest packets, damaged
//! ones and raw bytes; `tests/channel_properties.rs` and
//! `fuzz/fuzz_targets/channel.rs` are its drivers.
//!
//! # The server shard
//!
//! [`server_shard`] drives the proto layer the same way, with arbitrary bytes
//! read as a script of operations against a shard and real clients; see its
//! module docs. `tests/server_shard_properties.rs` and
//! `fuzz/fuzz_targets/server_shard.rs` are its drivers.
//!
//! # The relay's messages
//!
//! [`relay::relay_messages`] parses bytes as what a player sends the relay
//! and what the relay sends a player; `tests/wire_properties/` and
//! `fuzz/fuzz_targets/relay_message.rs` are its drivers.

pub mod channel;
pub mod relay;
pub mod server_shard;

use berth::crypto::{self, Key, MAC_LEN, PacketCipher, TOKEN_NONCE_LEN, VERSION};
use berth::wire::challenge_token::{self, ChallengeToken};
use berth::wire::connect_token::{
    ConnectToken, MAX_SERVERS, PRIVATE_LEN, PRIVATE_PLAIN_LEN, PrivateToken, TOKEN_LEN,
    USER_DATA_LEN,
};
use berth::wire::packet::{
    self, Body, CHALLENGE_BODY_LEN, ConnectionRequest, KEEP_ALIVE_BODY_LEN, MAX_ENCRYPTED_LEN,
    MAX_PAYLOAD_LEN, REQUEST_LEN,
};
use berth::wire::prefix::{self, Header, PacketType};
use berth::wire::{Error, Reader, Writer, address};

/// Protocol id every body seals and opens under.
pub const PROTOCOL_ID: u64 = 0x1122_3344_5566_7788;
/// Packet key (one direction) every body seals and opens packets with.
pub const PACKET_KEY: [u8; 32] = [0x11; 32];
/// Private key the bodies open private connect tokens with.
pub const PRIVATE_KEY: [u8; 32] = [0x22; 32];
/// Server challenge key the bodies open challenge tokens with.
pub const CHALLENGE_KEY: [u8; 32] = [0x33; 32];
/// Token nonce the `*_sealed_plain` bodies seal private tokens under.
pub const TOKEN_NONCE: [u8; TOKEN_NONCE_LEN] = [0x44; TOKEN_NONCE_LEN];
/// Expire timestamp the `*_sealed_plain` bodies seal private tokens under.
pub const EXPIRE_UNIX_SECS: u64 = 1_720_000_100;

/// The cipher for [`PACKET_KEY`].
pub fn packet_cipher() -> PacketCipher {
    PacketCipher::new(&Key::from_bytes(PACKET_KEY))
}

/// The cipher for [`CHALLENGE_KEY`].
pub fn challenge_cipher() -> PacketCipher {
    PacketCipher::new(&Key::from_bytes(CHALLENGE_KEY))
}

/// The packet AAD of netcode-spec §4: `VERSION | protocol id LE | prefix`.
pub fn packet_aad(protocol_id: u64, prefix: u8) -> Vec<u8> {
    let mut aad = VERSION.to_vec();
    aad.extend_from_slice(&protocol_id.to_le_bytes());
    aad.push(prefix);
    aad
}

/// The private token AAD of netcode-spec §1: `VERSION | protocol id | expire`.
pub fn token_aad(protocol_id: u64, expire_unix_secs: u64) -> Vec<u8> {
    let mut aad = VERSION.to_vec();
    aad.extend_from_slice(&protocol_id.to_le_bytes());
    aad.extend_from_slice(&expire_unix_secs.to_le_bytes());
    aad
}

/// Little-endian value of up to 8 bytes (missing high bytes are zero).
fn le_u64(bytes: &[u8]) -> u64 {
    let mut le = [0u8; 8];
    for (dst, src) in le.iter_mut().zip(bytes) {
        *dst = *src;
    }
    u64::from_le_bytes(le)
}

/// `data` cut or zero-padded to exactly `N` bytes.
fn fit<const N: usize>(data: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    for (dst, src) in out.iter_mut().zip(data) {
        *dst = *src;
    }
    out
}

/// What `packet::parse_header` must return for `data`, from netcode-spec §5
/// alone: `None` when the datagram must be dropped.
fn expected_header(data: &[u8]) -> Option<(u8, PacketType, u64)> {
    let (&prefix, rest) = data.split_first()?;
    let packet_type = PacketType::from_prefix(prefix).ok()?;
    let seq_len = usize::from(prefix >> 4);
    if packet_type == PacketType::Request || seq_len > 8 || rest.len() < seq_len + MAC_LEN {
        return None;
    }
    Some((prefix, packet_type, le_u64(rest.get(..seq_len)?)))
}

/// Whether an authenticated body of `len` bytes is the right size for `packet_type`.
fn body_len_ok(packet_type: PacketType, len: usize) -> bool {
    match packet_type {
        PacketType::Request => false,
        PacketType::Denied | PacketType::Disconnect => len == 0,
        PacketType::Challenge | PacketType::Response => len == CHALLENGE_BODY_LEN,
        PacketType::KeepAlive => len == KEEP_ALIVE_BODY_LEN,
        PacketType::Payload => (1..=MAX_PAYLOAD_LEN).contains(&len),
    }
}

/// Any bytes as a datagram: the request parser, the header parser and the
/// open path with the fixed packet key.
///
/// A request that parses emits back to the same 1078 bytes; a header that
/// parses is the one netcode-spec §5 describes and leaves room for a tag; a
/// packet that opens reseals to the same bytes and fails under another
/// protocol id. If the bytes are a request, its private token is opened with
/// [`PRIVATE_KEY`], as a server would.
pub fn packet_parse(data: &[u8]) {
    header_parse(data);

    let request = ConnectionRequest::parse(data);
    let request_ok = data.len() == REQUEST_LEN
        && data.first() == Some(&0)
        && data.get(1..1 + VERSION.len()) == Some(&VERSION[..]);
    assert_eq!(request.is_ok(), request_ok, "request parse: {request:?}");
    if let Ok(request) = request {
        let mut out = [0u8; REQUEST_LEN];
        assert_eq!(request.emit(&mut out), Ok(REQUEST_LEN));
        assert_eq!(&out[..], data, "request emit(parse(x)) != x");
        assert!(request.emit(&mut out[..REQUEST_LEN - 1]).is_err());
        open_private(
            request.private,
            request.protocol_id,
            request.expire_unix_secs,
            request.nonce,
        );
    }

    let header = packet::parse_header(data);
    assert_eq!(
        header
            .as_ref()
            .ok()
            .map(|h| (h.prefix(), h.packet_type(), h.sequence())),
        expected_header(data),
        "parse_header({data:02x?})"
    );
    let Ok(header) = header else { return };
    assert_ne!(header.packet_type(), PacketType::Request);
    assert!(header.sequence_len() <= 8);
    assert!(
        data.len() >= header.encoded_len() + MAC_LEN,
        "parsed header leaves no room for a tag"
    );
    let mut buf = data.to_vec();
    if let Ok(body) = packet::open(&mut buf, &header, PROTOCOL_ID, &packet_cipher()) {
        check_opened(data, &header, &body);
    }
}

/// Checks a packet `datagram` that opened to `body` under the fixed key.
fn check_opened(datagram: &[u8], header: &Header, body: &Body<'_>) {
    assert_eq!(body.packet_type(), header.packet_type());
    assert!(body_len_ok(header.packet_type(), body.encoded_len()));
    assert_eq!(
        datagram.len(),
        header.encoded_len() + body.encoded_len() + MAC_LEN
    );
    if let Body::Payload(bytes) = body {
        assert!(!bytes.is_empty() && bytes.len() <= MAX_PAYLOAD_LEN);
    }

    // Sealing is deterministic: the body resealed under the same sequence
    // gives the same ciphertext, and the same bytes when the sender wrote
    // the minimal sequence length, as `seal` does.
    let mut out = [0u8; MAX_ENCRYPTED_LEN];
    let len = packet::seal(
        body,
        header.sequence(),
        PROTOCOL_ID,
        &packet_cipher(),
        &mut out,
    )
    .expect("an opened body reseals");
    let resealed = &out[..len];
    let minimal = Header::new(header.packet_type(), header.sequence());
    if minimal.prefix() == header.prefix() {
        assert_eq!(resealed, datagram, "seal(open(x)) != x");
    } else {
        let ours = &resealed[minimal.encoded_len()..len - MAC_LEN];
        let theirs = &datagram[header.encoded_len()..datagram.len() - MAC_LEN];
        assert_eq!(ours, theirs, "resealed ciphertext differs");
    }

    // The protocol id is in the AAD: another id must not authenticate.
    let mut again = datagram.to_vec();
    assert!(matches!(
        packet::open(&mut again, header, PROTOCOL_ID ^ 1, &packet_cipher()),
        Err(Error::Crypto(_))
    ));
}

/// Any bytes through the bounded-`Reader` header parser; what parses
/// re-emits to exactly the bytes it consumed.
pub fn header_parse(data: &[u8]) {
    let mut r = Reader::new(data);
    let Ok(header) = Header::parse(&mut r) else {
        return;
    };
    let used = data.len() - r.remaining();
    assert_eq!(used, header.encoded_len());
    assert!(header.sequence_len() <= usize::from(prefix::MAX_SEQUENCE_LEN));
    assert_eq!(
        PacketType::from_prefix(header.prefix()),
        Ok(header.packet_type())
    );
    let mut out = [0u8; 9];
    let mut w = Writer::new(&mut out);
    header.emit(&mut w).expect("a parsed header fits 9 bytes");
    let len = w.len();
    assert_eq!(&out[..len], &data[..used], "header emit(parse(x)) != x");
}

/// Any bytes through the address-record parser; what parses re-emits to
/// exactly the bytes it consumed.
pub fn address_parse(data: &[u8]) {
    let mut r = Reader::new(data);
    let Ok(addr) = address::parse(&mut r) else {
        return;
    };
    let used = data.len() - r.remaining();
    assert_eq!(used, address::encoded_len(&addr));
    let mut out = [0u8; address::IPV6_LEN];
    let mut w = Writer::new(&mut out);
    address::emit(&addr, &mut w).expect("a record fits 19 bytes");
    assert_eq!(w.len(), used);
    assert_eq!(&out[..used], &data[..used], "address emit(parse(x)) != x");
}

/// Arbitrary bytes as the *plaintext* of an encrypted packet.
///
/// Layout: `prefix | sequence bytes (as many as the prefix says, zero-filled
/// when short) | body plaintext`. The body is sealed under [`PACKET_KEY`]
/// with the spec's nonce and AAD, so `open` must authenticate it: it then
/// accepts exactly the body sizes §5 allows and reseals to the same bytes.
/// The same bytes are also sealed as a payload with `packet::seal`, into
/// buffers of several sizes.
pub fn packet_sealed_plain(data: &[u8]) {
    let Some((&prefix_byte, rest)) = data.split_first() else {
        return;
    };
    let cipher = packet_cipher();
    let seq_len = usize::from(prefix_byte >> 4);
    let sequence = le_u64(rest.get(..seq_len.min(8)).unwrap_or(rest));
    let plain = rest.get(seq_len..).unwrap_or(&[]);
    seal_payload(plain, sequence);

    let packet_type = match PacketType::from_prefix(prefix_byte) {
        Ok(PacketType::Request) | Err(_) => None,
        Ok(t) if seq_len <= 8 => Some(t),
        Ok(_) => None,
    };
    let Some(packet_type) = packet_type else {
        // No valid header starts with this byte, whatever follows.
        let mut datagram = data.to_vec();
        datagram.extend_from_slice(&[0; MAC_LEN]);
        assert!(packet::parse_header(&datagram).is_err());
        return;
    };

    let mut datagram = Vec::with_capacity(1 + seq_len + plain.len() + MAC_LEN);
    datagram.push(prefix_byte);
    datagram.extend_from_slice(&sequence.to_le_bytes()[..seq_len]);
    let body_start = datagram.len();
    datagram.extend_from_slice(plain);
    let tag = cipher.seal(
        sequence,
        &packet_aad(PROTOCOL_ID, prefix_byte),
        &mut datagram[body_start..],
    );
    datagram.extend_from_slice(&tag);

    let header = packet::parse_header(&datagram).expect("a valid header");
    assert_eq!(
        (header.prefix(), header.packet_type(), header.sequence()),
        (prefix_byte, packet_type, sequence)
    );
    let mut buf = datagram.clone();
    match packet::open(&mut buf, &header, PROTOCOL_ID, &cipher) {
        Ok(body) => {
            assert!(body_len_ok(packet_type, plain.len()), "{body:?}");
            match body {
                Body::Payload(bytes) => assert_eq!(bytes, plain),
                Body::KeepAlive {
                    client_index,
                    max_clients,
                } => {
                    assert_eq!(u64::from(client_index), le_u64(&plain[..4]));
                    assert_eq!(u64::from(max_clients), le_u64(&plain[4..8]));
                }
                Body::Challenge {
                    challenge_sequence,
                    token,
                }
                | Body::Response {
                    challenge_sequence,
                    token,
                } => {
                    assert_eq!(challenge_sequence, le_u64(&plain[..8]));
                    assert_eq!(&token[..], &plain[8..]);
                    // The server's next step on a response.
                    open_challenge(token, challenge_sequence);
                }
                Body::Denied | Body::Disconnect => {}
            }
            check_opened(&datagram, &header, &body);
        }
        Err(e) => {
            assert!(!body_len_ok(packet_type, plain.len()));
            assert_eq!(e, Error::BadLength { len: plain.len() });
        }
    }
}

/// `packet::seal` of `plain` as a payload: accepted exactly for 1..=1200
/// bytes, never writes past `out`, and opens back to the payload.
fn seal_payload(plain: &[u8], sequence: u64) {
    let cipher = packet_cipher();
    let body = Body::Payload(plain);
    let mut out = [0u8; MAX_ENCRYPTED_LEN];
    let sealed = packet::seal(&body, sequence, PROTOCOL_ID, &cipher, &mut out);
    if plain.is_empty() || plain.len() > MAX_PAYLOAD_LEN {
        assert_eq!(sealed, Err(Error::BadLength { len: plain.len() }));
        return;
    }
    let needed = 1 + usize::from(prefix::sequence_len(sequence)) + plain.len() + MAC_LEN;
    assert_eq!(sealed, Ok(needed));
    for short in [0, 1, needed / 2, needed - MAC_LEN, needed - 1] {
        assert!(
            matches!(
                packet::seal(&body, sequence, PROTOCOL_ID, &cipher, &mut out[..short]),
                Err(Error::BufferTooSmall { .. })
            ),
            "seal into {short} of {needed} bytes"
        );
    }
    let len = packet::seal(&body, sequence, PROTOCOL_ID, &cipher, &mut out).expect("sealed above");
    let header = packet::parse_header(&out[..len]).expect("sealed header parses");
    assert_eq!(header, Header::new(PacketType::Payload, sequence));
    let opened = packet::open(&mut out[..len], &header, PROTOCOL_ID, &cipher);
    assert_eq!(opened, Ok(Body::Payload(plain)));
}

/// Any bytes as a connect token, as a client reads one from its backend.
///
/// The bytes are parsed as they are, and again behind a correct `VERSION`,
/// cut or zero-padded to 2048 bytes, so that the fields after the version
/// are reached. A token that parses has 1..=32 servers and create <= expire,
/// and emits back to the same bytes up to its padding. Its private part is
/// then opened with [`PRIVATE_KEY`] through the request a client would send.
pub fn connect_token_parse(data: &[u8]) {
    let _ = check_connect_token(data);
    let mut versioned = VERSION.to_vec();
    versioned.extend_from_slice(data);
    let versioned: [u8; TOKEN_LEN] = fit(&versioned);
    let parsed = check_connect_token(&versioned);
    assert!(!matches!(
        parsed,
        Err(Error::BadLength { .. } | Error::BadVersion)
    ));
}

fn check_connect_token(data: &[u8]) -> Result<(), Error> {
    let token = ConnectToken::parse(data)?;
    assert_eq!(data.len(), TOKEN_LEN);
    assert!(token.create_unix_secs <= token.expire_unix_secs);
    let servers = token.server_addresses.as_slice().len();
    assert!((1..=MAX_SERVERS).contains(&servers));

    let bytes = token.to_bytes();
    let used = token.encoded_len();
    assert!(used <= TOKEN_LEN);
    assert_eq!(&bytes[..used], &data[..used], "token emit(parse(x)) != x");
    assert!(bytes[used..].iter().all(|&b| b == 0), "padding not zero");
    assert_eq!(ConnectToken::parse(&bytes).as_ref(), Ok(&token));

    // The request the client sends, and the server's reading of it.
    let mut request = [0u8; REQUEST_LEN];
    let len = ConnectionRequest::from_token(&token)
        .emit(&mut request)
        .expect("a request fits 1078 bytes");
    assert_eq!(len, REQUEST_LEN);
    assert_eq!(
        ConnectionRequest::parse(&request),
        Ok(ConnectionRequest::from_token(&token))
    );
    open_private(
        &token.private,
        token.protocol_id,
        token.expire_unix_secs,
        &token.nonce,
    );
    Ok(())
}

/// Any bytes as a sealed private token: `sealed (1024) | nonce (24) |
/// expire (8) | protocol id (8)`, zero-filled when short. Opening with
/// [`PRIVATE_KEY`] must not panic, and what opens round-trips. If the bytes
/// are a connection request, its private token is opened too.
pub fn private_token_open(data: &[u8]) {
    let sealed: [u8; PRIVATE_LEN] = fit(data);
    let rest = data.get(PRIVATE_LEN..).unwrap_or(&[]);
    let nonce: [u8; TOKEN_NONCE_LEN] = fit(rest);
    let rest = rest.get(TOKEN_NONCE_LEN..).unwrap_or(&[]);
    let expire = le_u64(rest);
    let protocol_id = le_u64(rest.get(8..).unwrap_or(&[]));
    open_private(&sealed, protocol_id, expire, &nonce);

    if let Ok(request) = ConnectionRequest::parse(data) {
        open_private(
            request.private,
            request.protocol_id,
            request.expire_unix_secs,
            request.nonce,
        );
    }
}

/// Opens a sealed private token with [`PRIVATE_KEY`]; if it opens, checks
/// it round-trips and is bound to its AAD.
fn open_private(
    sealed: &[u8; PRIVATE_LEN],
    protocol_id: u64,
    expire_unix_secs: u64,
    nonce: &[u8; TOKEN_NONCE_LEN],
) {
    let key = Key::from_bytes(PRIVATE_KEY);
    let Ok(token) = PrivateToken::open(sealed, &key, protocol_id, expire_unix_secs, nonce) else {
        return;
    };
    check_private_token(&token);
    for (pid, expire) in [
        (protocol_id ^ 1, expire_unix_secs),
        (protocol_id, expire_unix_secs ^ 1),
    ] {
        assert!(matches!(
            PrivateToken::open(sealed, &key, pid, expire, nonce),
            Err(Error::Crypto(_))
        ));
    }
}

/// A private token's emit/parse and seal/open round trips.
fn check_private_token(token: &PrivateToken) {
    let servers = token.server_addresses.as_slice().len();
    assert!((1..=MAX_SERVERS).contains(&servers));
    let mut plain = [0xa5u8; PRIVATE_LEN];
    token.emit_plain(&mut plain).expect("a parsed token emits");
    assert_eq!(PrivateToken::parse_plain(&plain).as_ref(), Ok(token));
    assert!(plain[private_fields_len(token)..].iter().all(|&b| b == 0));

    let key = Key::from_bytes(PRIVATE_KEY);
    let mut sealed = [0u8; PRIVATE_LEN];
    token
        .seal(
            &key,
            PROTOCOL_ID,
            EXPIRE_UNIX_SECS,
            &TOKEN_NONCE,
            &mut sealed,
        )
        .expect("a parsed token seals");
    let opened = PrivateToken::open(&sealed, &key, PROTOCOL_ID, EXPIRE_UNIX_SECS, &TOKEN_NONCE);
    assert_eq!(opened.as_ref(), Ok(token));
}

/// Length of a private token's fields before the zero padding.
fn private_fields_len(token: &PrivateToken) -> usize {
    let addrs: usize = token
        .server_addresses
        .as_slice()
        .iter()
        .map(address::encoded_len)
        .sum();
    8 + 4 + 4 + addrs + 2 * crypto::KEY_LEN + USER_DATA_LEN
}

/// Any bytes straight into `PrivateToken::parse_plain`: what parses needs
/// the whole 1008-byte region, re-emits to the same field bytes and
/// round-trips through seal/open.
pub fn private_token_plain(data: &[u8]) {
    let Ok(token) = PrivateToken::parse_plain(data) else {
        return;
    };
    assert!(data.len() >= PRIVATE_PLAIN_LEN);
    let mut plain = [0u8; PRIVATE_LEN];
    token.emit_plain(&mut plain).expect("a parsed token emits");
    let used = private_fields_len(&token);
    assert!(used <= PRIVATE_PLAIN_LEN);
    assert_eq!(&plain[..used], &data[..used], "private emit(parse(x)) != x");
    check_private_token(&token);
}

/// Arbitrary bytes, cut or zero-padded to 1008, as the *plaintext* of a
/// private token: sealed under [`PRIVATE_KEY`] with the spec's AAD, then
/// opened by the crate. The open must authenticate and give exactly what
/// `parse_plain` gives for the plaintext.
pub fn private_token_sealed_plain(data: &[u8]) {
    private_token_plain(data);
    let mut sealed: [u8; PRIVATE_LEN] = fit(data);
    let (plain, tag_out) = sealed.split_at_mut(PRIVATE_PLAIN_LEN);
    let expected = PrivateToken::parse_plain(plain);
    let key = Key::from_bytes(PRIVATE_KEY);
    let aad = token_aad(PROTOCOL_ID, EXPIRE_UNIX_SECS);
    let tag = crypto::seal_token(&key, &TOKEN_NONCE, &aad, plain);
    tag_out.copy_from_slice(&tag);
    let opened = PrivateToken::open(&sealed, &key, PROTOCOL_ID, EXPIRE_UNIX_SECS, &TOKEN_NONCE);
    assert_eq!(opened, expected, "open(seal(p)) != parse_plain(p)");
    if let Ok(token) = opened {
        check_private_token(&token);
    }
}

/// Any bytes as a sealed challenge token (`token (300) | challenge sequence
/// (8)`, zero-filled when short), opened with [`CHALLENGE_KEY`].
pub fn challenge_token_open(data: &[u8]) {
    let sealed: [u8; challenge_token::TOKEN_LEN] = fit(data);
    let sequence = le_u64(data.get(challenge_token::TOKEN_LEN..).unwrap_or(&[]));
    open_challenge(&sealed, sequence);
}

fn open_challenge(sealed: &[u8; challenge_token::TOKEN_LEN], sequence: u64) {
    let cipher = challenge_cipher();
    let Ok(token) = ChallengeToken::open(sealed, &cipher, sequence) else {
        return;
    };
    let mut again = [0u8; challenge_token::TOKEN_LEN];
    token.seal(&cipher, sequence, &mut again);
    assert_eq!(ChallengeToken::open(&again, &cipher, sequence), Ok(token));
    assert!(ChallengeToken::open(sealed, &cipher, sequence ^ 1).is_err());
}

/// Arbitrary bytes as the *plaintext* of a challenge token (`challenge
/// sequence (8) | plaintext (284)`, zero-filled when short), sealed under
/// [`CHALLENGE_KEY`] with the spec's nonce: the crate must open it to the
/// client id and user data at the start of the plaintext.
pub fn challenge_token_sealed_plain(data: &[u8]) {
    const PLAIN_LEN: usize = challenge_token::TOKEN_LEN - MAC_LEN;
    let sequence = le_u64(data);
    let mut sealed: [u8; challenge_token::TOKEN_LEN] = fit(data.get(8..).unwrap_or(&[]));
    let (plain, tag_out) = sealed.split_at_mut(PLAIN_LEN);
    let client_id = le_u64(&plain[..8]);
    let user_data: [u8; USER_DATA_LEN] = fit(&plain[8..]);
    let padding_is_zero = plain[8 + USER_DATA_LEN..].iter().all(|&b| b == 0);
    let cipher = challenge_cipher();
    let tag = cipher.seal(sequence, &[], plain);
    tag_out.copy_from_slice(&tag);

    let token = ChallengeToken::open(&sealed, &cipher, sequence).expect("sealed with the key");
    assert_eq!(token.client_id, client_id);
    assert_eq!(token.user_data, user_data);
    let mut again = [0u8; challenge_token::TOKEN_LEN];
    token.seal(&cipher, sequence, &mut again);
    assert_eq!(again == sealed, padding_is_zero);
    open_challenge(&sealed, sequence);
}
