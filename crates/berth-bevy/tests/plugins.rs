//! The plugins in real Bevy apps against each other over loopback UDP,
//! driven by `app.update()` against a deadline (each frame waits on the
//! client's socket for at most a millisecond; nothing sleeps to
//! synchronise).

use berth::Key;
use berth::engine::{PeerId, ServerConfig};
use berth::proto::channel::standard;
use berth_bevy::{
    BerthClient, BerthClientPlugin, BerthServer, BerthServerPlugin, ClientConnected,
    ClientDisconnected, ClientMessage, ServerConnected, ServerDisconnected, ServerMessage,
    client_connected, client_just_connected,
};
use bevy_app::{App, AppExit, Update};
use bevy_ecs::prelude::*;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);
const MESSAGES: u32 = 1_000;

/// What the server app saw.
#[derive(Resource, Default, Debug)]
struct ServerLog {
    connected: Vec<PeerId>,
    disconnected: Vec<PeerId>,
    messages: Vec<Vec<u8>>,
}

/// What the client app saw.
#[derive(Resource, Default, Debug)]
struct ClientLog {
    connected: u32,
    just_connected_frames: u32,
    disconnected: u32,
    messages: Vec<Vec<u8>>,
    /// Messages queued so far, and how many to queue.
    sent: u32,
}

fn log_server(
    mut log: ResMut<ServerLog>,
    mut connected: MessageReader<ServerConnected>,
    mut disconnected: MessageReader<ServerDisconnected>,
    mut messages: MessageReader<ServerMessage>,
) {
    log.connected.extend(connected.read().map(|m| m.peer));
    log.disconnected.extend(disconnected.read().map(|m| m.peer));
    log.messages
        .extend(messages.read().map(|m| m.bytes.clone()));
}

fn log_client(
    mut log: ResMut<ClientLog>,
    mut connected: MessageReader<ClientConnected>,
    mut disconnected: MessageReader<ClientDisconnected>,
    mut messages: MessageReader<ClientMessage>,
) {
    log.connected += connected.read().count() as u32;
    log.disconnected += disconnected.read().count() as u32;
    log.messages
        .extend(messages.read().map(|m| m.bytes.clone()));
}

fn count_just_connected(mut log: ResMut<ClientLog>) {
    log.just_connected_frames += 1;
}

/// Sends the next messages, as many as the budget takes this frame.
fn send_from_client(mut client: ResMut<BerthClient>, mut log: ResMut<ClientLog>) {
    while log.sent < MESSAGES {
        let bytes = log.sent.to_le_bytes();
        if client.send(standard::RELIABLE_ORDERED, &bytes).is_err() {
            break;
        }
        log.sent += 1;
    }
}

fn numbered(messages: &[Vec<u8>]) -> Vec<u32> {
    messages
        .iter()
        .map(|m| u32::from_le_bytes(m[..4].try_into().unwrap()))
        .collect()
}

/// Lets the client app's socket wake it, for at most a millisecond.
fn wait(client: &mut App) {
    let until = Instant::now() + Duration::from_millis(1);
    if let Some(mut berth) = client.world_mut().get_resource_mut::<BerthClient>() {
        berth.wait(until).unwrap();
    }
}

/// Updates both apps until `done`, failing at the deadline.
#[track_caller]
fn run_until(server: &mut App, client: &mut App, what: &str, done: impl Fn(&App, &App) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done(server, client) {
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        server.update();
        client.update();
        wait(client);
    }
}

#[test]
fn apps_connect_exchange_a_thousand_reliable_messages_each_way_and_see_the_disconnect() {
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        0x0bee_0001,
        Key::from_bytes([0xbe; 32]),
    );
    let mut server = App::new();
    server
        .add_plugins(BerthServerPlugin::new(config))
        .init_resource::<ServerLog>()
        .add_systems(Update, log_server);
    let token = server
        .world()
        .resource::<BerthServer>()
        .issue_token(1, [0; 256])
        .unwrap();

    let mut client = App::new();
    client
        .add_plugins(BerthClientPlugin::new("127.0.0.1:0".parse().unwrap()))
        .init_resource::<ClientLog>()
        .add_systems(Update, log_client)
        .add_systems(Update, count_just_connected.run_if(client_just_connected))
        .add_systems(Update, send_from_client.run_if(client_connected));
    client
        .world_mut()
        .resource_mut::<BerthClient>()
        .connect(token);

    run_until(
        &mut server,
        &mut client,
        "both sides see the connection",
        |s, c| {
            !s.world().resource::<ServerLog>().connected.is_empty()
                && c.world().resource::<ClientLog>().connected == 1
        },
    );
    assert_eq!(
        client.world().resource::<ClientLog>().just_connected_frames,
        1
    );
    let peer = server.world().resource::<ServerLog>().connected[0];

    // Server to client, from outside any system (a game's own thread could too).
    for i in 0..MESSAGES {
        server
            .world()
            .resource::<BerthServer>()
            .send(peer, standard::RELIABLE_ORDERED, &i.to_le_bytes())
            .unwrap();
    }
    run_until(
        &mut server,
        &mut client,
        "a thousand messages each way",
        |s, c| {
            s.world().resource::<ServerLog>().messages.len() == MESSAGES as usize
                && c.world().resource::<ClientLog>().messages.len() == MESSAGES as usize
        },
    );
    let expected: Vec<u32> = (0..MESSAGES).collect();
    assert_eq!(
        numbered(&server.world().resource::<ServerLog>().messages),
        expected
    );
    assert_eq!(
        numbered(&client.world().resource::<ClientLog>().messages),
        expected
    );

    // The client's app exits: it tells the server on its way out.
    client.world_mut().write_message(AppExit::Success);
    client.update();
    run_until(
        &mut server,
        &mut client,
        "the server sees the disconnect",
        |s, _| s.world().resource::<ServerLog>().disconnected == [peer],
    );
    assert!(!client.world().resource::<BerthClient>().is_connected());

    // And the other way: a new client, then the server's app exits.
    let token = server
        .world()
        .resource::<BerthServer>()
        .issue_token(2, [0; 256])
        .unwrap();
    let mut second = App::new();
    second
        .add_plugins(BerthClientPlugin::new("127.0.0.1:0".parse().unwrap()))
        .init_resource::<ClientLog>()
        .add_systems(Update, log_client);
    second
        .world_mut()
        .resource_mut::<BerthClient>()
        .connect(token);
    run_until(
        &mut server,
        &mut second,
        "a second client connects",
        |_, c| c.world().resource::<ClientLog>().connected == 1,
    );
    server.world_mut().write_message(AppExit::Success);
    server.update();
    assert!(
        server.world().get_resource::<BerthServer>().is_none(),
        "the server stopped"
    );
    let deadline = Instant::now() + DEADLINE;
    while second.world().resource::<ClientLog>().disconnected == 0 {
        assert!(
            Instant::now() < deadline,
            "the client never heard the server go"
        );
        second.update();
        wait(&mut second);
    }
}
