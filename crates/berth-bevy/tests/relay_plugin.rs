//! Four relay-plugin apps against a real relay over loopback: matched into
//! one room with indices 0..3 and one seed; then one app exits and the
//! other three see it leave. And a token fetched from a relay's real token
//! service off the frame loop. Driven by `app.update()` against a deadline.

use berth::Key;
use berth::engine::ServerConfig;
use berth::relay::{LeaveReason, MatchInfo, RelayConfig, RelayServer, protocol_id};
use berth_bevy::{
    BerthError, BerthRelay, BerthRelayPlugin, MatchState, RelayMatched, RelayPlayerLeft,
};
use berth_relay::http::{HttpConfig, HttpService};
use berth_relay::operator::RelayOperator;
use bevy_app::{App, AppExit, Update};
use bevy_ecs::prelude::*;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

/// What one player's app saw.
#[derive(Resource, Default, Debug)]
struct Seen {
    matched: Option<(u8, u8, u64)>,
    left: Vec<(u8, LeaveReason)>,
}

fn ask_once_connected(mut relay: ResMut<BerthRelay>) {
    if relay.is_connected() && relay.state() == MatchState::Idle {
        let info = MatchInfo {
            player_count: 4,
            match_data: b"bevy-test".to_vec(),
        };
        relay.request_match(&info).unwrap();
    }
}

fn record(
    mut seen: ResMut<Seen>,
    mut matched: MessageReader<RelayMatched>,
    mut left: MessageReader<RelayPlayerLeft>,
) {
    for m in matched.read() {
        seen.matched = Some((m.index, m.count, m.seed));
    }
    seen.left.extend(left.read().map(|l| (l.index, l.reason)));
}

fn run_until(apps: &mut [App], what: &str, done: impl Fn(&[App]) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done(apps) {
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        for app in apps.iter_mut() {
            app.update();
        }
        if let Some(mut relay) = apps[0].world_mut().get_resource_mut::<BerthRelay>() {
            relay
                .wait(Instant::now() + Duration::from_millis(1))
                .unwrap();
        }
    }
}

#[test]
fn four_apps_match_into_one_room_and_see_a_player_leave() {
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        protocol_id(),
        Key::from_bytes([0x4e; 32]),
    )
    .ports(2);
    let relay = RelayServer::bind(config, RelayConfig::default()).unwrap();
    let mut apps: Vec<App> = (1..=4u64)
        .map(|id| {
            let mut app = App::new();
            app.add_plugins(BerthRelayPlugin::new("127.0.0.1:0".parse().unwrap()))
                .init_resource::<Seen>()
                .add_systems(Update, (ask_once_connected, record));
            let token = relay.issue_token(id).unwrap();
            app.world_mut().resource_mut::<BerthRelay>().connect(token);
            app
        })
        .collect();

    run_until(&mut apps, "all four matched", |apps| {
        apps.iter()
            .all(|a| a.world().resource::<Seen>().matched.is_some())
    });
    let seats: Vec<(u8, u8, u64)> = apps
        .iter()
        .map(|a| a.world().resource::<Seen>().matched.unwrap())
        .collect();
    let indices: BTreeSet<u8> = seats.iter().map(|s| s.0).collect();
    assert_eq!(indices, (0..4).collect(), "{seats:?}");
    assert!(
        seats.iter().all(|s| s.1 == 4 && s.2 == seats[0].2),
        "one seed: {seats:?}"
    );
    assert!(matches!(
        apps[0].world().resource::<BerthRelay>().state(),
        MatchState::Matched { count: 4, .. }
    ));

    // The last player's app exits: it leaves with its disconnect packets.
    let gone = seats[3].0;
    let mut quitter = apps.pop().unwrap();
    quitter.world_mut().write_message(AppExit::Success);
    quitter.update();
    run_until(&mut apps, "the other three see it leave", |apps| {
        apps.iter().all(|a| {
            a.world()
                .resource::<Seen>()
                .left
                .contains(&(gone, LeaveReason::Disconnected))
        })
    });
}

/// Errors an app heard.
#[derive(Resource, Default, Debug)]
struct Errors(Vec<BerthError>);

fn record_errors(mut log: ResMut<Errors>, mut errors: MessageReader<BerthError>) {
    log.0.extend(errors.read().cloned());
}

#[test]
fn connect_via_fetches_a_token_off_the_frame_loop_and_reports_a_dead_service() {
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        protocol_id(),
        Key::from_bytes([0x4f; 32]),
    );
    let relay = Arc::new(RelayServer::bind(config, RelayConfig::default()).unwrap());
    let service = HttpService::start(
        "127.0.0.1:0".parse().unwrap(),
        HttpConfig::default(),
        Arc::new(RelayOperator::new(relay.clone(), 64)),
    )
    .unwrap();
    // A port nothing listens on: bound, then closed.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut apps: Vec<App> = [service.local_addr(), dead]
        .into_iter()
        .map(|http| {
            let mut app = App::new();
            app.add_plugins(BerthRelayPlugin::new("127.0.0.1:0".parse().unwrap()))
                .init_resource::<Errors>()
                .add_systems(Update, record_errors);
            app.world_mut()
                .resource_mut::<BerthRelay>()
                .connect_via(http);
            app
        })
        .collect();
    run_until(&mut apps, "one connects, one reports", |apps| {
        apps[0].world().resource::<BerthRelay>().is_connected()
            && !apps[1].world().resource::<Errors>().0.is_empty()
    });
    assert!(apps[0].world().resource::<Errors>().0.is_empty());
    let errors = &apps[1].world().resource::<Errors>().0;
    assert!(matches!(errors[..], [BerthError::Token(_)]), "{errors:?}");
    service.stop();
}
