//! The coins example played through the relay example: two bots fetch
//! tokens over HTTP, match, play to three, and agree on the winner. (The
//! relay binary's own tests live in `crates/berth-relay/tests`.)
//!
//! Every wait blocks on a process or a pipe against a deadline; nothing
//! sleeps to synchronise.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Generous: the machine may be busy with other test binaries.
const DEADLINE: Duration = Duration::from_secs(20);

/// The example `name` next to this test's binary, if `cargo test` built it
/// (it builds examples unless only some targets were asked for).
fn example(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
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
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
                panic!("{what} within {limit:?}");
            }
        }
    }
}

/// Starts the relay example on two loopback ports with its key at `key`;
/// returns it and its HTTP service's address (read from the start line).
fn start_relay(binary: &Path, key: &Path) -> (Reaper, SocketAddr) {
    let mut child = Reaper(
        Command::new(binary)
            .args([
                "--bind",
                "127.0.0.1:0",
                "--ports",
                "2",
                "--http",
                "127.0.0.1:0",
            ])
            .arg("--key-file")
            .arg(key)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the relay example"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let ready = lines
        .recv_timeout(DEADLINE)
        .expect("the relay's start line");
    let addr = ready
        .split("token service on http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("the HTTP address")
        .parse()
        .unwrap();
    (child, addr)
}

#[test]
fn two_coins_bots_fetch_tokens_match_through_the_relay_and_agree_on_the_winner() {
    let (Some(relay), Some(coins)) = (example("relay"), example("coins")) else {
        eprintln!("skipped: the examples are not built (run `cargo test` without target filters)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("berth-coins-game-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (_relay, endpoint) = start_relay(&relay, &dir.join("relay.key"));
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
