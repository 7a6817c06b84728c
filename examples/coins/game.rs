//! The rules: an arena, a coin sequence every player derives from the
//! match seed, and scores that the authority (the lowest player still in
//! the match) decides.
//!
//! Fairness: the authority does not take a coin the moment it stands on
//! it. Every player, the authority included, claims a coin with how long
//! it took to reach it, counted from when that player saw the coin; the
//! authority waits [`CLAIM_WINDOW_MS`] after the first claim and gives the
//! coin to the quickest (an [`Arbiter`]). What the network delays, learning
//! of the coin and the claim's trip, counts for nobody.

/// How long the authority waits for other claims after the first, ms:
/// longer than a claim's trip between players on a relay.
pub(crate) const CLAIM_WINDOW_MS: u64 = 200;

/// Arena width, in cells.
pub(crate) const WIDTH: u8 = 40;
/// Arena height, in cells.
pub(crate) const HEIGHT: u8 = 16;

/// One player as this client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Player {
    pub(crate) x: u8,
    pub(crate) y: u8,
    pub(crate) score: u32,
    pub(crate) present: bool,
}

/// The whole game as this client sees it.
#[derive(Debug)]
pub(crate) struct Game {
    pub(crate) me: u8,
    pub(crate) players: Vec<Player>,
    /// Index of the coin on the board.
    pub(crate) coin: u16,
    /// Coins that win the game.
    pub(crate) first_to: u32,
    seed: u64,
}

impl Game {
    /// A fresh game for `count` players, this client being `me`, won at
    /// `first_to` coins.
    pub(crate) fn new(seed: u64, me: u8, count: u8, first_to: u32) -> Self {
        let players = (0..count)
            .map(|i| Player {
                x: if i % 2 == 0 { 1 } else { WIDTH - 2 },
                y: if i < 2 { 1 } else { HEIGHT - 2 },
                score: 0,
                present: true,
            })
            .collect();
        Self {
            me,
            players,
            coin: 0,
            first_to,
            seed,
        }
    }

    /// Where coin `k` lies: the same on every client of the match.
    pub(crate) fn coin_at(&self, k: u16) -> (u8, u8) {
        let mut z = self.seed ^ (u64::from(k).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let x = 1 + (z % u64::from(WIDTH - 2)) as u8;
        let y = 1 + ((z >> 32) % u64::from(HEIGHT - 2)) as u8;
        (x, y)
    }

    /// Whether this client decides who gets each coin.
    pub(crate) fn is_authority(&self) -> bool {
        self.players.iter().position(|p| p.present) == Some(usize::from(self.me))
    }

    /// Moves this client's player by `(dx, dy)`, inside the walls.
    pub(crate) fn step(&mut self, dx: i8, dy: i8) {
        if let Some(p) = self.players.get_mut(usize::from(self.me)) {
            p.x = p.x.saturating_add_signed(dx).clamp(1, WIDTH - 2);
            p.y = p.y.saturating_add_signed(dy).clamp(1, HEIGHT - 2);
        }
    }

    /// Whether this client's player stands on the current coin.
    pub(crate) fn on_coin(&self) -> bool {
        let me = self.players.get(usize::from(self.me));
        me.is_some_and(|p| (p.x, p.y) == self.coin_at(self.coin))
    }

    /// Records that `player` took coin `k`, if `k` is the current coin.
    /// Returns whether it counted.
    pub(crate) fn award(&mut self, k: u16, player: u8) -> bool {
        if k != self.coin {
            return false;
        }
        let Some(p) = self.players.get_mut(usize::from(player)) else {
            return false;
        };
        p.score += 1;
        self.coin += 1;
        true
    }

    /// The winner, once someone has `first_to` coins.
    pub(crate) fn winner(&self) -> Option<u8> {
        (0u8..)
            .zip(&self.players)
            .find(|(_, p)| p.score >= self.first_to)
            .map(|(i, _)| i)
    }

    /// Moves another player to where it says it is (ignored if off the board).
    pub(crate) fn place(&mut self, player: u8, x: u8, y: u8) {
        if x == 0 || y == 0 || x >= WIDTH - 1 || y >= HEIGHT - 1 {
            return;
        }
        if let Some(p) = self.players.get_mut(usize::from(player)) {
            p.x = x;
            p.y = y;
        }
    }
}

/// Decides who took each coin, on the authority (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Arbiter {
    /// The coin being claimed, when the first claim came, and the best
    /// claim so far: (elapsed ms, player).
    open: Option<(u16, u64, (u64, u8))>,
}

impl Arbiter {
    /// `player` reached coin `k` `elapsed_ms` after it saw it; the claim
    /// reached the authority at `now_ms`. Claims for another coin than the
    /// one open (or the current `coin`, if none is) are ignored.
    pub(crate) fn claim(&mut self, coin: u16, k: u16, player: u8, elapsed_ms: u64, now_ms: u64) {
        match &mut self.open {
            None if k == coin => self.open = Some((k, now_ms, (elapsed_ms, player))),
            Some((open, _, best)) if *open == k => {
                // Quicker wins; a tie goes to the player the coin's number
                // favours, so ties alternate.
                let rank = |(elapsed, p): (u64, u8)| (elapsed, (u16::from(p) + k) % 251);
                if rank((elapsed_ms, player)) < rank(*best) {
                    *best = (elapsed_ms, player);
                }
            }
            _ => {}
        }
    }

    /// The coin and its winner, once the window after its first claim has
    /// passed by `now_ms`.
    pub(crate) fn decide(&mut self, now_ms: u64) -> Option<(u16, u8)> {
        let (k, first, (_, player)) = self.open?;
        if now_ms < first + CLAIM_WINDOW_MS {
            return None;
        }
        self.open = None;
        Some((k, player))
    }
}
