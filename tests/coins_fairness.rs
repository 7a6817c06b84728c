//! The coins game is fair between the authority and the other player.
//!
//! Its rules (`examples/coins/game.rs`) run here on a simulated clock:
//! two bots of equal speed, the authority (player 1 on screen, index 0)
//! hearing of each coin at once and the other a relay trip later, and each
//! claim travelling that trip to the authority. Over 20 seeded games each
//! side must win at least 6. Under the old rule (the authority takes a coin
//! the moment it stands on it) the authority wins more, which is what a
//! game on a real relay showed: 11 of 11.

#[allow(dead_code)] // The example's other rules are not needed here.
#[path = "../examples/coins/game.rs"]
mod game;

use game::{Arbiter, Game};

/// Coins that win a simulated game.
const FIRST_TO: u32 = 5;
/// One-way trip between the players through the relay, ms.
const TRIP_MS: u64 = 30;
/// A bot's step, ms.
const STEP_MS: u64 = 60;

/// Who decides a coin.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// The claim made soonest after its claimer saw the coin (the game's rule).
    Arbiter,
    /// The authority takes the coin the moment it stands on it; others'
    /// claims count when they arrive (the rule before).
    AuthorityFirst,
}

/// A claim on its way to the authority: when it arrives, its coin, its
/// player and how long that player took to reach the coin.
struct InFlight {
    arrives: u64,
    k: u16,
    player: u8,
    elapsed: u64,
}

/// Plays one game with `seed`; returns the winner.
fn play(seed: u64, rule: Rule) -> u8 {
    let mut truth = Game::new(seed, 0, 2, FIRST_TO);
    let mut at: Vec<(u8, u8)> = truth.players.iter().map(|p| (p.x, p.y)).collect();
    // When each player next steps: offsets from the seed, so neither always moves first.
    let mut next_step = [seed % STEP_MS, (seed / 7) % STEP_MS];
    // The coin each player is after, and when it saw it.
    let mut aim = [0u16, 0u16];
    let mut seen = [0u64, TRIP_MS];
    let mut reached = [false, false];
    let mut arbiter = Arbiter::default();
    let mut in_flight: Vec<InFlight> = Vec::new();
    for t in 0..10_000_000u64 {
        // The authority hears claims, and decides.
        in_flight.retain(|c| {
            if c.arrives != t {
                return true;
            }
            match rule {
                Rule::Arbiter => arbiter.claim(truth.coin, c.k, c.player, c.elapsed, t),
                Rule::AuthorityFirst => {
                    truth.award(c.k, c.player);
                }
            }
            false
        });
        if let Some((k, winner)) = arbiter.decide(t) {
            truth.award(k, winner);
        }
        if let Some(winner) = truth.winner() {
            return winner;
        }
        // A new coin: the authority sees it now, the other a trip later.
        if aim[0] != truth.coin {
            aim[0] = truth.coin;
            seen[0] = t;
            reached[0] = false;
            seen[1] = t + TRIP_MS;
        }
        if t == seen[1] && aim[1] != truth.coin {
            aim[1] = truth.coin;
            reached[1] = false;
        }
        for p in 0..2 {
            if t < next_step[p] {
                continue;
            }
            next_step[p] += STEP_MS;
            let (cx, cy) = truth.coin_at(aim[p]);
            let (x, y) = at[p];
            at[p] = (
                x.saturating_add_signed((cx.cmp(&x) as i8).signum()),
                y.saturating_add_signed((cy.cmp(&y) as i8).signum()),
            );
            if at[p] != (cx, cy) || reached[p] || t < seen[p] {
                continue;
            }
            reached[p] = true;
            let elapsed = t - seen[p];
            let (k, player) = (aim[p], p as u8);
            match (rule, p) {
                (Rule::Arbiter, 0) => arbiter.claim(truth.coin, k, 0, elapsed, t),
                (Rule::AuthorityFirst, 0) => {
                    truth.award(k, 0);
                }
                _ => in_flight.push(InFlight {
                    arrives: t + TRIP_MS,
                    k,
                    player,
                    elapsed,
                }),
            }
        }
    }
    panic!("game {seed} never ended");
}

/// Wins of each player over 20 seeded games.
fn wins(rule: Rule) -> [u32; 2] {
    let mut wins = [0u32; 2];
    for seed in 1..=20u64 {
        let seed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        wins[usize::from(play(seed, rule))] += 1;
    }
    wins
}

#[test]
fn each_side_wins_at_least_six_of_twenty_seeded_games() {
    let fair = wins(Rule::Arbiter);
    assert!(fair.iter().all(|&w| w >= 6), "wins by player: {fair:?}");
    let before = wins(Rule::AuthorityFirst);
    eprintln!("wins by player, fair rule {fair:?}, authority first {before:?}");
    assert!(
        before[0] > fair[0],
        "the old rule should favour the authority: {before:?} against {fair:?}"
    );
}
