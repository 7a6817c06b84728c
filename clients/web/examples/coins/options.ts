/**
 * The page's query: `?players=N` (2..=4, default 2) and `?first_to=N`
 * (1..=1000, default 10), and the match request they make, byte-identical
 * to the terminal version's: players with the same count and score play
 * together.
 *
 * @packageDocumentation
 */

/** What every coins client asks the relay for (followed by `first_to` as u32 LE). */
export const MATCH_DATA_PREFIX = 'berth-coins/1';

/** What the page was asked to play. */
export interface CoinsOptions {
  /** Players in a match. */
  readonly playerCount: number;
  /** Coins that win. */
  readonly firstTo: number;
}

/** Reads the query string; an error message for values out of range. */
export function parseOptions(search: string): { ok: true; value: CoinsOptions } | { ok: false; error: string } {
  const params = new URLSearchParams(search);
  const playerCount = intParam(params.get('players'), 2, 2, 4);
  if (playerCount === undefined) return { ok: false, error: 'players must be 2 to 4' };
  const firstTo = intParam(params.get('first_to'), 10, 1, 1000);
  if (firstTo === undefined) return { ok: false, error: 'first_to must be 1 to 1000' };
  return { ok: true, value: { playerCount, firstTo } };
}

/** The match data: ASCII `berth-coins/1` then `firstTo` as u32 little-endian. */
export function matchData(firstTo: number): Uint8Array {
  const prefix = new TextEncoder().encode(MATCH_DATA_PREFIX);
  const bytes = new Uint8Array(prefix.length + 4);
  bytes.set(prefix);
  new DataView(bytes.buffer).setUint32(prefix.length, firstTo, true);
  return bytes;
}

function intParam(text: string | null, fallback: number, min: number, max: number): number | undefined {
  if (text === null || text === '') return fallback;
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}
