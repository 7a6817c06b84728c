//! The `berth-relay` binary end to end: configured from `BERTH_*`
//! variables, it serves a token a player connects with, answers health
//! checks, logs JSON when asked, exits 0 on Ctrl-C with its final counters,
//! and refuses a bad key file with a clear error and a non-zero exit.

#![cfg(unix)]

mod common;

use berth::relay::{DirectConfig, MatchInfo, RelayClient, RelayEvent, Route};
use common::{BINARY, DEADLINE, connect_with, get, post_token, scratch_dir, start};
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn configured_from_the_environment_it_serves_a_player_and_stops_cleanly_on_ctrl_c() {
    let dir = scratch_dir("relay-env");
    let (child, stdout, _stderr, bound, http) =
        start(&dir.join("relay.key"), &[("BERTH_PORTS", "3")]);
    assert_eq!(bound.len(), 3, "BERTH_PORTS took effect: {bound:?}");
    assert_eq!(get(http, "/healthz").0, 200);
    assert_eq!(get(http, "/readyz").0, 200);
    let (status, token) = post_token(http);
    assert_eq!(status, 200);
    let mut player = connect_with(&token);
    player.disconnect(Instant::now());

    child.interrupt();
    let status = child.exit_within(DEADLINE, "the relay did not stop on Ctrl-C");
    assert!(status.success(), "{status}");
    // The child has exited, but its last lines may still be on their way
    // through the reader thread: read to the pipe's end, which closes the
    // channel.
    let rest: Vec<String> = std::iter::from_fn(|| stdout.recv_timeout(DEADLINE).ok()).collect();
    assert!(
        rest.iter()
            .any(|l| l.starts_with("final:") && l.contains("tokens issued 1")),
        "{rest:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn with_direct_play_on_two_consenting_players_go_direct() {
    let dir = scratch_dir("relay-direct");
    let (child, _stdout, _stderr, _bound, http) =
        start(&dir.join("relay.key"), &[("BERTH_DIRECT_PLAY", "true")]);
    let info = MatchInfo {
        player_count: 2,
        match_data: b"duel".to_vec(),
    };
    let mut players: Vec<RelayClient> = (0..2).map(|_| connect_with(&post_token(http).1)).collect();
    for player in &mut players {
        player.allow_direct(DirectConfig::default()).unwrap();
        player.request_match(&info).unwrap();
    }
    let mut seats = [None, None];
    let deadline = Instant::now() + DEADLINE;
    let direct = |player: &RelayClient, seat: Option<u8>| {
        seat.and_then(|idx| player.peer_path(1 - idx))
            .is_some_and(|path| path.route == Route::Direct)
    };
    while !(direct(&players[0], seats[0]) && direct(&players[1], seats[1])) {
        assert!(Instant::now() < deadline, "the players did not go direct");
        for (player, seat) in players.iter_mut().zip(&mut seats) {
            player.update(Instant::now());
            while let Some(event) = player.poll_event() {
                if let RelayEvent::Matched { player_idx, .. } = event {
                    *seat = Some(player_idx);
                }
            }
        }
        players[0]
            .wait(Instant::now() + Duration::from_millis(1))
            .unwrap();
    }
    child.interrupt();
    let status = child.exit_within(DEADLINE, "the relay did not stop on Ctrl-C");
    assert!(status.success(), "{status}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn log_format_json_writes_one_object_per_line() {
    let dir = scratch_dir("relay-json");
    let (child, _stdout, stderr, _, _) =
        start(&dir.join("relay.key"), &[("BERTH_LOG_FORMAT", "json")]);
    child.interrupt();
    assert!(
        child
            .exit_within(DEADLINE, "the relay did not stop")
            .success()
    );
    let logged: Vec<String> = stderr.iter().collect();
    assert!(
        logged.iter().any(|l| l.contains("relay running")),
        "{logged:?}"
    );
    for line in &logged {
        assert!(
            line.starts_with('{') && line.ends_with('}') && line.contains("\"level\":"),
            "not a JSON log line: {line}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_key_file_others_can_read_is_a_clear_error_not_a_panic() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("relay-open-key");
    let key = dir.join("relay.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = Command::new(BINARY)
        .env("BERTH_BIND", "127.0.0.1:0")
        .env("BERTH_HTTP", "127.0.0.1:0")
        .env("BERTH_KEY_FILE", &key)
        .output()
        .expect("run the relay binary");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: key file") && stderr.contains("chmod 600"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_names_the_environment_variables() {
    let output = Command::new(BINARY).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for var in [
        "BERTH_BIND",
        "BERTH_PORTS",
        "BERTH_PUBLIC",
        "BERTH_KEY_FILE",
        "BERTH_HTTP",
        "BERTH_MAX_PEERS",
        "BERTH_MAX_PEERS_PER_IP",
        "BERTH_LOG_FORMAT",
        "BERTH_DIRECT_PLAY",
    ] {
        assert!(help.contains(var), "--help does not name {var}");
    }
}

/// Runs the binary with `vars` to completion; its exit code and stderr.
fn run_to_exit(vars: &[(&str, &std::ffi::OsStr)]) -> (Option<i32>, String) {
    let output = Command::new(BINARY)
        .envs(vars.iter().copied())
        .output()
        .expect("run the relay binary");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_port_already_taken_or_a_key_path_that_is_a_folder_is_a_clear_error() {
    let dir = scratch_dir("relay-bad-setup");
    let key = dir.join("relay.key");
    // Something holds the UDP port the relay wants.
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let (code, stderr) = run_to_exit(&[
        ("BERTH_BIND", port.as_ref()),
        ("BERTH_HTTP", "127.0.0.1:0".as_ref()),
        ("BERTH_KEY_FILE", key.as_os_str()),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("error: cannot bind") && stderr.contains(&port),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // The key path names a folder.
    let folder = dir.join("a-folder");
    std::fs::create_dir_all(&folder).unwrap();
    let (code, stderr) = run_to_exit(&[
        ("BERTH_BIND", "127.0.0.1:0".as_ref()),
        ("BERTH_HTTP", "127.0.0.1:0".as_ref()),
        ("BERTH_KEY_FILE", folder.as_os_str()),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("error:") && stderr.contains("a-folder"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
