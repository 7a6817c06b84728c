//! Graceful shutdown with peers connected: they are told, and no port thread survives.
//!
//! A binary of its own, so the only berth threads in the process are this
//! test's and they can be counted through /proc.

mod common;

use berth::engine::Server;
use berth::proto::client::ClientState;
use common::drive;
use common::engine::*;

/// Waits until exactly `n` port threads exist. A joined thread can stay
/// listed in /proc for a moment while the kernel reaps it; one that is
/// still running fails the test at the deadline.
#[track_caller]
fn expect_port_threads(n: usize) {
    drive(&format!("{n} berth port threads"), || {
        threads_named("berth-port-") == n
    });
}

/// Held by each test, so neither counts the other's threads.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Threads of this process whose name starts with `prefix`.
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

#[test]
fn shutdown_tells_every_peer_and_leaves_no_thread_behind() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    expect_port_threads(0);
    let server = Server::bind(config(4)).unwrap();
    expect_port_threads(4);
    let mut clients = clients(&server, 12);
    connect_all(&mut clients);

    let stats = server.shutdown();
    // shutdown() joined them; a joined thread may linger in /proc briefly.
    expect_port_threads(0);
    assert_eq!(
        stats.iter().map(|s| s.protocol.disconnects).sum::<u64>(),
        12
    );
    assert!(stats.iter().all(|s| s.peers == 0));

    // Each client hears the redundant disconnect packets rather than timing out.
    drive_clients("clients learn the server is gone", &mut clients, |cs| {
        cs.iter().all(|c| c.state() == ClientState::Disconnected)
    });
}

#[test]
fn dropping_the_server_shuts_it_down_too() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    expect_port_threads(0);
    let server = Server::bind(config(2)).unwrap();
    expect_port_threads(2);
    let mut clients = clients(&server, 2);
    connect_all(&mut clients);
    drop(server);
    expect_port_threads(0);
    drive_clients("clients learn the server is gone", &mut clients, |cs| {
        cs.iter().all(|c| c.state() == ClientState::Disconnected)
    });
}
