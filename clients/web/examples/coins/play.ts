/**
 * One coins match on this client, as `examples/coins/main.rs` plays it:
 * positions out every 50 ms (unreliable, to all others), a claim to the
 * authority once this player reaches the coin (again every 250 ms until the
 * coin changes), and, on the authority, an {@link Arbiter} that awards each
 * coin 200 ms after its first claim.
 *
 * @packageDocumentation
 */
import type { RelayEvent, RelaySendError, Target } from '../../src/index.js';
import { Arbiter, Game } from './game.js';
import { encodeMessage, parseMessage } from './wire.js';

/** How often positions go out, ms. */
export const POSITION_EVERY_MS = 50;
/** How often an unanswered coin claim is sent again, ms. */
export const CLAIM_EVERY_MS = 250;

/** Sends a message through the relay (a {@link RelayConnection.sendTo}). */
export type Send = (target: Target, data: Uint8Array, reliable: boolean) => { ok: true } | { ok: false; error: RelaySendError };

/** Where this client is with the coin on the board. */
interface CoinClock {
  /** The coin this is about. */
  readonly coin: number;
  /** When this client saw it (ms on the match clock): the start, or the previous award. */
  readonly seen: number;
  /** How long after `seen` this client reached it, once it has. */
  reached: number | undefined;
  /** When this client last sent its claim. */
  lastClaim: number | undefined;
}

/** A match in progress; call {@link Play.tick} every frame and {@link Play.handle} on every relay event. */
export class Play {
  private readonly arbiter = new Arbiter();
  private clock: CoinClock;
  private lastPosition: number;

  /** A match that started at `startMs` (the match clock's origin, from `performance.now()`). */
  constructor(
    readonly game: Game,
    private readonly send: Send,
    private readonly startMs: number,
  ) {
    this.clock = newClock(game.coin, 0);
    this.lastPosition = 0;
  }

  /** Runs one frame at `nowAbs` (`performance.now()`); throws if a reliable send fails. */
  tick(nowAbs: number): void {
    const now = Math.floor(nowAbs - this.startMs);
    const game = this.game;
    if (game.winner() !== undefined) return;
    if (game.coin !== this.clock.coin) this.clock = newClock(game.coin, now);
    this.claim(now);
    if (game.isAuthority()) {
      const decided = this.arbiter.decide(now);
      if (decided !== undefined) this.award(decided.k, decided.player);
    }
    if (now - this.lastPosition >= POSITION_EVERY_MS) {
      this.lastPosition = now;
      const me = game.players[game.me];
      if (me !== undefined) {
        // Unreliable: a full queue drops this one, as the network might.
        this.send('allOthers', encodeMessage({ type: 'position', x: me.x, y: me.y }), false);
      }
    }
  }

  /** Applies one relay event to the game; claims go to the arbiter when this client is the authority. */
  handle(event: RelayEvent, nowAbs: number): void {
    const now = Math.floor(nowAbs - this.startMs);
    const game = this.game;
    switch (event.type) {
      case 'message': {
        const m = parseMessage(event.data);
        if (m === undefined) return;
        if (m.type === 'position') game.place(event.from, m.x, m.y);
        else if (m.type === 'claim' && game.isAuthority()) this.arbiter.claim(game.coin, m.k, event.from, m.elapsedMs, now);
        else if (m.type === 'award') game.award(m.k, m.player);
        return;
      }
      case 'playerLeft': {
        const p = game.players[event.idx];
        if (p !== undefined) p.present = false;
        return;
      }
      case 'playerRejoined': {
        const p = game.players[event.idx];
        if (p !== undefined) p.present = true;
        return;
      }
      default:
        return;
    }
  }

  /** On the coin: claim it with how long this client took to reach it since it saw it. */
  private claim(now: number): void {
    const game = this.game;
    const clock = this.clock;
    if (!game.onCoin() && clock.reached === undefined) return;
    clock.reached ??= now - clock.seen;
    const elapsedMs = Math.min(clock.reached, 0xffff_ffff);
    if (game.isAuthority()) {
      if (clock.lastClaim === undefined) {
        clock.lastClaim = now;
        this.arbiter.claim(game.coin, clock.coin, game.me, elapsedMs, now);
      }
      return;
    }
    if (clock.lastClaim !== undefined && now - clock.lastClaim < CLAIM_EVERY_MS) return;
    clock.lastClaim = now;
    this.sendReliable(game.authority(), encodeMessage({ type: 'claim', k: clock.coin, elapsedMs }));
  }

  /** As the authority: gives coin `k` to `player` and tells everyone. */
  private award(k: number, player: number): void {
    if (!this.game.award(k, player)) return;
    this.sendReliable('allOthers', encodeMessage({ type: 'award', k, player }));
  }

  private sendReliable(target: Target, data: Uint8Array): void {
    const sent = this.send(target, data, true);
    if (!sent.ok) throw new Error(`cannot send: ${JSON.stringify(sent.error)}`);
  }
}

function newClock(coin: number, seen: number): CoinClock {
  return { coin, seen, reached: undefined, lastClaim: undefined };
}
