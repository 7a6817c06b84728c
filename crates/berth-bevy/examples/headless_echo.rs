//! A headless server app and a client app, each run by Bevy's
//! `ScheduleRunnerPlugin` at 60 frames a second: the server echoes, the
//! client sends a message a frame until it has ten echoes, then exits (and
//! the server sees it leave and exits too).
//!
//! `cargo run -p berth-bevy --example headless_echo`

use berth::Key;
use berth::engine::ServerConfig;
use berth::proto::channel::standard;
use berth_bevy::{
    BerthClient, BerthClientPlugin, BerthServer, BerthServerPlugin, ClientMessage,
    ServerDisconnected, ServerMessage, client_connected,
};
use bevy_app::{App, AppExit, ScheduleRunnerPlugin, Update};
use bevy_ecs::prelude::*;
use std::time::Duration;

const FRAME: Duration = Duration::from_millis(16);

fn echo(server: Res<BerthServer>, mut messages: MessageReader<ServerMessage>) {
    for m in messages.read() {
        if let Err(e) = server.send(m.peer, m.channel, &m.bytes) {
            eprintln!("server: echo refused: {e}");
        }
    }
}

fn exit_when_the_player_leaves(
    mut left: MessageReader<ServerDisconnected>,
    mut exit: MessageWriter<AppExit>,
) {
    if let Some(gone) = left.read().next() {
        println!("server: {} left ({:?}); stopping", gone.peer, gone.reason);
        exit.write(AppExit::Success);
    }
}

/// How many echoes the client has had.
#[derive(Resource, Default)]
struct Echoes(u32);

fn ping(mut client: ResMut<BerthClient>, echoes: Res<Echoes>) {
    let text = format!("ping {}", echoes.0);
    let _ = client.send(standard::RELIABLE_ORDERED, text.as_bytes());
}

fn count_echoes(
    mut messages: MessageReader<ClientMessage>,
    mut echoes: ResMut<Echoes>,
    mut exit: MessageWriter<AppExit>,
) {
    for m in messages.read() {
        echoes.0 += 1;
        println!(
            "client: echo {}: {}",
            echoes.0,
            String::from_utf8_lossy(&m.bytes)
        );
    }
    if echoes.0 >= 10 {
        exit.write(AppExit::Success);
    }
}

fn main() {
    // An app stays on the thread that built it: the server's is built on its own.
    let (token_tx, token_rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        let config = ServerConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            0x0bee_0002,
            Key::from_bytes([0x2b; 32]),
        );
        let mut server = App::new();
        server
            .add_plugins(ScheduleRunnerPlugin::run_loop(FRAME))
            .add_plugins(BerthServerPlugin::new(config))
            .add_systems(Update, (echo, exit_when_the_player_leaves));
        let Some(berth) = server.world().get_resource::<BerthServer>() else {
            eprintln!("the server did not start");
            return;
        };
        println!("server on {:?}", berth.local_addrs());
        let _ = token_tx.send(berth.issue_token(1, [0; 256]).expect("a token"));
        server.run();
    });
    let Ok(token) = token_rx.recv() else {
        std::process::exit(1);
    };

    let mut client = App::new();
    client
        .add_plugins(ScheduleRunnerPlugin::run_loop(FRAME))
        .add_plugins(BerthClientPlugin::new("127.0.0.1:0".parse().unwrap()))
        .init_resource::<Echoes>()
        .add_systems(Update, (ping.run_if(client_connected), count_echoes));
    client
        .world_mut()
        .resource_mut::<BerthClient>()
        .connect(token);
    let exit = client.run();
    println!("client: {exit:?}");
    let _ = server.join();
}
