//! A browser player and a native player in one room, for real: the
//! `berth-relay` binary serves UDP and WebTransport; headless Chromium
//! (driven by `clients/web/e2e/run.mjs` through playwright-core) loads a
//! page from localhost that fetches a token and certificate hashes,
//! connects over WebTransport with the TypeScript client, and meets this
//! test's native `RelayClient`, on UDP, in a match. Both sides send 1,000
//! reliable-ordered messages (checked exactly once and in order), unreliable
//! ones, and one of 100 KiB by fragments; the page sees the native player
//! leave. Then the browser coins game plays against a native player: a key
//! press moves the browser's player, the native side receives the move in
//! coins' own wire format, and a screenshot of the page after the move is
//! saved under `target/browser-artifacts/`. Last, the relay stops on Ctrl-C,
//! and the coins page shows the player the server's reason.
//!
//! Needs Chromium (`/usr/bin/chromium`), Node and `clients/web` built with
//! its packages (`npm ci && npm test` there builds everything). Without them it
//! prints one line and skips, unless `BERTH_REQUIRE_BROWSER=1`.

#![cfg(unix)]

mod common;

#[allow(
    dead_code,
    unreachable_pub,
    reason = "the game's whole wire format; this test reads positions"
)]
#[path = "../../../examples/coins/wire.rs"]
mod coins_wire;

use berth::ConnectToken;
use berth::relay::{MatchInfo, RelayClient, RelayEvent, Target};
use coins_wire::GameMessage;
use common::{Reaper, lines, post_token, scratch_dir, start};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Longest wait for one step of the page.
const STEP: Duration = Duration::from_secs(60);
const RELIABLE: u32 = 1000;
const BIG_LEN: usize = 100 * 1024;

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/web")
}

/// Why the browser test cannot run here, if it cannot.
fn missing() -> Option<String> {
    let web = web_dir();
    if !Path::new("/usr/bin/chromium").exists() {
        return Some("no /usr/bin/chromium (Debian package chromium)".into());
    }
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|out| out.status.success()) {
        return Some("no node on PATH".into());
    }
    for (path, what) in [
        (
            "node_modules/playwright-core",
            "clients/web packages (npm ci)",
        ),
        (
            "dist/src/index.js",
            "the client's build (npm run build:all)",
        ),
        ("e2e/run.mjs", "the e2e runner"),
    ] {
        if !web.join(path).exists() {
            return Some(format!("no {what}: {path} is missing"));
        }
    }
    None
}

/// The page runner: JSON lines out, commands in.
struct Page {
    child: Reaper,
    stdin: ChildStdin,
    out: Receiver<String>,
    err: Receiver<String>,
}

impl Page {
    fn start(relay_http: std::net::SocketAddr, artifacts: &Path) -> Self {
        let mut child = Reaper(
            Command::new("node")
                .current_dir(web_dir())
                .arg("e2e/run.mjs")
                .arg("--relay-http")
                .arg(relay_http.to_string())
                .arg("--artifacts")
                .arg(artifacts)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start node e2e/run.mjs"),
        );
        let stdin = child.0.stdin.take().unwrap();
        let out = lines(child.0.stdout.take().unwrap());
        let err = lines(child.0.stderr.take().unwrap());
        Self {
            child,
            stdin,
            out,
            err,
        }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{{\"cmd\":\"{command}\"}}").expect("write to run.mjs");
        self.stdin.flush().expect("flush run.mjs's stdin");
    }

    /// The next step, if one came; fails the test on a failed step.
    fn poll(&mut self) -> Option<Value> {
        let line = self.out.try_recv().ok()?;
        Some(self.step(&line))
    }

    /// The step `line` reports; fails the test on a failed step.
    fn step(&self, line: &str) -> Value {
        let step: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("run.mjs wrote {line:?}: {e}"));
        if step["step"] == "failed" {
            self.fail(&format!("the page failed: {}", step["why"]));
        }
        step
    }

    /// Waits for step `name`, updating `players` meanwhile.
    fn wait_for(&mut self, name: &str, players: &mut [&mut RelayClient]) -> Value {
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(step) = self.poll() {
                if step["step"] == name {
                    return step;
                }
                continue;
            }
            if Instant::now() > deadline {
                self.fail(&format!("no {name} within {STEP:?}"));
            }
            if players.is_empty() {
                // Nothing to keep alive: block on run.mjs itself.
                match self.out.recv_timeout(Duration::from_millis(50)) {
                    Ok(line) => {
                        let step = self.step(&line);
                        if step["step"] == name {
                            return step;
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => self.fail("run.mjs exited"),
                }
            } else {
                for player in players.iter_mut() {
                    player.update(Instant::now());
                }
                players[0]
                    .wait(Instant::now() + Duration::from_millis(5))
                    .unwrap();
            }
        }
    }

    /// Fails the test with `why` and what run.mjs logged.
    fn fail(&self, why: &str) -> ! {
        let log: Vec<String> = self.err.try_iter().collect();
        panic!("{why}\nrun.mjs stderr:\n{}", log.join("\n"));
    }
}

/// A native player over UDP with a token from the relay's HTTP service.
fn native_player(http: std::net::SocketAddr) -> RelayClient {
    let (status, token) = post_token(http);
    assert_eq!(status, 200);
    let mut player = RelayClient::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    player.connect(Instant::now(), ConnectToken::parse(&token).unwrap());
    player
}

/// Updates `player` until it is matched; returns its seat.
fn matched(page: &mut Page, player: &mut RelayClient, info: &MatchInfo) -> u8 {
    let deadline = Instant::now() + STEP;
    let mut requested = false;
    loop {
        assert!(
            Instant::now() < deadline,
            "the native player was not matched"
        );
        player.update(Instant::now());
        if player.is_connected() && !requested {
            player.request_match(info).unwrap();
            requested = true;
        }
        while let Some(event) = player.poll_event() {
            if let RelayEvent::Matched { player_idx, .. } = event {
                return player_idx;
            }
        }
        let _ = page.poll();
        player
            .wait(Instant::now() + Duration::from_millis(5))
            .unwrap();
    }
}

fn big_message(seat: u8) -> Vec<u8> {
    let mut m = vec![seat, 0xFF, 0xFF, 0xFF, 0xFF];
    m.extend((0..BIG_LEN).map(|i| (i * 7 % 251) as u8));
    m
}

#[test]
fn a_browser_and_a_native_player_share_a_room_and_play_coins() {
    if let Some(why) = missing() {
        assert!(
            std::env::var_os("BERTH_REQUIRE_BROWSER").is_none(),
            "BERTH_REQUIRE_BROWSER is set but {why}"
        );
        println!("skipped: the browser test needs {why}");
        return;
    }
    let dir = scratch_dir("browser");
    let (relay, _out, relay_log, _bound, http) = start(
        &dir.join("relay.key"),
        &[("BERTH_WEBTRANSPORT", "127.0.0.1:0")],
    );
    let artifacts = web_dir().join("../../target/browser-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let mut page = Page::start(http, &artifacts);
    page.wait_for("page-loaded", &mut []);

    // One room: the page over WebTransport, this player over UDP.
    let mut native = native_player(http);
    let seat = matched(
        &mut page,
        &mut native,
        &MatchInfo {
            player_count: 2,
            match_data: b"berth-e2e/1".to_vec(),
        },
    );
    let browser_seat = page.wait_for("matched", &mut [&mut native])["playerIdx"]
        .as_u64()
        .unwrap();
    assert_ne!(u64::from(seat), browser_seat);

    // 1,000 reliable messages each way in order, unreliable ones, 100 KiB.
    let mut outbox: Vec<Vec<u8>> = (0..RELIABLE)
        .map(|n| {
            let mut m = vec![seat];
            m.extend_from_slice(&n.to_le_bytes());
            m
        })
        .collect();
    outbox.push(big_message(seat));
    outbox.reverse();
    let (mut next, mut got_big, mut unreliable, mut page_done) = (0u32, false, 0u32, None);
    let deadline = Instant::now() + STEP;
    while !(got_big && unreliable > 0 && page_done.is_some()) {
        assert!(
            Instant::now() < deadline,
            "the exchange stalled: {next} of {RELIABLE}, big {got_big}, unreliable {unreliable}"
        );
        for _ in 0..32 {
            let Some(m) = outbox.last() else { break };
            if native.send_to(Target::AllOthers, m, true).is_err() {
                break;
            }
            outbox.pop();
        }
        let _ = native.send_to(Target::AllOthers, &[seat, 0xEE], false);
        native.update(Instant::now());
        while let Some(event) = native.poll_event() {
            let RelayEvent::Received {
                from,
                data,
                reliable,
            } = event
            else {
                panic!("unexpected {event:?}");
            };
            assert_eq!(u64::from(from), browser_seat);
            assert_eq!(data[0], from, "the page named another sender");
            if !reliable {
                unreliable += 1;
            } else if data[1..5] == [0xFF; 4] {
                assert_eq!(next, RELIABLE, "the big message overtook others");
                assert!(
                    data == big_message(from),
                    "the big message changed on the way"
                );
                got_big = true;
            } else {
                let n = u32::from_le_bytes(data[1..5].try_into().unwrap());
                assert_eq!(n, next, "from the browser out of order or twice");
                next += 1;
            }
        }
        if let Some(step) = page.poll() {
            if step["step"] == "received-all" {
                page_done = Some(step);
            }
        }
        native
            .wait(Instant::now() + Duration::from_millis(2))
            .unwrap();
    }
    let page_done = page_done.unwrap();
    assert_eq!(page_done["reliable"], RELIABLE);
    assert_eq!(page_done["big"], true);

    // The native player leaves; the page is told which seat went.
    page.send("leave");
    native.disconnect(Instant::now());
    drop(native);
    let left = page.wait_for("player-left", &mut []);
    assert_eq!(left["idx"], u64::from(seat));

    // Coins: the browser game against a native player.
    page.wait_for("coins-waiting", &mut []);
    let mut coins = native_player(http);
    let mut match_data = b"berth-coins/1".to_vec();
    match_data.extend_from_slice(&10u32.to_le_bytes());
    let coins_seat = matched(
        &mut page,
        &mut coins,
        &MatchInfo {
            player_count: 2,
            match_data,
        },
    );
    // Where coins starts player 0 and player 1 (game.rs), sent as coins does.
    let here = if coins_seat == 0 { [1, 1] } else { [38, 1] };
    let position = GameMessage::Position {
        x: here[0],
        y: here[1],
    }
    .to_bytes();
    let mut moved = None;
    let mut seen = Vec::new();
    let deadline = Instant::now() + STEP;
    loop {
        assert!(
            Instant::now() < deadline,
            "the move never reached the native player: {moved:?}, saw {seen:?}"
        );
        let _ = coins.send_to(Target::AllOthers, &position, false);
        coins.update(Instant::now());
        while let Some(event) = coins.poll_event() {
            if let RelayEvent::Received { data, .. } = event {
                if let Some(GameMessage::Position { x, y }) = GameMessage::parse(&data) {
                    seen.push((x, y));
                }
            }
        }
        if let Some(step) = page.poll() {
            if step["step"] == "moved" {
                moved = Some(step);
            }
        }
        if let Some(step) = &moved {
            let at = (step["x"].as_u64().unwrap(), step["y"].as_u64().unwrap());
            if seen
                .iter()
                .any(|&(x, y)| (u64::from(x), u64::from(y)) == at)
            {
                break;
            }
        }
        coins
            .wait(Instant::now() + Duration::from_millis(20))
            .unwrap();
    }
    let moved = moved.unwrap();
    // The browser's player starts where coins puts the other seat: the
    // position it reported after the key presses is somewhere else.
    let browser_start = if coins_seat == 0 { 38 } else { 1 };
    assert_ne!(
        moved["x"], browser_start,
        "the key presses did not move the player"
    );
    let screenshot = PathBuf::from(moved["screenshot"].as_str().unwrap());
    let png = std::fs::read(&screenshot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");

    // The relay stops (Ctrl-C): the browser's player sees why, in the
    // server's words, and the relay waits for that before it exits.
    page.send("relay-stopping");
    relay.interrupt();
    let lost = page.wait_for("relay-lost", &mut []);
    let shown = lost["error"].as_str().unwrap_or_default();
    assert!(
        shown.contains("closed by the server: server closing (code 0)"),
        "the page showed {shown:?}"
    );
    let status = relay.exit_within(STEP, "the relay did not stop on Ctrl-C");
    assert!(status.success(), "the relay exited with {status}");
    page.send("done");
    let status = page.child.exit_within(STEP, "run.mjs did not exit");
    assert!(status.success(), "run.mjs failed: {status}");
    drop(relay_log);
}
