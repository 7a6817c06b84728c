//! coins: a real-time game for two to four players through berth's relay.
//!
//! Start a relay, then one `coins` per player, in separate terminals:
//!
//! ```text
//! cargo run --release --example relay -- --bind 127.0.0.1:40000 --ports 2 --public 127.0.0.1:40000 --http 127.0.0.1:8080
//! cargo run --release --example coins -- --token-http 127.0.0.1:8080 --players 2
//! cargo run --release --example coins -- --token-http 127.0.0.1:8080 --players 2
//! ```
//!
//! Each player fetches a connect token from the relay's HTTP endpoint, asks
//! for a match, and plays when the room is full: move with the arrow keys
//! or WASD, run over the `$`; the first to 10 coins wins; `q` quits. Every
//! client derives the same coin positions from the match's seed; positions
//! travel unreliably 20 times a second, coin claims and awards reliably.
//! The lowest-numbered player still in the match decides who got each coin,
//! so a player leaving never stops the game. `--bot` plays by itself and
//! prints a line a second (for scripts). Logs go to stderr (`RUST_LOG`).

mod game;
mod screen;
mod token;
mod wire;

use berth::relay::{MatchInfo, RelayClient, RelayEvent, Target};
use clap::Parser;
use crossterm::event::{self, Event, KeyCode, KeyEventKind};
use game::{Arbiter, Game};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use wire::GameMessage;

/// What every coins client asks the relay for (players agree on it).
const MATCH_DATA: &[u8] = b"berth-coins/1";
/// Frame time.
const TICK: Duration = Duration::from_millis(16);
/// How often positions go out.
const POSITION_EVERY: Duration = Duration::from_millis(50);
/// How often an unanswered coin claim is sent again.
const CLAIM_EVERY: Duration = Duration::from_millis(250);

#[derive(Parser)]
#[command(about = "coins: a 2-4 player game through berth's relay")]
struct Args {
    /// The relay's token endpoint (its --token-http address).
    #[arg(long, default_value = "127.0.0.1:8080")]
    token_http: SocketAddr,
    /// Players in a match, 2 to 4; players asking for the same count play together.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=4))]
    players: u8,
    /// Play by itself and print a status line a second instead of drawing.
    #[arg(long)]
    bot: bool,
    /// The bot's difficulty: it moves one cell every this many ms, straight
    /// for the coin. The default, 60, is beatable by a player holding an
    /// arrow key (key repeat is usually 25-35 moves a second).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(10..=1000))]
    bot_step_ms: u64,
    /// Coins that win (every player of a match must agree).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    first_to: u32,
    /// Give up if the room does not fill within this many seconds.
    #[arg(long, default_value_t = 120)]
    wait_secs: u64,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coins: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let token = token::fetch(args.token_http)?;
    let mut client = RelayClient::bind("0.0.0.0:0".parse().map_err(|_| "bad address")?)
        .map_err(|e| e.to_string())?;
    client.connect_bytes(Instant::now(), &token);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !client.is_connected() {
        client.update(Instant::now());
        if client.state().is_error() || Instant::now() > deadline {
            return Err(format!(
                "could not connect to the relay: {:?}",
                client.state()
            ));
        }
        client
            .wait(deadline)
            .map_err(|e| format!("cannot wait on the socket: {e}"))?;
    }
    // Players only meet others who play to the same score.
    let mut match_data = MATCH_DATA.to_vec();
    match_data.extend_from_slice(&args.first_to.to_le_bytes());
    let info = MatchInfo {
        player_count: args.players,
        match_data,
    };
    client.request_match(&info).map_err(|e| e.to_string())?;
    eprintln!("connected; waiting for {} players", args.players);
    let deadline = Instant::now() + Duration::from_secs(args.wait_secs);
    let mut matched = None;
    let mut game = loop {
        client.update(Instant::now());
        while let Some(event) = client.poll_event() {
            match event {
                RelayEvent::Waiting(n) => eprintln!("{n} of {} players here", args.players),
                RelayEvent::Matched {
                    random_seed,
                    player_idx,
                    player_count,
                    ..
                } => {
                    eprintln!("matched: you are player {}", player_idx + 1);
                    matched = Some(Game::new(
                        random_seed,
                        player_idx,
                        player_count,
                        args.first_to,
                    ));
                }
                RelayEvent::Error(e) => return Err(format!("the relay refused: {e:?}")),
                _ => {}
            }
        }
        if let Some(game) = matched.take() {
            break game;
        }
        if Instant::now() > deadline || !client.is_connected() {
            return Err("no match".into());
        }
        client
            .wait(deadline)
            .map_err(|e| format!("cannot wait on the socket: {e}"))?;
    };
    let bot = args.bot.then(|| Duration::from_millis(args.bot_step_ms));
    play(&mut client, &mut game, bot)
}

/// Where this client is with the coin on the board.
#[derive(Debug)]
struct CoinClock {
    /// The coin this is about.
    coin: u16,
    /// When this client saw it: the game's start, or the previous coin's award.
    seen: Instant,
    /// How long after `seen` this client reached it, once it has.
    reached: Option<Duration>,
    /// When this client last sent its claim to the authority.
    last_claim: Option<Instant>,
}

impl CoinClock {
    fn new(coin: u16, now: Instant) -> Self {
        Self {
            coin,
            seen: now,
            reached: None,
            last_claim: None,
        }
    }
}

/// The game loop: input, messages, drawing, until someone wins or `q`.
/// `bot`: play by itself, one step every that long.
fn play(client: &mut RelayClient, game: &mut Game, bot: Option<Duration>) -> Result<(), String> {
    let mut screen = if bot.is_some() {
        None
    } else {
        Some(screen::Screen::enter().map_err(|e| e.to_string())?)
    };
    let start = Instant::now();
    let mut last_position = start;
    let mut clock = CoinClock::new(game.coin, start);
    let mut arbiter = Arbiter::default();
    let mut last_bot_step = start;
    let mut last_status = start;
    loop {
        let now = Instant::now();
        let now_ms = now.duration_since(start).as_millis() as u64;
        if game.coin != clock.coin {
            clock = CoinClock::new(game.coin, now);
        }
        if let Some(step_every) = bot {
            if now - last_bot_step >= step_every {
                last_bot_step = now;
                let (cx, cy) = game.coin_at(game.coin);
                let me = game.players[usize::from(game.me)];
                game.step(
                    (cx.cmp(&me.x) as i8).signum(),
                    (cy.cmp(&me.y) as i8).signum(),
                );
            }
        } else {
            while event::poll(Duration::ZERO).map_err(|e| e.to_string())? {
                if let Event::Key(key) = event::read().map_err(|e| e.to_string())? {
                    if key.kind == KeyEventKind::Release {
                        continue;
                    }
                    match key.code {
                        KeyCode::Left | KeyCode::Char('a') => game.step(-1, 0),
                        KeyCode::Right | KeyCode::Char('d') => game.step(1, 0),
                        KeyCode::Up | KeyCode::Char('w') => game.step(0, -1),
                        KeyCode::Down | KeyCode::Char('s') => game.step(0, 1),
                        KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                        _ => {}
                    }
                }
            }
        }
        claim(client, game, &mut clock, &mut arbiter, now, now_ms)?;
        if game.is_authority() {
            if let Some((k, winner)) = arbiter.decide(now_ms) {
                award(client, game, k, winner)?;
            }
        }
        if now - last_position >= POSITION_EVERY {
            last_position = now;
            let me = game.players[usize::from(game.me)];
            let message = GameMessage::Position { x: me.x, y: me.y }.to_bytes();
            client
                .send_to(Target::AllOthers, &message, false)
                .map_err(|e| e.to_string())?;
        }
        client.update(now);
        while let Some(event) = client.poll_event() {
            handle(game, &mut arbiter, event, now_ms);
        }
        if !client.is_connected() {
            return Err(format!("lost the relay: {:?}", client.state()));
        }
        let status = format!(
            "coin {} - first to {} wins - q quits",
            game.coin + 1,
            game.first_to
        );
        match &mut screen {
            Some(screen) => screen.draw(game, &status).map_err(|e| e.to_string())?,
            None if now - last_status >= Duration::from_secs(1) => {
                last_status = now;
                let scores: Vec<u32> = game.players.iter().map(|p| p.score).collect();
                println!("player {} scores {scores:?}", game.me + 1);
            }
            None => {}
        }
        if let Some(winner) = game.winner() {
            drop(screen);
            let scores: Vec<u32> = game.players.iter().map(|p| p.score).collect();
            println!("player {} wins; scores {scores:?}", winner + 1);
            client.flush(Instant::now());
            return Ok(());
        }
        std::thread::sleep(TICK);
    }
}

/// On the coin: claim it, with how long this client took to reach it
/// since it saw it; the authority's own claim goes to its arbiter, like
/// everyone else's.
fn claim(
    client: &mut RelayClient,
    game: &Game,
    clock: &mut CoinClock,
    arbiter: &mut Arbiter,
    now: Instant,
    now_ms: u64,
) -> Result<(), String> {
    if !game.on_coin() && clock.reached.is_none() {
        return Ok(());
    }
    let elapsed = *clock.reached.get_or_insert(now - clock.seen);
    let k = clock.coin;
    let elapsed_ms = u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX);
    if game.is_authority() {
        if clock.last_claim.is_none() {
            clock.last_claim = Some(now);
            arbiter.claim(game.coin, k, game.me, u64::from(elapsed_ms), now_ms);
        }
        return Ok(());
    }
    if clock.last_claim.is_some_and(|at| now - at < CLAIM_EVERY) {
        return Ok(());
    }
    clock.last_claim = Some(now);
    let authority = game.players.iter().position(|p| p.present).unwrap_or(0) as u8;
    let message = GameMessage::Claim { k, elapsed_ms }.to_bytes();
    client
        .send_to(Target::Player(authority), &message, true)
        .map_err(|e| e.to_string())
}

/// Applies one relay event to the game; claims go to the arbiter when this
/// client is the authority.
fn handle(game: &mut Game, arbiter: &mut Arbiter, event: RelayEvent, now_ms: u64) {
    match event {
        RelayEvent::Received { from, data, .. } => match GameMessage::parse(&data) {
            Some(GameMessage::Position { x, y }) => game.place(from, x, y),
            Some(GameMessage::Claim { k, elapsed_ms }) if game.is_authority() => {
                arbiter.claim(game.coin, k, from, u64::from(elapsed_ms), now_ms);
            }
            Some(GameMessage::Award { k, player }) => {
                game.award(k, player);
            }
            _ => {}
        },
        RelayEvent::PlayerLeft { idx, .. } => {
            if let Some(p) = game.players.get_mut(usize::from(idx)) {
                p.present = false;
            }
        }
        RelayEvent::PlayerRejoined(idx) => {
            if let Some(p) = game.players.get_mut(usize::from(idx)) {
                p.present = true;
            }
        }
        _ => {}
    }
}

/// As the authority: gives coin `k` to `player` and tells everyone.
fn award(client: &mut RelayClient, game: &mut Game, k: u16, player: u8) -> Result<(), String> {
    if !game.award(k, player) {
        return Ok(());
    }
    let award = GameMessage::Award { k, player }.to_bytes();
    client
        .send_to(Target::AllOthers, &award, true)
        .map_err(|e| e.to_string())
}
