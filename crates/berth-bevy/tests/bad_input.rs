//! What the plugins do when things go wrong: sends at the wrong time or on
//! an unknown channel get typed errors, a server that never answers gives a
//! `BerthError::Connect` message, and a 3-second stall of the app (longer
//! than the connection's timeout) costs nothing. No system panics.

use berth::Key;
use berth::engine::{ClientError, ServerConfig};
use berth::proto::SendError;
use berth::proto::channel::{ChannelId, standard};
use berth_bevy::{
    BerthClient, BerthClientPlugin, BerthError, BerthServer, BerthServerPlugin, ClientDisconnected,
    ClientMessage, ServerDisconnected, ServerMessage,
};
use bevy_app::{App, Update};
use bevy_ecs::prelude::*;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);
/// The connection's timeout: shorter than the stall.
const TIMEOUT: Duration = Duration::from_secs(1);
const STALL: Duration = Duration::from_secs(3);

/// Everything an app heard.
#[derive(Resource, Default, Debug)]
struct Heard {
    errors: Vec<BerthError>,
    disconnects: u32,
    messages: Vec<Vec<u8>>,
}

fn hear_client(
    mut heard: ResMut<Heard>,
    mut errors: MessageReader<BerthError>,
    mut disconnected: MessageReader<ClientDisconnected>,
    mut messages: MessageReader<ClientMessage>,
) {
    heard.errors.extend(errors.read().cloned());
    heard.disconnects += disconnected.read().count() as u32;
    heard
        .messages
        .extend(messages.read().map(|m| m.bytes.clone()));
}

fn hear_server(
    mut heard: ResMut<Heard>,
    mut disconnected: MessageReader<ServerDisconnected>,
    mut messages: MessageReader<ServerMessage>,
) {
    heard.disconnects += disconnected.read().count() as u32;
    heard
        .messages
        .extend(messages.read().map(|m| m.bytes.clone()));
}

fn server_app() -> App {
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        0x0bee_0002,
        Key::from_bytes([0xbd; 32]),
    )
    .token_timeout(Some(TIMEOUT));
    let mut app = App::new();
    app.add_plugins(BerthServerPlugin::new(config))
        .init_resource::<Heard>()
        .add_systems(Update, hear_server);
    app
}

fn client_app() -> App {
    let mut app = App::new();
    app.add_plugins(BerthClientPlugin::new("127.0.0.1:0".parse().unwrap()))
        .init_resource::<Heard>()
        .add_systems(Update, hear_client);
    app
}

/// Updates the apps until `done`, failing at the deadline; each round waits
/// on the first client's socket for at most a millisecond.
#[track_caller]
fn run_until(apps: &mut [&mut App], what: &str, done: impl Fn(&[&mut App]) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done(apps) {
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        for app in apps.iter_mut() {
            app.update();
        }
        if let Some(mut client) = apps
            .iter_mut()
            .find_map(|a| a.world_mut().get_resource_mut::<BerthClient>())
        {
            client
                .wait(Instant::now() + Duration::from_millis(1))
                .unwrap();
        }
    }
}

fn connected(apps: &[&mut App]) -> bool {
    apps.iter()
        .filter_map(|a| a.world().get_resource::<BerthClient>())
        .all(BerthClient::is_connected)
}

#[test]
fn sends_at_the_wrong_time_or_on_unknown_channels_are_typed_errors() {
    let mut server = server_app();
    let mut client = client_app();
    let before = client
        .world_mut()
        .resource_mut::<BerthClient>()
        .send(standard::RELIABLE_ORDERED, b"too early");
    assert!(matches!(
        before,
        Err(ClientError::Send(SendError::NotConnected))
    ));
    let token = server
        .world()
        .resource::<BerthServer>()
        .issue_token(1, [0; 256])
        .unwrap();
    client
        .world_mut()
        .resource_mut::<BerthClient>()
        .connect(token);
    run_until(&mut [&mut server, &mut client], "connect", connected);
    let unknown = ChannelId::new(0x00_0999).unwrap();
    let refused = client
        .world_mut()
        .resource_mut::<BerthClient>()
        .send(unknown, b"where to?");
    assert!(matches!(
        refused,
        Err(ClientError::Send(SendError::UnknownChannel(c))) if c == unknown
    ));
    client
        .world_mut()
        .resource_mut::<BerthClient>()
        .disconnect();
    let after = client
        .world_mut()
        .resource_mut::<BerthClient>()
        .send(standard::RELIABLE_ORDERED, b"too late");
    assert!(matches!(
        after,
        Err(ClientError::Send(SendError::NotConnected))
    ));
    // The apps run on; no system panicked, nothing was reported as broken.
    client.update();
    assert!(client.world().resource::<Heard>().errors.is_empty());
}

#[test]
fn a_server_that_never_answers_is_a_connect_error_message() {
    let server = server_app();
    let token = server
        .world()
        .resource::<BerthServer>()
        .issue_token(1, [0; 256])
        .unwrap();
    // The server's app ends: nothing answers at the token's addresses.
    drop(server);
    let mut client = client_app();
    client
        .world_mut()
        .resource_mut::<BerthClient>()
        .connect(token);
    run_until(&mut [&mut client], "the failure is reported", |apps| {
        !apps[0].world().resource::<Heard>().errors.is_empty()
    });
    let errors = &client.world().resource::<Heard>().errors;
    assert_eq!(errors.len(), 1);
    assert!(
        matches!(errors[0], BerthError::Connect(state) if state.is_error()),
        "{errors:?}"
    );
}

#[test]
fn a_three_second_stall_longer_than_the_timeout_keeps_the_connection() {
    let mut server = server_app();
    let mut client = client_app();
    let token = server
        .world()
        .resource::<BerthServer>()
        .issue_token(1, [0; 256])
        .unwrap();
    client
        .world_mut()
        .resource_mut::<BerthClient>()
        .connect(token);
    run_until(&mut [&mut server, &mut client], "connect", connected);
    // The app stalls: no frame runs for three seconds, three times the
    // connection's timeout. (This sleep is the stall under test, not a
    // wait for something to happen.)
    std::thread::sleep(STALL);
    // Frames resume, and a message goes through as if nothing happened.
    client
        .world_mut()
        .resource_mut::<BerthClient>()
        .send(standard::RELIABLE_ORDERED, b"still here")
        .unwrap();
    run_until(
        &mut [&mut server, &mut client],
        "a message after the stall",
        |apps| !apps[0].world().resource::<Heard>().messages.is_empty(),
    );
    assert!(client.world().resource::<BerthClient>().is_connected());
    for app in [&server, &client] {
        let heard = app.world().resource::<Heard>();
        assert_eq!(heard.disconnects, 0, "{heard:?}");
        assert!(heard.errors.is_empty(), "{heard:?}");
    }
}
