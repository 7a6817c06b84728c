//! What the relay crate's tests share: raw HTTP exchanges, a relay client
//! that connects with a token, scratch folders, and a child-process reaper.
//!
//! Every wait blocks on a socket or a process against a deadline; nothing
//! sleeps to synchronise.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different subset.

use berth::ConnectToken;
use berth::relay::RelayClient;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// Generous: the machine may be busy with other test binaries.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Sends `request` and reads until the server closes (it serves one request
/// per connection): the status code and the body. A server that refuses a
/// request before reading all of it may reset the connection: that error.
pub fn try_exchange(addr: SocketAddr, request: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
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
pub fn exchange(addr: SocketAddr, request: &[u8]) -> (u16, Vec<u8>) {
    try_exchange(addr, request).expect("an HTTP exchange")
}

#[track_caller]
pub fn post_token(addr: SocketAddr) -> (u16, Vec<u8>) {
    exchange(
        addr,
        b"POST /token HTTP/1.1\r\nHost: relay\r\nContent-Length: 0\r\n\r\n",
    )
}

/// `GET path`: the status and the body as text.
#[track_caller]
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: relay\r\n\r\n");
    let (status, body) = exchange(addr, request.as_bytes());
    (status, String::from_utf8(body).expect("a text body"))
}

/// Connects a relay client with `token`, waits until it is connected, and
/// hands it back.
#[track_caller]
pub fn connect_with(token: &[u8]) -> RelayClient {
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
    client
}

/// A fresh empty folder under the temporary directory.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A child process, killed and reaped when dropped.
pub struct Reaper(pub std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Reaper {
    /// Sends the process SIGINT, as Ctrl-C would.
    pub fn interrupt(&self) {
        let pid = self.0.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -INT {pid}");
    }

    /// Blocks until the process exits, for at most `limit`; past it the
    /// process is killed and the test fails with `what`.
    #[track_caller]
    pub fn exit_within(self, limit: Duration, what: &str) -> std::process::ExitStatus {
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

pub const BINARY: &str = env!("CARGO_BIN_EXE_berth-relay");

/// Lines of a child's pipe, as they come.
pub fn lines(pipe: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The relay started with only environment variables (`vars`) and its key
/// at `key`: the child, its stdout and stderr lines after the start line,
/// its bound addresses and its HTTP address (read from the start line).
pub fn start(
    key: &Path,
    vars: &[(&str, &str)],
) -> (
    Reaper,
    Receiver<String>,
    Receiver<String>,
    Vec<SocketAddr>,
    SocketAddr,
) {
    let mut child = Reaper(
        Command::new(BINARY)
            .env("BERTH_BIND", "127.0.0.1:0")
            .env("BERTH_HTTP", "127.0.0.1:0")
            .env("BERTH_KEY_FILE", key)
            .env("RUST_LOG", "info")
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the relay binary"),
    );
    let stdout = lines(child.0.stdout.take().unwrap());
    let stderr = lines(child.0.stderr.take().unwrap());
    let ready = stdout
        .recv_timeout(DEADLINE)
        .expect("the relay's start line");
    // "relay on A,B (tokens name ...); token service on http://H/token, ..."
    let bound = ready
        .strip_prefix("relay on ")
        .and_then(|rest| rest.split(' ').next())
        .expect("the bound addresses");
    let bound = bound.split(',').map(|a| a.parse().unwrap()).collect();
    let http = ready
        .split("token service on http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("the HTTP address")
        .parse()
        .unwrap();
    (child, stdout, stderr, bound, http)
}
