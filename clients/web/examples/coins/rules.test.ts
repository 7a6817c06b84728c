// The coins rules and messages against examples/coins/game.rs and wire.rs:
// coin positions (vectors computed from game.rs's coin_at with 64-bit
// wrapping arithmetic), moves, awards, the arbiter's window and tie rule,
// and the message bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Arbiter, CLAIM_WINDOW_MS, Game, HEIGHT, WIDTH } from './game.js';
import { encodeMessage, parseMessage } from './wire.js';
import { matchData, parseOptions } from './options.js';

test('coin positions follow game.rs coin_at', () => {
  const cases: [bigint, number, number, number][] = [
    [0n, 0, 1, 1],
    [0n, 1, 36, 12],
    [1n, 0, 30, 6],
    [16845503736918515657n, 0, 27, 14],
    [16845503736918515657n, 1, 18, 10],
    [0xffff_ffff_ffff_ffffn, 65535, 27, 8],
    [0x0123_4567_89ab_cdefn, 42, 37, 12],
  ];
  for (const [seed, k, x, y] of cases) {
    assert.deepEqual(new Game(seed, 0, 2, 10).coinAt(k), { x, y }, `seed ${seed}, coin ${k}`);
  }
});

test('start positions, walls, awards and the winner', () => {
  const g = new Game(7n, 0, 4, 2);
  assert.deepEqual(
    g.players.map((p) => [p.x, p.y]),
    [
      [1, 1],
      [WIDTH - 2, 1],
      [1, HEIGHT - 2],
      [WIDTH - 2, HEIGHT - 2],
    ],
  );
  g.step(-1, -1);
  assert.deepEqual([g.players[0]?.x, g.players[0]?.y], [1, 1], 'walls hold');
  g.place(1, 0, 5);
  assert.equal(g.players[1]?.x, WIDTH - 2, 'off-board positions are ignored');
  assert.equal(g.award(1, 2), false, 'only the current coin counts');
  assert.equal(g.award(0, 2), true);
  assert.equal(g.coin, 1);
  assert.equal(g.winner(), undefined);
  assert.equal(g.award(1, 2), true);
  assert.equal(g.winner(), 2);
});

test('the authority is the lowest player present', () => {
  const g = new Game(1n, 1, 3, 10);
  assert.equal(g.isAuthority(), false);
  const first = g.players[0];
  assert.ok(first);
  first.present = false;
  assert.equal(g.isAuthority(), true);
  assert.equal(g.authority(), 1);
});

test('the arbiter waits the window, then the quickest claim wins; ties alternate', () => {
  const a = new Arbiter();
  a.claim(3, 4, 0, 10, 1000);
  assert.equal(a.decide(5000), undefined, 'claims for another coin are ignored');
  a.claim(3, 3, 0, 500, 1000);
  a.claim(3, 3, 1, 400, 1100);
  assert.equal(a.decide(1000 + CLAIM_WINDOW_MS - 1), undefined);
  assert.deepEqual(a.decide(1000 + CLAIM_WINDOW_MS), { k: 3, player: 1 });
  // Equal times: (player + k) % 251 decides.
  const tie = new Arbiter();
  tie.claim(250, 250, 0, 100, 0);
  tie.claim(250, 250, 1, 100, 0);
  assert.deepEqual(tie.decide(CLAIM_WINDOW_MS), { k: 250, player: 1 }, '(1 + 250) % 251 = 0 beats 250');
});

test('messages match wire.rs byte for byte', () => {
  assert.deepEqual([...encodeMessage({ type: 'position', x: 4, y: 9 })], [0, 4, 9]);
  assert.deepEqual([...encodeMessage({ type: 'claim', k: 0x0102, elapsedMs: 0x0304_0506 })], [1, 2, 1, 6, 5, 4, 3]);
  assert.deepEqual([...encodeMessage({ type: 'award', k: 0x0a0b, player: 2 })], [2, 0x0b, 0x0a, 2]);
  assert.deepEqual(parseMessage(new Uint8Array([1, 2, 1, 6, 5, 4, 3])), { type: 'claim', k: 0x0102, elapsedMs: 0x0304_0506 });
  assert.equal(parseMessage(new Uint8Array([0, 1])), undefined);
  assert.equal(parseMessage(new Uint8Array([3, 0, 0, 0])), undefined);
});

test('the match request matches main.rs', () => {
  assert.deepEqual([...matchData(10)], [...new TextEncoder().encode('berth-coins/1'), 10, 0, 0, 0]);
  assert.deepEqual(parseOptions(''), { ok: true, value: { playerCount: 2, firstTo: 10 } });
  assert.deepEqual(parseOptions('?players=3&first_to=5'), { ok: true, value: { playerCount: 3, firstTo: 5 } });
  assert.equal(parseOptions('?players=9').ok, false);
});
