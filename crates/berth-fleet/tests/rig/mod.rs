//! The fleet's processes for tests and benches: a real `nats-server -js`
//! on a free port with its store in a temporary folder, `berth-node` and
//! `berth-front` processes, and players. Every child is killed and reaped
//! when its handle drops.

#![allow(dead_code, unreachable_pub)] // Each user takes a different subset.

use berth::ConnectToken;
use berth::relay::protocol::ClientMessage;
use berth::relay::{MatchInfo, RelayClient, RelayEvent};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

pub const NODE: &str = env!("CARGO_BIN_EXE_berth-node");
pub const FRONT: &str = env!("CARGO_BIN_EXE_berth-front");
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A child process, killed and reaped when dropped.
pub struct Reaper(pub Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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

/// What every fleet test stands on: a JetStream server on a free port,
/// and the key file every node and front shares, in a scratch folder of
/// the test's own, removed (after the server stops) when dropped.
pub struct Backbone {
    /// The server's `nats://` URL.
    pub url: String,
    /// The shared key file.
    pub key: PathBuf,
    binary: PathBuf,
    port: u16,
    dir: PathBuf,
    nats: Option<Nats>,
}

impl Backbone {
    /// Starts the backbone for `test`; `None`, after printing why, when
    /// nats-server is not installed (and `BERTH_REQUIRE_NATS` is not set).
    pub fn start(test: &str) -> Option<Self> {
        let binary = nats_server(test)?;
        let dir = scratch(test);
        let port = free_port();
        let mut backbone = Self {
            url: format!("nats://127.0.0.1:{port}"),
            key: shared_key(&dir),
            binary,
            port,
            dir,
            nats: None,
        };
        backbone.start_nats();
        Some(backbone)
    }

    /// Stops the server, as an outage would.
    pub fn stop_nats(&mut self) {
        self.nats = None;
    }

    /// Starts the server (again) on the same port and store.
    pub fn start_nats(&mut self) {
        self.nats = Some(Nats::start(
            &self.binary,
            self.port,
            &self.dir.join("store"),
        ));
    }
}

impl Drop for Backbone {
    fn drop(&mut self) {
        self.stop_nats();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh folder for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-fleet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `nats-server` to run, or `None` after printing why the test skips.
fn nats_server(test: &str) -> Option<PathBuf> {
    let found = [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists());
    if found.is_none() {
        match std::env::var("BERTH_REQUIRE_NATS") {
            Ok(v) if !v.is_empty() && v != "0" => {
                panic!("{test}: BERTH_REQUIRE_NATS is set but nats-server is not installed")
            }
            _ => eprintln!("skipped {test}: nats-server is not installed"),
        }
    }
    found
}

/// A JetStream server on `port`, its store in `store`; stopped on drop.
struct Nats {
    _process: Reaper,
}

impl Nats {
    fn start(binary: &Path, port: u16, store: &Path) -> Self {
        let mut child = Command::new(binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string()])
            .arg("-sd")
            .arg(store)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nats-server");
        let log = lines(child.stderr.take().unwrap());
        let deadline = Instant::now() + DEADLINE;
        loop {
            let line = log
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("nats-server did not get ready");
            if line.contains("Server is ready") {
                break;
            }
        }
        Self {
            _process: Reaper(child),
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `berth-node` process: its UDP ports, as its start line names them,
/// and its log.
pub struct Node {
    pub ports: Vec<SocketAddr>,
    pub log: Receiver<String>,
    pub process: Reaper,
}

impl Node {
    pub fn start(id: &str, ip: &str, nats: &str, key: &Path) -> Self {
        Self::start_with(id, ip, nats, key, &[])
    }

    pub fn start_with(id: &str, ip: &str, nats: &str, key: &Path, vars: &[(&str, &str)]) -> Self {
        let mut child = Command::new(NODE)
            .env("BERTH_BIND", format!("{ip}:0"))
            .env("BERTH_PORTS", "2")
            .env("BERTH_HTTP", format!("{ip}:0"))
            .env("BERTH_KEY_FILE", key)
            .env("BERTH_FLEET", nats)
            .env("BERTH_NODE_ID", id)
            .env("RUST_LOG", "info")
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start berth-node");
        let out = lines(child.stdout.take().unwrap());
        let log = lines(child.stderr.take().unwrap());
        let ready = out.recv_timeout(DEADLINE).expect("the node's start line");
        let ports = ready
            .strip_prefix("relay on ")
            .and_then(|rest| rest.split(' ').next())
            .expect("the node's ports")
            .split(',')
            .map(|a| a.parse().unwrap())
            .collect();
        let node = Self {
            ports,
            log,
            process: Reaper(child),
        };
        node.logs("registered with the fleet");
        node
    }

    /// Waits until the node logs a line containing `text`.
    pub fn logs(&self, text: &str) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let line = self
                .log
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("the node never logged {text:?}"));
            if line.contains(text) {
                return;
            }
        }
    }

    /// Sends the node SIGTERM, as an orchestrator stopping it would.
    pub fn terminate(&self) {
        let pid = self.process.0.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Waits for the node to exit on its own; its exit status and its last
    /// log lines.
    pub fn exits(&mut self) -> (std::process::ExitStatus, Vec<String>) {
        let deadline = Instant::now() + DEADLINE;
        let mut last = Vec::new();
        loop {
            if let Some(status) = self.process.0.try_wait().unwrap() {
                last.extend(self.log.try_iter());
                return (status, last);
            }
            assert!(Instant::now() < deadline, "the node did not exit");
            // The node's log ends when it exits: wait on that, not a timer.
            if let Ok(line) = self.log.recv_timeout(Duration::from_millis(100)) {
                last.push(line);
            }
        }
    }
}

/// A `berth-front` process and its HTTP address.
pub struct Front {
    pub http: SocketAddr,
    _process: Reaper,
}

impl Front {
    pub fn start(nats: &str, key: &Path) -> Self {
        Self::start_with(nats, key, &[])
    }

    /// A front with more flags (`args`).
    pub fn start_with(nats: &str, key: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(FRONT)
            .args(["--http", "127.0.0.1:0", "--nats", nats])
            .arg("--key-file")
            .arg(key)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start berth-front");
        let out = lines(child.stdout.take().unwrap());
        let ready = out.recv_timeout(DEADLINE).expect("the front's start line");
        let http = ready
            .split("front on http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .expect("the front's address")
            .parse()
            .unwrap();
        Self {
            http,
            _process: Reaper(child),
        }
    }

    /// One token request: the status, the body, and the seconds a 503
    /// says to wait before asking again.
    pub fn ask_with_retry_after(&self, body: &[u8]) -> (u16, Vec<u8>, u64) {
        self.post("/token", body)
    }

    /// A browser's token request (`?transport=webtransport`): the status
    /// and the body.
    pub fn ask_webtransport(&self, body: &[u8]) -> (u16, Vec<u8>) {
        let (status, body, _) = self.post("/token?transport=webtransport", body);
        (status, body)
    }

    /// `POST path` with `body`: the status, the body, and a 503's Retry-After.
    fn post(&self, path: &str, body: &[u8]) -> (u16, Vec<u8>, u64) {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(10)))
                .build(),
        );
        let mut response = agent
            .post(format!("http://{}{path}", self.http))
            .send(body)
            .expect("the front answers");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        let body = response.body_mut().read_to_vec().unwrap_or_default();
        (status, body, retry_after)
    }

    /// One token request: the status and the body.
    pub fn ask(&self, body: &[u8]) -> (u16, Vec<u8>) {
        let (status, body, _) = self.ask_with_retry_after(body);
        (status, body)
    }

    /// The front's /metrics text.
    pub fn metrics(&self) -> String {
        ureq::get(format!("http://{}/metrics", self.http))
            .call()
            .expect("metrics")
            .body_mut()
            .read_to_string()
            .expect("metrics text")
    }

    /// A token for `body`.
    pub fn token(&self, body: &[u8]) -> ConnectToken {
        let (status, bytes) = self.ask(body);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
        ConnectToken::parse(&bytes).expect("a token")
    }

    /// A token for `body`, doing what a client of the front does with a
    /// 503: asking again after its Retry-After, until the deadline.
    pub fn token_when_available(&self, body: &[u8]) -> ConnectToken {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let (status, bytes, retry_after) = self.ask_with_retry_after(body);
            if status == 200 {
                return ConnectToken::parse(&bytes).expect("a token");
            }
            assert_eq!(status, 503, "{}", String::from_utf8_lossy(&bytes));
            assert!(Instant::now() < deadline, "no token within {DEADLINE:?}");
            // The server's own Retry-After, as any HTTP client honours it.
            std::thread::sleep(Duration::from_secs(retry_after.max(1)));
        }
    }
}

/// A key file every node and front shares.
fn shared_key(dir: &Path) -> PathBuf {
    let path = dir.join("fleet.key");
    berth_relay::key_file::load_or_create(&path).unwrap();
    path
}

pub fn match_request(info: &MatchInfo) -> Vec<u8> {
    ClientMessage::RequestMatch(info.clone()).to_vec()
}

/// A UDP player connecting with `token` from loopback.
pub fn udp_player(token: ConnectToken) -> RelayClient {
    let mut client = RelayClient::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    client.connect(Instant::now(), token);
    client
}

/// Which node a token sends its player to.
pub fn node_of(token: &ConnectToken, nodes: &[Node]) -> usize {
    let first = token.server_addresses.as_slice()[0];
    nodes
        .iter()
        .position(|n| n.ports.contains(&first))
        .expect("a token names a node's port")
}

/// Updates `players` until each is matched; returns each one's seed,
/// seat and rejoin secret.
pub fn until_matched(players: &mut [RelayClient], what: &str) -> Vec<(u64, u8, [u8; 16])> {
    matched(players, None, what)
}

/// Asks for `info`'s match for each of `players` as it connects, then
/// waits as [`until_matched`], checking each match has `info`'s player
/// count.
pub fn request_and_match(
    players: &mut [RelayClient],
    info: &MatchInfo,
    what: &str,
) -> Vec<(u64, u8, [u8; 16])> {
    matched(players, Some(info), what)
}

fn matched(
    players: &mut [RelayClient],
    request: Option<&MatchInfo>,
    what: &str,
) -> Vec<(u64, u8, [u8; 16])> {
    let deadline = Instant::now() + DEADLINE;
    let mut asked = vec![request.is_none(); players.len()];
    let mut seats: Vec<Option<(u64, u8, [u8; 16])>> = vec![None; players.len()];
    while seats.iter().any(Option::is_none) {
        assert!(Instant::now() < deadline, "{what}: {seats:?}");
        for ((player, seat), asked) in players.iter_mut().zip(&mut seats).zip(&mut asked) {
            player.update(Instant::now());
            if let (false, true, Some(info)) = (*asked, player.is_connected(), request) {
                player.request_match(info).unwrap();
                *asked = true;
            }
            while let Some(event) = player.poll_event() {
                if let RelayEvent::Matched {
                    random_seed,
                    player_idx,
                    player_count,
                    rejoin_secret,
                } = event
                {
                    if let Some(info) = request {
                        assert_eq!(player_count, info.player_count, "{what}");
                    }
                    *seat = Some((random_seed, player_idx, rejoin_secret));
                }
            }
        }
        players[0]
            .wait(Instant::now() + Duration::from_millis(1))
            .unwrap();
    }
    seats.into_iter().flatten().collect()
}
