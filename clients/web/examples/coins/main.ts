/**
 * The coins page: connects to the relay through the example server, asks
 * for a coins match, plays it with the keyboard, draws it, and publishes
 * its state as `window.coins`.
 *
 * @packageDocumentation
 */
import type { RelayEvent } from '../../src/index.js';
import { openRelay } from '../shared/relaySession.js';
import { Game } from './game.js';
import { listenForSteps } from './input.js';
import { matchData, parseOptions, type CoinsOptions } from './options.js';
import { Play } from './play.js';
import { gameSnapshot, preMatchSnapshot, type CoinsSnapshot } from './state.js';
import { render, type ViewElements } from './view.js';

declare global {
  interface Window {
    /** The coins page's state, for tests. */
    coins?: CoinsSnapshot;
  }
}

/** Frame time, ms. */
const TICK_MS = 16;

function element(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el;
}

const view: ViewElements = { arena: element('arena'), scores: element('scores'), status: element('status') };
let shown = '';

function publish(snapshot: CoinsSnapshot): void {
  const text = JSON.stringify(snapshot);
  if (text === shown) return;
  shown = text;
  window.coins = snapshot;
  render(view, snapshot);
}

async function run(options: CoinsOptions): Promise<void> {
  let play: Play | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let failed = false;
  const fail = (why: string) => {
    if (failed) return;
    failed = true;
    if (timer !== undefined) clearInterval(timer);
    console.error(`coins: ${why}`);
    publish(preMatchSnapshot('error', options.playerCount, why));
  };
  const refresh = () => {
    if (!failed && play !== undefined) publish(gameSnapshot(play.game));
  };
  const guarded = (f: () => void) => {
    try {
      f();
    } catch (e) {
      fail(e instanceof Error ? e.message : String(e));
    }
  };

  publish(preMatchSnapshot('connecting', options.playerCount));
  const { relay, start } = await openRelay();
  relay.on('connected', () =>
    guarded(() => {
      const asked = relay.requestMatch(options.playerCount, matchData(options.firstTo));
      if (!asked.ok) throw new Error(`cannot ask for a match: ${JSON.stringify(asked.error)}`);
      publish(preMatchSnapshot('waiting', options.playerCount));
    }),
  );
  relay.on('matched', (e) =>
    guarded(() => {
      if (play !== undefined) return;
      const game = new Game(e.randomSeed, e.playerIdx, e.playerCount, options.firstTo);
      play = new Play(game, (target, data, reliable) => relay.sendTo(target, data, reliable), performance.now());
      const current = play;
      timer = setInterval(
        () =>
          guarded(() => {
            current.tick(performance.now());
            refresh();
            // Won: stop playing but stay connected, so the last award is delivered.
            if (current.game.winner() !== undefined && timer !== undefined) clearInterval(timer);
          }),
        TICK_MS,
      );
      refresh();
    }),
  );
  const toGame = (e: RelayEvent) =>
    guarded(() => {
      play?.handle(e, performance.now());
      refresh();
    });
  relay.on('message', toGame);
  relay.on('playerLeft', toGame);
  relay.on('playerRejoined', toGame);
  relay.on('error', (e) => fail(`the relay refused: ${e.code}`));
  relay.on('disconnected', (e) => {
    // The server's own words when it closed the session (shutting down,
    // idle), else where the client was.
    if (play?.game.winner() === undefined) fail(`lost the relay: ${e.closeReason ?? `state ${e.reason}`}`);
  });
  listenForSteps(window, ({ dx, dy }) =>
    guarded(() => {
      if (play === undefined || play.game.winner() !== undefined) return;
      play.game.step(dx, dy);
      refresh();
    }),
  );
  window.addEventListener('pagehide', () => relay.close());
  start();
}

const options = parseOptions(location.search);
if (!options.ok) {
  publish(preMatchSnapshot('error', 2, options.error));
} else {
  run(options.value).catch((e: unknown) => publish(preMatchSnapshot('error', options.value.playerCount, e instanceof Error ? e.message : String(e))));
}
