//! The relay binary (`examples/relay/`): its token service and key file in
//! process, and the built binary end to end: start it, POST /token, connect
//! a relay client with the token, Ctrl-C it, and see it exit 0.
//!
//! Every wait polls against a deadline; nothing sleeps to synchronise.

#![allow(dead_code, unreachable_pub)] // The binary's modules, of which each test uses a part.

#[path = "../examples/relay/key_file.rs"]
mod key_file;
#[path = "../examples/relay/rate_limit.rs"]
mod rate_limit;
#[path = "../examples/relay/token_http.rs"]
mod token_http;

use berth::engine::ServerConfig;
use berth::relay::{RelayClient, RelayConfig, RelayServer, protocol_id};
use berth::{ConnectToken, Key};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use token_http::{Refusal, TokenHttp, TokenHttpConfig};

/// Generous: the machine may be busy with other test binaries.
const DEADLINE: Duration = Duration::from_secs(20);

/// Sends `request` and reads until the server closes (it serves one request
/// per connection): the status code and the body. A server that refuses a
/// request before reading all of it may reset the connection: that error.
fn try_exchange(addr: SocketAddr, request: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&addr, DEADLINE)?;
    stream.set_read_timeout(Some(DEADLINE))?;
    stream.set_write_timeout(Some(DEADLINE))?;
    // A write cut short by an early answer still leaves the answer to read.
    let _ = stream.write_all(request);
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete header");
    let head = String::from_utf8_lossy(&response[..end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    Ok((status, response[end + 4..].to_vec()))
}

#[track_caller]
fn exchange(addr: SocketAddr, request: &[u8]) -> (u16, Vec<u8>) {
    try_exchange(addr, request).expect("an HTTP exchange")
}

#[track_caller]
fn post_token(addr: SocketAddr) -> (u16, Vec<u8>) {
    exchange(
        addr,
        b"POST /token HTTP/1.1\r\nHost: relay\r\nContent-Length: 0\r\n\r\n",
    )
}

/// Connects a relay client with `token` and waits until it is connected.
#[track_caller]
fn connect_with(token: &[u8]) {
    let token = ConnectToken::parse(token).expect("a connect token");
    let mut client = RelayClient::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    client.connect(Instant::now(), token);
    let deadline = Instant::now() + DEADLINE;
    while !client.is_connected() {
        assert!(Instant::now() < deadline, "the client did not connect");
        client.update(Instant::now());
        client
            .wait(Instant::now() + Duration::from_millis(1))
            .unwrap();
    }
    client.disconnect(Instant::now());
}

fn relay(ports: u16) -> Arc<RelayServer> {
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        protocol_id(),
        Key::from_bytes([9; 32]),
    )
    .ports(ports);
    Arc::new(RelayServer::bind(config, RelayConfig::default()).unwrap())
}

fn service(relay: &Arc<RelayServer>, config: TokenHttpConfig) -> TokenHttp {
    let relay = relay.clone();
    let next_id = std::sync::Mutex::new(0);
    let issuer = Arc::new(move || {
        let mut id = next_id.lock().unwrap();
        *id += 1;
        relay
            .issue_token(*id)
            .map(|t| t.to_bytes().to_vec())
            .map_err(|e| Refusal::Failed(e.to_string()))
    });
    TokenHttp::start("127.0.0.1:0".parse().unwrap(), config, issuer).unwrap()
}

#[test]
fn a_posted_token_connects_a_player() {
    let relay = relay(2);
    let http = service(&relay, TokenHttpConfig::default());
    let (status, body) = post_token(http.local_addr());
    assert_eq!(status, 200);
    assert_eq!(body.len(), 2048);
    connect_with(&body);
    assert_eq!(http.stats().issued, 1);
    http.stop();
}

#[test]
fn only_post_token_is_served() {
    let relay = relay(1);
    let http = service(&relay, TokenHttpConfig::default());
    let addr = http.local_addr();
    assert_eq!(
        exchange(addr, b"GET /token HTTP/1.1\r\nHost: r\r\n\r\n").0,
        405
    );
    assert_eq!(
        exchange(addr, b"POST /other HTTP/1.1\r\nHost: r\r\n\r\n").0,
        404
    );
    // A body declared past 1 KiB is refused before it is sent.
    let big = b"POST /token HTTP/1.1\r\nHost: r\r\nContent-Length: 4096\r\n\r\n";
    assert_eq!(exchange(addr, big).0, 413);
    // Headers past 8 KiB are refused: 431, or a reset if the server closed
    // with some of them unread.
    let mut huge = b"POST /token HTTP/1.1\r\nHost: r\r\nX-Pad: ".to_vec();
    huge.extend_from_slice(&[b'a'; 16 << 10]);
    huge.extend_from_slice(b"\r\n\r\n");
    match try_exchange(addr, &huge) {
        Ok((status, _)) => assert_eq!(status, 431),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    // A small body is read and ignored.
    let small = b"POST /token HTTP/1.1\r\nHost: r\r\nContent-Length: 5\r\n\r\nhello";
    assert_eq!(exchange(addr, small).0, 200);
    assert_eq!(http.stats().issued, 1);
}

#[test]
fn tokens_are_rate_limited_per_address() {
    let relay = relay(1);
    let config = TokenHttpConfig {
        per_addr_per_sec: 1,
        burst: 2,
        ..TokenHttpConfig::default()
    };
    let http = service(&relay, config);
    let codes: Vec<u16> = (0..6).map(|_| post_token(http.local_addr()).0).collect();
    assert_eq!(&codes[..2], [200, 200], "{codes:?}");
    assert!(codes.contains(&429), "{codes:?}");
}

#[test]
fn rate_limiter_refills_groups_ipv6_and_caps_its_table() {
    let mut limiter = rate_limit::RateLimiter::new(2, 2, 2);
    let t0 = Instant::now();
    let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    assert!(limiter.allow(a, t0) && limiter.allow(a, t0));
    assert!(!limiter.allow(a, t0));
    assert!(limiter.allow(a, t0 + Duration::from_millis(500)));
    // Two hosts of one /64 share a bucket.
    let (v6a, v6b) = (
        "2001:db8::1".parse().unwrap(),
        "2001:db8::2".parse().unwrap(),
    );
    assert!(limiter.allow(v6a, t0) && limiter.allow(v6b, t0));
    assert!(!limiter.allow(v6a, t0));
    // The table holds two addresses: a third is refused while both are active...
    let c = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3));
    assert!(!limiter.allow(c, t0 + Duration::from_millis(500)));
    // ...and let in once theirs have refilled and can be forgotten.
    assert!(limiter.allow(c, t0 + Duration::from_secs(5)));
}

#[test]
fn a_silent_client_is_dropped_and_does_not_block_others() {
    let relay = relay(1);
    let config = TokenHttpConfig {
        header_timeout: Duration::from_millis(300),
        ..TokenHttpConfig::default()
    };
    let http = service(&relay, config);
    let mut silent = TcpStream::connect(http.local_addr()).unwrap();
    silent.set_read_timeout(Some(DEADLINE)).unwrap();
    assert_eq!(post_token(http.local_addr()).0, 200);
    // The server gives up on the silent one: EOF (or a 408) well before DEADLINE.
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = silent.read_to_end(&mut rest);
    assert!(
        started.elapsed() < DEADLINE,
        "the silent connection was held"
    );
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[cfg(unix)]
#[test]
fn key_file_is_made_private_and_checked() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("key-file");
    let path = dir.join("relay.key");
    let (key, origin) = key_file::load_or_create(&path).unwrap();
    assert_eq!(origin, key_file::KeyOrigin::Created);
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
    let (again, origin) = key_file::load_or_create(&path).unwrap();
    assert_eq!((again, origin), (key, key_file::KeyOrigin::Loaded));

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = key_file::load_or_create(&path).unwrap_err();
    assert!(
        matches!(err, key_file::KeyFileError::TooOpen { mode: 0o644, .. }),
        "{err}"
    );

    let short = dir.join("short.key");
    std::fs::write(&short, [1u8; 31]).unwrap();
    std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = key_file::load_or_create(&short).unwrap_err();
    assert!(
        matches!(err, key_file::KeyFileError::WrongLength { len: 31, .. }),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The example binary next to this test's, if `cargo test` built it (it
/// builds examples unless only some targets were asked for).
fn relay_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let path = profile_dir
        .join("examples")
        .join(format!("relay{}", std::env::consts::EXE_SUFFIX));
    path.exists().then_some(path)
}

/// Kills the child if the test fails before it exits.
struct Reaper(std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Reaper {
    /// Blocks until the process exits, for at most `limit`; past it the
    /// process is killed and the test fails with `what`.
    #[track_caller]
    fn exit_within(self, limit: Duration, what: &str) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reaper = self;
            let _ = tx.send(reaper.0.wait());
        });
        match rx.recv_timeout(limit) {
            Ok(status) => status.expect("wait for the process"),
            Err(_) => {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid])
                    .status();
                panic!("{what} within {limit:?}");
            }
        }
    }
}

/// Starts the relay binary on two loopback ports with its key at `key`;
/// returns it, its stdout lines after the start line, and its token
/// service's address (read from the start line).
#[cfg(unix)]
fn start_relay(
    binary: &std::path::Path,
    key: &std::path::Path,
) -> (Reaper, std::sync::mpsc::Receiver<String>, SocketAddr) {
    use std::process::{Command, Stdio};
    let child = Command::new(binary)
        .args([
            "--bind",
            "127.0.0.1:0",
            "--ports",
            "2",
            "--token-http",
            "127.0.0.1:0",
        ])
        .arg("--key-file")
        .arg(key)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the relay binary");
    let mut child = Reaper(child);
    let stdout = child.0.stdout.take().unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let ready = lines
        .recv_timeout(DEADLINE)
        .expect("the relay's start line");
    let url = ready
        .split("token service on http://")
        .nth(1)
        .expect("the token service address");
    let addr = url.trim_end_matches("/token").parse().unwrap();
    (child, lines, addr)
}

#[cfg(unix)]
#[test]
fn the_binary_serves_a_token_and_stops_cleanly_on_ctrl_c() {
    use std::process::Command;
    let Some(binary) = relay_binary() else {
        eprintln!(
            "skipped: the relay example is not built (run `cargo test` without target filters)"
        );
        return;
    };
    let dir = scratch_dir("relay-binary");
    let (child, lines, addr) = start_relay(&binary, &dir.join("relay.key"));
    let (status, token) = post_token(addr);
    assert_eq!(status, 200);
    connect_with(&token);

    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.exit_within(DEADLINE, "the relay did not stop on Ctrl-C");
    assert!(status.success(), "{status}");
    let rest: Vec<String> = lines.try_iter().collect();
    assert!(
        rest.iter()
            .any(|l| l.starts_with("final:") && l.contains("tokens issued 1")),
        "{rest:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The coins example next to this test's, if `cargo test` built it.
fn coins_binary() -> Option<PathBuf> {
    let relay = relay_binary()?;
    let path = relay.with_file_name(format!("coins{}", std::env::consts::EXE_SUFFIX));
    path.exists().then_some(path)
}

#[cfg(unix)]
#[test]
fn two_coins_bots_fetch_tokens_match_through_the_relay_and_agree_on_the_winner() {
    use std::process::{Command, Stdio};
    let (Some(relay), Some(coins)) = (relay_binary(), coins_binary()) else {
        eprintln!("skipped: the examples are not built (run `cargo test` without target filters)");
        return;
    };
    let dir = scratch_dir("coins-game");
    let (_relay, _lines, endpoint) = start_relay(&relay, &dir.join("relay.key"));
    let endpoint = endpoint.to_string();
    let bots: Vec<Reaper> = (0..2)
        .map(|_| {
            Reaper(
                Command::new(&coins)
                    .args([
                        "--token-http",
                        &endpoint,
                        "--players",
                        "2",
                        "--bot",
                        "--first-to",
                        "3",
                    ])
                    .args(["--wait-secs", "20"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .expect("start a coins bot"),
            )
        })
        .collect();
    let mut verdicts = Vec::new();
    for mut bot in bots {
        let stdout = bot.0.stdout.take().unwrap();
        let status = bot.exit_within(Duration::from_secs(60), "a bot did not finish");
        assert!(status.success(), "{status}");
        let out = std::io::read_to_string(stdout).unwrap();
        verdicts.push(out.lines().last().unwrap_or_default().to_owned());
    }
    assert!(verdicts[0].contains("wins; scores"), "{verdicts:?}");
    assert_eq!(verdicts[0], verdicts[1], "the two bots saw different games");
    let _ = std::fs::remove_dir_all(&dir);
}
