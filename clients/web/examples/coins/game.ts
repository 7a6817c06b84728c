/**
 * The coins rules, as `examples/coins/game.rs` has them: a 40x16 arena, a
 * coin sequence every player derives from the match seed, and scores the
 * authority (the lowest player still in the match) decides through an
 * {@link Arbiter}.
 *
 * @packageDocumentation
 */

/** How long the authority waits for other claims after the first, ms. */
export const CLAIM_WINDOW_MS = 200;
/** Arena width, in cells (walls included). */
export const WIDTH = 40;
/** Arena height, in cells (walls included). */
export const HEIGHT = 16;

const U64_MASK = (1n << 64n) - 1n;

/** One player as this client sees it. */
export interface Player {
  /** Column, 1..=WIDTH-2. */
  x: number;
  /** Row, 1..=HEIGHT-2. */
  y: number;
  /** Coins taken. */
  score: number;
  /** Still in the match. */
  present: boolean;
}

/** The whole game as this client sees it. */
export class Game {
  /** Every player, by index. */
  readonly players: Player[];
  /** Index of the coin on the board. */
  coin = 0;

  /** A fresh game for `count` players, this client being `me`, won at `firstTo` coins. */
  constructor(
    private readonly seed: bigint,
    readonly me: number,
    count: number,
    readonly firstTo: number,
  ) {
    this.players = Array.from({ length: count }, (_, i) => ({
      x: i % 2 === 0 ? 1 : WIDTH - 2,
      y: i < 2 ? 1 : HEIGHT - 2,
      score: 0,
      present: true,
    }));
  }

  /** Where coin `k` lies: the same on every client of the match (a splitmix64 finaliser of seed and `k`). */
  coinAt(k: number): { x: number; y: number } {
    let z = (this.seed & U64_MASK) ^ ((BigInt(k) * 0x9e37_79b9_7f4a_7c15n) & U64_MASK);
    z = ((z ^ (z >> 30n)) * 0xbf58_476d_1ce4_e5b9n) & U64_MASK;
    z = ((z ^ (z >> 27n)) * 0x94d0_49bb_1331_11ebn) & U64_MASK;
    z ^= z >> 31n;
    const x = 1 + Number(z % BigInt(WIDTH - 2));
    const y = 1 + Number((z >> 32n) % BigInt(HEIGHT - 2));
    return { x, y };
  }

  /** The lowest player still in the match (0 if none is). */
  authority(): number {
    const i = this.players.findIndex((p) => p.present);
    return i < 0 ? 0 : i;
  }

  /** Whether this client decides who gets each coin. */
  isAuthority(): boolean {
    return this.players.findIndex((p) => p.present) === this.me;
  }

  /** Moves this client's player by `(dx, dy)`, inside the walls. */
  step(dx: number, dy: number): void {
    const p = this.players[this.me];
    if (p === undefined) return;
    p.x = clamp(p.x + dx, 1, WIDTH - 2);
    p.y = clamp(p.y + dy, 1, HEIGHT - 2);
  }

  /** Whether this client's player stands on the current coin. */
  onCoin(): boolean {
    const p = this.players[this.me];
    const c = this.coinAt(this.coin);
    return p !== undefined && p.x === c.x && p.y === c.y;
  }

  /** Records that `player` took coin `k`, if `k` is the current coin; returns whether it counted. */
  award(k: number, player: number): boolean {
    if (k !== this.coin) return false;
    const p = this.players[player];
    if (p === undefined) return false;
    p.score += 1;
    this.coin += 1;
    return true;
  }

  /** The winner's index, once someone has `firstTo` coins. */
  winner(): number | undefined {
    const i = this.players.findIndex((p) => p.score >= this.firstTo);
    return i < 0 ? undefined : i;
  }

  /** Moves another player to where it says it is (ignored if off the board). */
  place(player: number, x: number, y: number): void {
    if (x === 0 || y === 0 || x >= WIDTH - 1 || y >= HEIGHT - 1) return;
    const p = this.players[player];
    if (p === undefined) return;
    p.x = x;
    p.y = y;
  }
}

/** Decides who took each coin, on the authority: the quickest claim within the window after the first. */
export class Arbiter {
  private open: { k: number; first: number; elapsed: number; player: number } | undefined;

  /**
   * `player` reached coin `k` `elapsedMs` after it saw it; the claim reached
   * the authority at `nowMs`. Claims for another coin than the one open (or
   * the current `coin`, if none is) are ignored.
   */
  claim(coin: number, k: number, player: number, elapsedMs: number, nowMs: number): void {
    const open = this.open;
    if (open === undefined) {
      if (k === coin) this.open = { k, first: nowMs, elapsed: elapsedMs, player };
      return;
    }
    if (open.k !== k) return;
    // Quicker wins; a tie goes to the player the coin's number favours, so ties alternate.
    const rank = (elapsed: number, p: number): [number, number] => [elapsed, (p + k) % 251];
    const [e1, t1] = rank(elapsedMs, player);
    const [e0, t0] = rank(open.elapsed, open.player);
    if (e1 < e0 || (e1 === e0 && t1 < t0)) {
      open.elapsed = elapsedMs;
      open.player = player;
    }
  }

  /** The coin and its winner, once the window after its first claim has passed by `nowMs`. */
  decide(nowMs: number): { k: number; player: number } | undefined {
    const open = this.open;
    if (open === undefined || nowMs < open.first + CLAIM_WINDOW_MS) return undefined;
    this.open = undefined;
    return { k: open.k, player: open.player };
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
