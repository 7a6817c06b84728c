#!/usr/bin/env node
// @ts-check
/**
 * The browser side of berth's end-to-end test, driven by the Rust test over
 * JSON lines (stdout: steps; stdin: commands; stderr: logs):
 *
 *     node clients/web/e2e/run.mjs --relay-http 127.0.0.1:PORT --artifacts DIR
 *
 * 1. serves the pages, launches headless Chromium, opens e2e/exchange.html → `{"step":"page-loaded"}`
 * 2. the page matches (2 players, "berth-e2e/1") → `{"step":"matched","playerIdx":N}`
 * 3. the page sends and checks the exchange → `{"step":"received-all","reliable":1000,"big":true,"unreliable":K}`
 * 4. on `{"cmd":"leave"}`, waits for the native player's PlayerLeft → `{"step":"player-left","idx":I,"reason":"…"}`
 * 5. opens examples/coins/?players=2 → `{"step":"coins-waiting"}`; once playing, presses ArrowRight (ArrowLeft from the right half)
 *    three times → `{"step":"moved","x":X,"y":Y,"screenshot":"…/coins-after-move.png"}`
 * 6. on `{"cmd":"done"}`, closes everything and exits 0.
 *
 * Any failure prints `{"step":"failed","why":"…"}` and exits 1. Each step
 * has 60 s, the whole run 3 minutes; Chromium and its profile never outlive it.
 *
 * Needs the pages built: `npm run build:examples`.
 *
 * @module
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PACKAGE_ROOT, startServer } from '../examples/serve.mjs';
import { launchBrowser, watchPage } from './lib/browser.mjs';
import { CommandReader, emit } from './lib/jsonLines.mjs';

/** Time each step may take, ms. */
const STEP_MS = 60_000;
/** Time the whole run may take, ms. */
const RUN_MS = 180_000;
/** Time cleaning up may take, ms. */
const CLOSE_MS = 10_000;
/** The arena's rightmost free column (coins: width 40, walls at 0 and 39). */
const RIGHTMOST = 38;
/** Files the pages load, built by `npm run build:examples`. */
const BUILT = ['dist/src/index.js', 'dist/e2e/exchange.js', 'dist/examples/coins/main.js'];

/** @param {string} text */
function log(text) {
  process.stderr.write(`run.mjs: ${text}\n`);
}

/**
 * @param {readonly string[]} args
 * @returns {{ relayHttp: string, artifacts: string }}
 */
function parseArgs(args) {
  /** @type {Record<string, string>} */
  const values = {};
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i];
    const value = args[i + 1];
    if ((flag !== '--relay-http' && flag !== '--artifacts') || value === undefined) {
      throw new Error(`usage: run.mjs --relay-http HOST:PORT --artifacts DIR (bad argument ${String(flag)})`);
    }
    values[flag] = value;
  }
  const relayHttp = values['--relay-http'];
  const artifacts = values['--artifacts'];
  if (relayHttp === undefined || artifacts === undefined) {
    throw new Error('usage: run.mjs --relay-http HOST:PORT --artifacts DIR');
  }
  return { relayHttp, artifacts: resolve(artifacts) };
}

/** Cleanups, run once, last registered first. */
/** @type {(() => Promise<void>)[]} */
const cleanups = [];
let finishing = false;

/**
 * Runs the cleanups (bounded) and exits with `code`.
 * @param {number} code
 */
async function finish(code) {
  if (finishing) return;
  finishing = true;
  for (const cleanup of cleanups.reverse()) {
    await cleanup().catch((/** @type {unknown} */ e) => log(`cleanup: ${String(e)}`));
  }
  process.exit(code);
}

/**
 * Reports the failure and exits 1.
 * @param {string} why
 */
async function fail(why) {
  if (finishing) return;
  log(`failed: ${why}`);
  await emit({ step: 'failed', why });
  await finish(1);
}

/** A promise that rejects when the run must stop (page exception, crash, deadline). */
let abort = (/** @type {string} */ _why) => {};
/** @type {Promise<never>} */
const aborted = new Promise((_, reject) => {
  abort = (why) => reject(new Error(why));
});
aborted.catch(() => undefined);

/**
 * `promise`, unless the run is aborted first.
 * @template T
 * @param {Promise<T>} promise
 * @returns {Promise<T>}
 */
function step(promise) {
  return Promise.race([promise, aborted]);
}

/**
 * The page's `window[name]`, as plain data (functions dropped).
 * @param {import('playwright-core').Page} page
 * @param {'e2e' | 'coins'} name
 * @returns {Promise<any>}
 */
function pageState(page, name) {
  return page.evaluate((key) => {
    const value = /** @type {any} */ (window)[key];
    return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  }, name);
}

/**
 * Waits (polling, up to a step's time) until `ready(arg)` holds in the page,
 * then returns `window[name]`. `ready` runs in the page: it must read the
 * page's state itself and also return true when that state reports an error,
 * which this then throws.
 * @param {import('playwright-core').Page} page
 * @param {'e2e' | 'coins'} name
 * @param {(arg: number | undefined) => boolean} ready
 * @param {number | undefined} arg
 * @param {string} what
 * @returns {Promise<any>}
 */
async function waitPage(page, name, ready, arg, what) {
  try {
    await step(page.waitForFunction(ready, arg, { timeout: STEP_MS, polling: 50 }));
  } catch (e) {
    const state = await pageState(page, name).catch(() => 'unavailable');
    throw new Error(`waiting for ${what}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}; page state ${JSON.stringify(state)}`);
  }
  const state = await pageState(page, name);
  if (state === undefined) throw new Error(`the page has no window.${name}`);
  if (name === 'e2e' && state.error !== null) throw new Error(`exchange page: ${state.error}`);
  if (name === 'coins' && state.status === 'error') throw new Error(`coins page: ${state.error ?? 'error'}`);
  return state;
}

async function main() {
  const { relayHttp, artifacts } = parseArgs(process.argv.slice(2));
  const missing = BUILT.filter((file) => !existsSync(join(PACKAGE_ROOT, file)));
  if (missing.length > 0) throw new Error(`pages not built (${missing.join(', ')}): run npm run build:examples in clients/web`);
  mkdirSync(artifacts, { recursive: true });
  const commands = new CommandReader((why) => abort(why));

  const server = await step(startServer({ relayHttp, port: 0 }));
  cleanups.push(() => server.close());
  log(`serving ${server.url}, relay HTTP ${relayHttp}`);

  // Launching is bounded (STEP_MS); a run stopped meanwhile still closes what it launches.
  const launching = launchBrowser(STEP_MS);
  cleanups.push(async () => (await launching.catch(() => undefined))?.close());
  const browser = await step(launching);
  log(`chromium up, profile ${browser.profile}`);

  // 1. The exchange page.
  const exchange = browser.context.pages()[0] ?? (await step(browser.context.newPage()));
  watchPage(exchange, 'exchange', abort);
  await step(exchange.goto(`${server.url}e2e/exchange.html`, { waitUntil: 'load', timeout: STEP_MS }));
  await emit({ step: 'page-loaded' });

  // 2. Matched.
  const matched = await waitPage(
    exchange,
    'e2e',
    () => {
      const s = /** @type {any} */ (window).e2e;
      return s !== undefined && (s.error !== null || s.playerIdx !== null);
    },
    undefined,
    'the match',
  );
  const me = /** @type {number} */ (matched.playerIdx);
  const native = 1 - me;
  await emit({ step: 'matched', playerIdx: me });

  // 3. Everything from the native side.
  const received = await waitPage(
    exchange,
    'e2e',
    () => {
      const s = /** @type {any} */ (window).e2e;
      return s !== undefined && (s.error !== null || s.complete === true);
    },
    undefined,
    'everything from the native player',
  );
  log(`exchange: received ${JSON.stringify(received.received)}, sent ${JSON.stringify(received.sent)}`);
  await emit({ step: 'received-all', reliable: received.received.reliable, big: received.received.big, unreliable: received.received.unreliable });

  // 4. The native player leaves.
  await step(commands.expect('leave', STEP_MS));
  const left = await waitPage(
    exchange,
    'e2e',
    (idx) => {
      const s = /** @type {any} */ (window).e2e;
      return s !== undefined && (s.error !== null || s.left.some((/** @type {{ idx: number }} */ l) => l.idx === idx));
    },
    native,
    `PlayerLeft(${native})`,
  );
  const leave = /** @type {{ idx: number, reason: string }[]} */ (left.left).find((l) => l.idx === native);
  await emit({ step: 'player-left', idx: leave?.idx, reason: leave?.reason });
  await exchange.evaluate(() => /** @type {any} */ (window).e2e?.close()).catch(() => undefined);
  await exchange.close().catch(() => undefined);

  // 5. Coins against the native player.
  const coins = await step(browser.context.newPage());
  watchPage(coins, 'coins', abort);
  await step(coins.goto(`${server.url}examples/coins/?players=2`, { waitUntil: 'load', timeout: STEP_MS }));
  await waitPage(
    coins,
    'coins',
    () => {
      const status = /** @type {any} */ (window).coins?.status;
      return status === 'waiting' || status === 'playing' || status === 'error';
    },
    undefined,
    'the coins match request',
  );
  await emit({ step: 'coins-waiting' });
  const playing = await waitPage(
    coins,
    'coins',
    () => {
      const status = /** @type {any} */ (window).coins?.status;
      return status === 'playing' || status === 'error';
    },
    undefined,
    'the coins match',
  );
  const mine = playing.players[playing.me];
  // Away from the nearer side wall, so that the move always changes x.
  const key = mine.x < RIGHTMOST / 2 ? 'ArrowRight' : 'ArrowLeft';
  const expectedX = key === 'ArrowRight' ? mine.x + 3 : mine.x - 3;
  log(`coins: player ${playing.me} at (${mine.x}, ${mine.y}); pressing ${key} 3 times, expecting x ${expectedX}`);
  await step(coins.bringToFront());
  for (let i = 0; i < 3; i++) await step(coins.keyboard.press(key));
  const moved = await waitPage(
    coins,
    'coins',
    (x) => {
      const c = /** @type {any} */ (window).coins;
      return c !== undefined && (c.status === 'error' || (c.me !== null && c.players[c.me]?.x === x));
    },
    expectedX,
    `x = ${expectedX}`,
  );
  const at = moved.players[moved.me];
  const screenshot = join(artifacts, 'coins-after-move.png');
  await step(coins.screenshot({ path: screenshot, timeout: STEP_MS }));
  await emit({ step: 'moved', x: at.x, y: at.y, screenshot });

  // 6. The relay stops: the page shows the player why, in the server's words.
  await step(commands.expect('relay-stopping', STEP_MS));
  try {
    await step(
      coins.waitForFunction(() => /** @type {any} */ (window).coins?.status === 'error', undefined, {
        timeout: STEP_MS,
        polling: 50,
      }),
    );
  } catch (e) {
    throw new Error(`waiting for the page to lose the relay: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  const lost = await pageState(coins, 'coins');
  await emit({ step: 'relay-lost', error: lost.error });

  // 7. Done.
  await step(commands.expect('done', STEP_MS));
  log('done');
  await finish(0);
}

const overall = setTimeout(() => abort(`the run took over ${RUN_MS / 1000} s`), RUN_MS);
overall.unref();
process.once('SIGTERM', () => void fail('terminated (SIGTERM)'));
process.once('SIGINT', () => void fail('interrupted (SIGINT)'));
main().catch((e) => fail(e instanceof Error ? e.message : String(e)));
