/**
 * The end-to-end exchange page: connects to the relay over WebTransport
 * (ticket through the example server's proxy), asks for a 2-player
 * `berth-e2e/1` match, then sends the exchange to the native player and
 * checks what it sends back. Publishes its progress as `window.e2e` for
 * `e2e/run.mjs`.
 *
 * @packageDocumentation
 */
import type { RelayConnection } from '../src/index.js';
import { openRelay } from '../examples/shared/relaySession.js';
import { ExchangeCheck, type Received } from './exchangeCheck.js';
import { E2E_MATCH_DATA } from './exchangeMessages.js';
import { ExchangeSender, type Sent } from './exchangeSender.js';

/** The page's progress, as `window.e2e`. */
export interface E2eState {
  /** Where the page is. */
  phase: 'connecting' | 'waiting' | 'matched';
  /** This page's player index, once matched. */
  playerIdx: number | null;
  /** What arrived from the native player. */
  received: Received;
  /** Whether everything expected arrived. */
  complete: boolean;
  /** What this page queued. */
  sent: Sent | null;
  /** Players who left, in order. */
  left: { idx: number; reason: string }[];
  /** The first failure, if any. */
  error: string | null;
  /** Disconnects from the relay (sending netcode's disconnect packets). */
  close: () => void;
}

declare global {
  interface Window {
    /** The exchange page's progress, for e2e/run.mjs. */
    e2e?: E2eState;
  }
}

const state: E2eState = {
  phase: 'connecting',
  playerIdx: null,
  received: { reliable: 0, big: false, unreliable: 0 },
  complete: false,
  sent: null,
  left: [],
  error: null,
  close: () => undefined,
};
window.e2e = state;

function fail(why: string): void {
  if (state.error !== null) return;
  state.error = why;
  console.error(`e2e: ${why}`);
}

function wire(relay: RelayConnection): void {
  let check: ExchangeCheck | undefined;
  let sender: ExchangeSender | undefined;
  let closing = false;
  state.close = () => {
    closing = true;
    sender?.stop();
    relay.close();
  };
  relay.on('connected', () => {
    const asked = relay.requestMatch(2, new TextEncoder().encode(E2E_MATCH_DATA));
    if (!asked.ok) fail(`cannot ask for a match: ${JSON.stringify(asked.error)}`);
    else state.phase = 'waiting';
  });
  relay.on('matched', (e) => {
    if (state.playerIdx !== null) return fail('matched twice');
    if (e.playerCount !== 2) return fail(`matched with ${e.playerCount} players`);
    state.playerIdx = e.playerIdx;
    state.phase = 'matched';
    check = new ExchangeCheck(1 - e.playerIdx);
    sender = new ExchangeSender(e.playerIdx, (t, d, r) => relay.sendTo(t, d, r), fail);
    state.sent = sender.sent;
    sender.start();
  });
  relay.on('message', (e) => {
    if (check === undefined) return fail(`message from ${e.from} before the match`);
    check.accept(e.from, e.data, e.reliable);
    state.received = check.received;
    state.complete = check.complete;
    if (check.failure !== undefined) fail(check.failure);
  });
  relay.on('playerLeft', (e) => state.left.push({ idx: e.idx, reason: e.reason }));
  relay.on('error', (e) => fail(`the relay refused: ${e.code}`));
  relay.on('disconnected', (e) => {
    if (!closing) fail(`disconnected from the relay (state ${e.reason})`);
  });
}

openRelay().then(
  ({ relay, start }) => {
    wire(relay);
    start();
  },
  (e: unknown) => fail(e instanceof Error ? e.message : String(e)),
);
