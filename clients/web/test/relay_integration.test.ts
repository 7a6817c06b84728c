// Two TypeScript clients against the real Rust relay over UDP: match,
// 1,000 reliable messages each way, unreliable ones, a 100 KiB message,
// then one leaves and the other hears of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RelayConnection } from '../src/relay/connection.js';
import { parseConnectToken } from '../src/wire/connectToken.js';
import { formatAddress } from '../src/wire/address.js';
import { ClientState } from '../src/proto/clientState.js';
import type { RelayEvent } from '../src/relay/events.js';
import { startRelay, type RunningRelay } from './helpers/relayProcess.js';
import { UdpTransport } from './helpers/udp.js';
import { Waiter } from './helpers/waiter.js';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const relayBin = process.env['BERTH_RELAY_BIN'] ?? resolve(packageRoot, '../../target/debug/berth-relay');
const required = process.env['BERTH_REQUIRE_RELAY_BIN'] === '1';

const RELIABLE_COUNT = 1000;
const UNRELIABLE_COUNT = 50;
const BIG_LEN = 100 * 1024;
const TAG_RELIABLE = 1;
const TAG_BIG = 2;
const TAG_UNRELIABLE = 3;

interface Player {
  relay: RelayConnection;
  transport: UdpTransport;
  events: RelayEvent[];
  reliable: number[];
  unreliable: Set<number>;
  big: Uint8Array | undefined;
  outOfOrder: string[];
}

function bigMessage(from: number): Uint8Array {
  const bytes = Uint8Array.from({ length: BIG_LEN }, (_, i) => (i * 13 + from * 101) & 0xff);
  bytes[0] = TAG_BIG;
  return bytes;
}

async function getToken(relay: RunningRelay): Promise<Uint8Array> {
  const response = await fetch(relay.tokenUrl, { method: 'POST' });
  assert.equal(response.status, 200, 'POST /token answers 200');
  return new Uint8Array(await response.arrayBuffer());
}

async function player(relay: RunningRelay, waiter: Waiter, matchData: Uint8Array): Promise<Player> {
  const token = await getToken(relay);
  assert.equal(token.length, 2048);
  const parsed = parseConnectToken(token);
  assert.ok(parsed.ok, 'the relay token parses');
  const address = parsed.value.serverAddresses[0];
  assert.ok(address && address.family === 4);
  assert.equal(formatAddress(address), relay.udp, 'the token names the address the relay printed');
  const transport = await UdpTransport.open(address.octets.join('.'), address.port);
  const connection = new RelayConnection(transport);
  const p: Player = {
    relay: connection,
    transport,
    events: [],
    reliable: [],
    unreliable: new Set(),
    big: undefined,
    outOfOrder: [],
  };
  const record = (e: RelayEvent) => {
    p.events.push(e);
    waiter.notify();
  };
  for (const type of ['connected', 'matched', 'playerLeft', 'error', 'disconnected', 'waitingCount'] as const) {
    connection.on(type, record);
  }
  connection.on('connected', () => {
    const asked = connection.requestMatch(2, matchData);
    assert.ok(asked.ok, 'requestMatch queues');
  });
  connection.on('message', (e) => {
    const tag = e.data[0];
    if (tag === TAG_RELIABLE && e.reliable) {
      const n = (e.data[1] ?? 0) | ((e.data[2] ?? 0) << 8);
      if (n !== p.reliable.length) p.outOfOrder.push(`got ${n} at ${p.reliable.length}`);
      p.reliable.push(n);
    } else if (tag === TAG_BIG && e.reliable) {
      p.big = e.data;
    } else if (tag === TAG_UNRELIABLE && !e.reliable) {
      const n = e.data[1] ?? 0;
      assert.equal(p.unreliable.has(n), false, 'an unreliable message arrives at most once');
      p.unreliable.add(n);
    }
    waiter.notify();
  });
  connection.connect(token);
  return p;
}

test('two clients play through the real relay over UDP', { timeout: 90_000 }, async (t) => {
  if (!existsSync(relayBin)) {
    if (required) assert.fail(`BERTH_REQUIRE_RELAY_BIN=1 but no relay binary at ${relayBin}`);
    console.log(`# relay integration skipped: no relay binary at ${relayBin} (set BERTH_RELAY_BIN)`);
    t.skip(`no relay binary at ${relayBin}`);
    return;
  }
  const relay = await startRelay(relayBin);
  const players: Player[] = [];
  try {
    const waiter = new Waiter();
    const matchData = new TextEncoder().encode(`web-it-${process.pid}-${Date.now()}`);
    players.push(await player(relay, waiter, matchData), await player(relay, waiter, matchData));
    const [a, b] = players as [Player, Player];
    const matchedOf = (p: Player) => p.events.find((e) => e.type === 'matched');
    await waiter.until(() => matchedOf(a) !== undefined && matchedOf(b) !== undefined, 15_000, 'both matched');
    const ma = matchedOf(a);
    const mb = matchedOf(b);
    assert.ok(ma?.type === 'matched' && mb?.type === 'matched');
    assert.equal(ma.playerCount, 2);
    assert.equal(mb.playerCount, 2);
    assert.notEqual(ma.playerIdx, mb.playerIdx, 'distinct player indices');
    assert.deepEqual([ma.playerIdx, mb.playerIdx].sort(), [0, 1]);
    assert.equal(ma.randomSeed, mb.randomSeed, 'one seed for the match');
    assert.equal(ma.rejoinSecret.length, 16);
    assert.equal(a.relay.state, ClientState.Connected);

    // 1,000 reliable-ordered messages each way, then 100 KiB, plus unreliable ones.
    for (const [p, peer] of [
      [a, mb.playerIdx],
      [b, ma.playerIdx],
    ] as const) {
      for (let i = 0; i < RELIABLE_COUNT; i++) {
        const m = new Uint8Array(3 + (i % 40));
        m[0] = TAG_RELIABLE;
        m[1] = i & 0xff;
        m[2] = i >> 8;
        const sent = p.relay.sendTo(peer, m, true);
        assert.ok(sent.ok, `reliable ${i}: ${JSON.stringify(sent)}`);
      }
      for (let i = 0; i < UNRELIABLE_COUNT; i++) {
        assert.ok(p.relay.sendTo('allOthers', new Uint8Array([TAG_UNRELIABLE, i, 0, 0]), false).ok);
      }
      assert.ok(p.relay.sendTo(peer, bigMessage(p === a ? ma.playerIdx : mb.playerIdx), true).ok);
    }
    const done = (p: Player) => p.reliable.length === RELIABLE_COUNT && p.big !== undefined;
    await waiter.until(() => done(a) && done(b), 45_000, '1,000 reliable messages and 100 KiB each way');
    for (const [p, from] of [
      [a, mb.playerIdx],
      [b, ma.playerIdx],
    ] as const) {
      assert.deepEqual(p.outOfOrder, []);
      assert.deepEqual(p.reliable, [...Array(RELIABLE_COUNT).keys()], 'exactly once, in order');
      assert.deepEqual(p.big, bigMessage(from), '100 KiB arrived whole');
      assert.ok(p.unreliable.size > 0, 'unreliable messages arrive on loopback');
      assert.ok(p.unreliable.size <= UNRELIABLE_COUNT);
    }
    const stats = a.relay.client.channelStats();
    assert.ok(stats, 'channel stats while connected');
    console.log(`# a: ${JSON.stringify(stats)}\n# b: ${JSON.stringify(b.relay.client.channelStats())}`);

    // One leaves; the other hears of it.
    const leaverIdx = ma.playerIdx;
    a.relay.close();
    await waiter.until(
      () => b.events.some((e) => e.type === 'playerLeft' && e.idx === leaverIdx),
      15_000,
      'playerLeft at the other client',
    );
    const left = b.events.find((e) => e.type === 'playerLeft');
    assert.ok(left?.type === 'playerLeft');
    assert.equal(left.reason, 'disconnected');
    console.log(
      `# relay integration: matched idx ${ma.playerIdx}/${mb.playerIdx}, ` +
        `reliable ${a.reliable.length}/${b.reliable.length} in order, unreliable ${a.unreliable.size}/${b.unreliable.size} of ${UNRELIABLE_COUNT}, ` +
        `100 KiB both ways, datagrams a ${a.transport.counts.sent} out/${a.transport.counts.received} in, ` +
        `b ${b.transport.counts.sent} out/${b.transport.counts.received} in, rtt ${stats.rtt.toFixed(2)} ms, resends ${stats.resends}; ` +
        `playerLeft(${left.idx}, ${left.reason})`,
    );
  } catch (e) {
    console.log(`# relay output:\n${relay.output()}`);
    throw e;
  } finally {
    for (const p of players) p.relay.close();
    await relay.stop();
  }
});
