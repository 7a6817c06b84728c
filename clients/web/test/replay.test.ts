// The 256-entry replay window on u64 sequences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayWindow } from '../src/proto/replay.js';

test('replay window: duplicates and sequences 256 or more behind are refused; u64 max always', () => {
  const w = new ReplayWindow();
  assert.equal(w.isReplay(0n), false);
  w.advance(0n);
  assert.equal(w.isReplay(0n), true);
  assert.equal(w.isReplay((1n << 64n) - 1n), true);
  w.advance(1000n);
  assert.equal(w.isReplay(1000n), true);
  assert.equal(w.isReplay(744n), true, '256 behind');
  assert.equal(w.isReplay(745n), false, '255 behind');
  w.advance(745n);
  assert.equal(w.isReplay(745n), true);
  assert.equal(w.isReplay(999n), false);
  // A big jump clears the bitmap; sequences near 2^64 work without overflow.
  const high = (1n << 64n) - 3n;
  w.advance(high);
  assert.equal(w.isReplay(high), true);
  assert.equal(w.isReplay(high - 1n), false);
  assert.equal(w.isReplay(high + 1n), false);
  assert.equal(w.isReplay(1000n), true, 'far behind');
  // Only advance moves the window: checking does not.
  const fresh = new ReplayWindow();
  assert.equal(fresh.isReplay(5000n), false);
  assert.equal(fresh.isReplay(1n), false);
});
