/**
 * What the coins page shows and publishes as `window.coins` for tests: a
 * plain, JSON-safe snapshot rebuilt on every change.
 *
 * @packageDocumentation
 */
import type { Game } from './game.js';

/** Where the page is. */
export type CoinsStatus = 'connecting' | 'waiting' | 'playing' | 'won' | 'error';

/** One player in a snapshot. */
export interface PlayerSnapshot {
  readonly x: number;
  readonly y: number;
  readonly score: number;
  readonly present: boolean;
}

/** The page's state, as `window.coins`. */
export interface CoinsSnapshot {
  /** Where the page is. */
  readonly status: CoinsStatus;
  /** The status line shown under the arena. */
  readonly statusLine: string;
  /** This client's player index (0-based) once matched, else null. */
  readonly me: number | null;
  /** Every player, by index (empty before the match). */
  readonly players: readonly PlayerSnapshot[];
  /** The coin on the board: its number (0-based) and cell, once playing. */
  readonly coin: { readonly k: number; readonly x: number; readonly y: number } | null;
  /** The winner's index (0-based), once someone won. */
  readonly winner: number | null;
  /** Why the page stopped, when status is 'error'. */
  readonly error: string | null;
}

/** The page before the match: connecting, waiting, or failed. */
export function preMatchSnapshot(status: 'connecting' | 'waiting' | 'error', playerCount: number, error?: string): CoinsSnapshot {
  const statusLine =
    status === 'connecting' ? 'connecting' : status === 'waiting' ? `waiting for ${playerCount} players` : `error: ${error ?? 'unknown'}`;
  return { status, statusLine, me: null, players: [], coin: null, winner: null, error: error ?? null };
}

/** The page during and after the match. */
export function gameSnapshot(game: Game): CoinsSnapshot {
  const winner = game.winner();
  const c = game.coinAt(game.coin);
  return {
    status: winner === undefined ? 'playing' : 'won',
    statusLine:
      winner === undefined ? `coin ${game.coin + 1} \u2014 first to ${game.firstTo} wins` : `player ${winner + 1} wins`,
    me: game.me,
    players: game.players.map((p) => ({ x: p.x, y: p.y, score: p.score, present: p.present })),
    coin: winner === undefined ? { k: game.coin, x: c.x, y: c.y } : null,
    winner: winner ?? null,
    error: null,
  };
}
