/**
 * Draws a {@link CoinsSnapshot}: the arena as a grid of text cells (walls
 * `#`, the coin `$`, each player its number in its own colour), the
 * scores, and the status line.
 *
 * @packageDocumentation
 */
import { HEIGHT, WIDTH } from './game.js';
import type { CoinsSnapshot } from './state.js';

/** Each player's colour, by index. */
export const PLAYER_COLOURS: readonly string[] = ['#e5534b', '#57ab5a', '#539bf5', '#d4a72c'];

/** The page's elements the view writes to. */
export interface ViewElements {
  readonly arena: HTMLElement;
  readonly scores: HTMLElement;
  readonly status: HTMLElement;
}

/** Renders `snapshot` into `view`, replacing what was there. */
export function render(view: ViewElements, snapshot: CoinsSnapshot): void {
  view.arena.replaceChildren(arenaRows(snapshot));
  view.scores.replaceChildren(...scoreItems(snapshot));
  view.status.textContent = snapshot.statusLine;
  view.status.dataset['status'] = snapshot.status;
}

function arenaRows(s: CoinsSnapshot): DocumentFragment {
  const fragment = document.createDocumentFragment();
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) fragment.append(cell(s, x, y));
    fragment.append('\n');
  }
  return fragment;
}

function cell(s: CoinsSnapshot, x: number, y: number): Node {
  if (x === 0 || y === 0 || x === WIDTH - 1 || y === HEIGHT - 1) return span('#', 'wall');
  // Players drawn over the coin; this client's player over the others.
  const order = s.players.map((_, i) => i).sort((a, b) => Number(a === s.me) - Number(b === s.me));
  let who: number | undefined;
  for (const i of order) {
    const p = s.players[i];
    if (p !== undefined && p.present && p.x === x && p.y === y) who = i;
  }
  if (who !== undefined) {
    const el = span(String(who + 1), who === s.me ? 'player me' : 'player');
    el.style.color = PLAYER_COLOURS[who % PLAYER_COLOURS.length] ?? '';
    return el;
  }
  if (s.coin !== null && s.coin.x === x && s.coin.y === y) return span('$', 'coin');
  return document.createTextNode(' ');
}

function scoreItems(s: CoinsSnapshot): HTMLElement[] {
  return s.players.map((p, i) => {
    const li = document.createElement('li');
    li.style.color = PLAYER_COLOURS[i % PLAYER_COLOURS.length] ?? '';
    const who = `player ${i + 1}${i === s.me ? ' (you)' : ''}${p.present ? '' : ' (left)'}`;
    li.textContent = `${who}: ${p.score}`;
    return li;
  });
}

function span(text: string, className: string): HTMLSpanElement {
  const el = document.createElement('span');
  el.className = className;
  el.textContent = text;
  return el;
}
