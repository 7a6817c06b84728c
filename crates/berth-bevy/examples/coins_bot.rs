//! The coins game (`examples/coins`) played by a headless Bevy bot through
//! berth's relay, with `BerthRelayPlugin`: the same rules, messages and
//! fair claims as the terminal game, so a bot here and `coins --bot` (or a
//! human) can share a match.
//!
//! ```text
//! cargo run --release --example relay -- --bind 127.0.0.1:40000 --ports 2 --http 127.0.0.1:8080
//! cargo run -p berth-bevy --example coins_bot -- 127.0.0.1:8080   # twice, or beside coins
//! ```

#[allow(dead_code)] // The terminal game's rules; this bot uses most of them.
#[path = "../../../examples/coins/game.rs"]
mod game;
#[path = "../../../examples/coins/wire.rs"]
mod wire;

use berth::relay::{MatchInfo, Target};
use berth_bevy::{
    BerthError, BerthRelay, BerthRelayPlugin, MatchState, RelayMatched, RelayPlayerLeft,
    RelayReceived,
};
use bevy_app::{App, AppExit, ScheduleRunnerPlugin, Update};
use bevy_ecs::prelude::*;
use game::{Arbiter, Game};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use wire::GameMessage;

/// What `coins` asks for: two players, first to 10 coins.
const MATCH_DATA: &[u8] = b"berth-coins/1";
const FIRST_TO: u32 = 10;
const FRAME: Duration = Duration::from_millis(16);
const BOT_STEP: Duration = Duration::from_millis(60);
const CLAIM_EVERY: Duration = Duration::from_millis(250);

/// The match, once there is one.
#[derive(Resource)]
struct Match {
    game: Game,
    arbiter: Arbiter,
    start: Instant,
    last_step: Instant,
    /// The coin this bot is after, when it saw it, when it reached it, when
    /// it last claimed it.
    coin: u16,
    seen: Instant,
    reached: Option<Duration>,
    last_claim: Option<Instant>,
}

fn ask(mut relay: ResMut<BerthRelay>) {
    if relay.is_connected() && relay.state() == MatchState::Idle {
        let mut match_data = MATCH_DATA.to_vec();
        match_data.extend_from_slice(&FIRST_TO.to_le_bytes());
        let info = MatchInfo {
            player_count: 2,
            match_data,
        };
        if relay.request_match(&info).is_ok() {
            println!("connected; waiting for a second player");
        }
    }
}

fn start(mut matched: MessageReader<RelayMatched>, mut commands: Commands) {
    for m in matched.read() {
        println!("matched: player {} of {}", m.index + 1, m.count);
        let now = Instant::now();
        commands.insert_resource(Match {
            game: Game::new(m.seed, m.index, m.count, FIRST_TO),
            arbiter: Arbiter::default(),
            start: now,
            last_step: now,
            coin: 0,
            seen: now,
            reached: None,
            last_claim: None,
        });
    }
}

/// Moves, claims, reads the others, awards as the authority, and ends the app
/// when someone wins.
fn play(
    game: Option<ResMut<Match>>,
    mut relay: ResMut<BerthRelay>,
    mut received: MessageReader<RelayReceived>,
    mut left: MessageReader<RelayPlayerLeft>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(mut m) = game else { return };
    let m = &mut *m;
    let now = Instant::now();
    let now_ms = now.duration_since(m.start).as_millis() as u64;
    for r in received.read() {
        match GameMessage::parse(&r.data) {
            Some(GameMessage::Position { x, y }) => m.game.place(r.from, x, y),
            Some(GameMessage::Claim { k, elapsed_ms }) if m.game.is_authority() => {
                m.arbiter
                    .claim(m.game.coin, k, r.from, u64::from(elapsed_ms), now_ms);
            }
            Some(GameMessage::Award { k, player }) => {
                m.game.award(k, player);
            }
            _ => {}
        }
    }
    for l in left.read() {
        if let Some(p) = m.game.players.get_mut(usize::from(l.index)) {
            p.present = false;
        }
    }
    if m.game.coin != m.coin {
        (m.coin, m.seen, m.reached, m.last_claim) = (m.game.coin, now, None, None);
    }
    if now - m.last_step >= BOT_STEP {
        m.last_step = now;
        let (cx, cy) = m.game.coin_at(m.coin);
        let me = m.game.players[usize::from(m.game.me)];
        m.game.step(
            (cx.cmp(&me.x) as i8).signum(),
            (cy.cmp(&me.y) as i8).signum(),
        );
        let me = m.game.players[usize::from(m.game.me)];
        let _ = relay.send_to(
            Target::AllOthers,
            &GameMessage::Position { x: me.x, y: me.y }.to_bytes(),
            false,
        );
    }
    if m.game.on_coin() || m.reached.is_some() {
        let elapsed = *m.reached.get_or_insert(now - m.seen);
        let elapsed_ms = u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX);
        if m.game.is_authority() {
            if m.last_claim.is_none() {
                m.last_claim = Some(now);
                m.arbiter.claim(
                    m.game.coin,
                    m.coin,
                    m.game.me,
                    u64::from(elapsed_ms),
                    now_ms,
                );
            }
        } else if m.last_claim.is_none_or(|at| now - at >= CLAIM_EVERY) {
            m.last_claim = Some(now);
            let authority = m.game.players.iter().position(|p| p.present).unwrap_or(0) as u8;
            let claim = GameMessage::Claim {
                k: m.coin,
                elapsed_ms,
            };
            let _ = relay.send_to(Target::Player(authority), &claim.to_bytes(), true);
        }
    }
    if m.game.is_authority()
        && let Some((k, winner)) = m.arbiter.decide(now_ms)
        && m.game.award(k, winner)
    {
        let award = GameMessage::Award { k, player: winner };
        let _ = relay.send_to(Target::AllOthers, &award.to_bytes(), true);
    }
    if let Some(winner) = m.game.winner() {
        let scores: Vec<u32> = m.game.players.iter().map(|p| p.score).collect();
        println!("player {} wins; scores {scores:?}", winner + 1);
        exit.write(AppExit::Success);
    }
}

/// Prints what went wrong; without a token or a connection there is no
/// game, so the app ends.
fn report(mut errors: MessageReader<BerthError>, mut exit: MessageWriter<AppExit>) {
    for e in errors.read() {
        eprintln!("{e}");
        if matches!(e, BerthError::Token(_) | BerthError::Connect(_)) {
            exit.write(AppExit::error());
        }
    }
}

fn main() -> std::process::ExitCode {
    let endpoint: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into())
        .parse()
        .expect("the relay's HTTP address, IP:PORT");
    let mut app = App::new();
    app.add_plugins(ScheduleRunnerPlugin::run_loop(FRAME))
        .add_plugins(BerthRelayPlugin::default())
        .add_systems(Update, (ask, start, play, report));
    // The token comes from the relay's HTTP service off the frame loop.
    app.world_mut()
        .resource_mut::<BerthRelay>()
        .connect_via(endpoint);
    match app.run() {
        AppExit::Success => std::process::ExitCode::SUCCESS,
        AppExit::Error(code) => std::process::ExitCode::from(code.get()),
    }
}
