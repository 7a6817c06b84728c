// Channels between two in-process endpoints on a fake clock: layouts,
// resends under loss, fragmentation, acks, and refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Connection } from '../src/proto/channel/connection.js';
import { ChannelTable } from '../src/proto/channel/table.js';
import { FRAGMENT_LEN, MAX_UNRELIABLE_LEN } from '../src/proto/channel/constants.js';
import { Writer } from '../src/wire/writer.js';
import { emitFrameHeader } from '../src/wire/frame.js';
import { emitAck, emitFragment, emitMessage, emitMessagesHead } from '../src/wire/frameBody.js';
import { fromHex, hex, seededRandom } from './helpers/bytes.js';

const RELIABLE = 4;
const UNORDERED = 3;
const UNRELIABLE = 1;
const SEQUENCED = 2;
const table = new ChannelTable([
  { id: UNRELIABLE, kind: 'unreliable' },
  { id: SEQUENCED, kind: 'unreliableSequenced' },
  { id: UNORDERED, kind: 'reliableUnordered' },
  { id: RELIABLE, kind: 'reliableOrdered' },
]);

/** Two endpoints with a lossy, delaying, reordering link, on a fake clock. */
class Link {
  readonly a = new Connection(table);
  readonly b = new Connection(table);
  private numbers = [0, 0];
  private inFlight: { at: number; to: 0 | 1; number: number; payload: Uint8Array }[] = [];
  now = 0;
  packets = 0;
  private readonly random: () => number;

  constructor(
    private readonly loss: number,
    private readonly latencyMs: number,
    seed: number,
    private readonly jitterMs = 3,
  ) {
    this.random = seededRandom(seed);
  }

  step(): void {
    const sides = [this.a, this.b] as const;
    sides.forEach((side, i) => {
      for (let n = 0; n < 64 && side.wantsToSend(this.now); n++) {
        const number = this.numbers[i] ?? 0;
        const payload = side.writePacket(this.now, number);
        if (payload === undefined) break;
        assert.ok(payload.length <= 1200);
        this.numbers[i] = number + 1;
        this.packets++;
        if (this.random() < this.loss) continue;
        const jitter = Math.floor(this.random() * this.jitterMs);
        this.inFlight.push({ at: this.now + this.latencyMs + jitter, to: i === 0 ? 1 : 0, number, payload });
      }
    });
    const due = this.inFlight.filter((p) => p.at <= this.now);
    this.inFlight = this.inFlight.filter((p) => p.at > this.now);
    for (const p of due) {
      const read = sides[p.to].readPacket(this.now, p.number, p.payload);
      assert.ok(read.ok, JSON.stringify(read));
    }
    this.now += 1;
  }

  runUntil(done: () => boolean, limitMs: number): void {
    const end = this.now + limitMs;
    while (!done()) {
      assert.ok(this.now < end, `not done within ${limitMs} ms`);
      this.step();
    }
  }
}

function drain(c: Connection, channel: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let m = c.recv(); m; m = c.recv()) if (m.channel === channel) out.push(m.bytes);
  return out;
}

test('the first packet is exact: a reliable run head and messages, no ack before anything arrived', () => {
  const a = new Connection(table);
  assert.ok(a.send(RELIABLE, fromHex('6869')).ok);
  assert.ok(a.send(RELIABLE, fromHex('21')).ok);
  assert.ok(a.send(UNRELIABLE, fromHex('aa')).ok);
  const packet = a.writePacket(0, 0);
  assert.ok(packet);
  assert.equal(hex(packet), '010000' + '01' + 'aa' + '040000' + '07' + '0000' + '026869' + '0121');
  const b = new Connection(table);
  assert.ok(b.readPacket(0, 0, packet).ok);
  const reply = b.writePacket(5, 0);
  assert.ok(reply, 'an ack is owed and due after 5 ms');
  assert.equal(hex(reply), '000000' + '09' + '00' + '00000000' + '00000000');
});

test('ack within 5 ms: an owed ack waits for data to ride on, then goes alone', () => {
  const a = new Connection(table);
  const b = new Connection(table);
  a.send(RELIABLE, fromHex('01'));
  const p = a.writePacket(100, 0);
  assert.ok(p);
  b.readPacket(100, 0, p);
  assert.equal(b.wantsToSend(100), false);
  assert.equal(b.wantsToSend(104), false);
  assert.equal(b.pollTimeout(), 105);
  assert.equal(b.wantsToSend(105), true);
  // Data queued before the deadline carries the ack at once, ack first.
  b.send(UNRELIABLE, fromHex('02'));
  const withData = b.writePacket(102, 0);
  assert.ok(withData);
  assert.equal(hex(withData.subarray(0, 13)), '0000000900' + '00000000' + '00000000');
  assert.equal(b.wantsToSend(200), false, 'acked: nothing owed');
  assert.ok(a.readPacket(103, 0, withData).ok);
  assert.equal(a.isIdle(), true, 'the ack released the message');
  // Unreliable data owes no ack.
  a.send(UNRELIABLE, fromHex('03'));
  const u = a.writePacket(110, 1);
  assert.ok(u);
  b.readPacket(110, 1, u);
  assert.equal(b.wantsToSend(500), false);
});

test('a reliable message is resent after the timeout when its packet is lost', () => {
  const a = new Connection(table);
  const b = new Connection(table);
  a.send(RELIABLE, fromHex('07'));
  assert.ok(a.writePacket(0, 0)); // lost
  assert.equal(a.wantsToSend(199), false);
  assert.equal(a.pollTimeout(), 200, 'initial resend timeout 200 ms');
  const again = a.writePacket(200, 1);
  assert.ok(again);
  b.readPacket(200, 1, again);
  assert.deepEqual(drain(b, RELIABLE), [fromHex('07')]);
  assert.equal(a.stats().resends, 1);
});

test('reliable-ordered at 20% loss: 3000 messages each way, exactly once, in order', () => {
  const link = new Link(0.2, 10, 99);
  const got: [number[], number[]] = [[], []];
  let sent = 0;
  link.runUntil(() => {
    while (sent < 3000) {
      const m = new Uint8Array([sent & 0xff, sent >> 8, 0xab]);
      if (!link.a.send(RELIABLE, m).ok) break;
      assert.ok(link.b.send(RELIABLE, m).ok);
      sent++;
    }
    for (const m of drain(link.b, RELIABLE)) got[0].push((m[0] ?? 0) | ((m[1] ?? 0) << 8));
    for (const m of drain(link.a, RELIABLE)) got[1].push((m[0] ?? 0) | ((m[1] ?? 0) << 8));
    return got[0].length >= 3000 && got[1].length >= 3000;
  }, 600_000);
  const expected = [...Array(3000).keys()];
  assert.deepEqual(got[0], expected);
  assert.deepEqual(got[1], expected);
  assert.ok(link.a.stats().resends > 0);
  // Nothing more arrives later: exactly once.
  for (let i = 0; i < 3000; i++) link.step();
  assert.equal(drain(link.b, RELIABLE).length, 0);
  assert.equal(drain(link.a, RELIABLE).length, 0);
  assert.ok(link.a.isIdle() && link.b.isIdle());
});

test('a 100 KiB message crosses in fragments at 20% loss, beside small ones, in order', () => {
  const link = new Link(0.2, 5, 5);
  const big = Uint8Array.from({ length: 100 * 1024 }, (_, i) => (i * 31 + 7) & 0xff);
  link.a.send(RELIABLE, fromHex('01'));
  link.a.send(RELIABLE, big);
  link.a.send(RELIABLE, fromHex('02'));
  const got: Uint8Array[] = [];
  link.runUntil(() => {
    got.push(...drain(link.b, RELIABLE));
    return got.length === 3;
  }, 120_000);
  assert.deepEqual(got[0], fromHex('01'));
  assert.deepEqual(got[1], big);
  assert.deepEqual(got[2], fromHex('02'));
  assert.equal(Math.ceil(big.length / FRAGMENT_LEN), 88);
});

test('a burst longer than one ack reaches is acked whole: no resends on a clean link', () => {
  // 88 fragments written 64 a millisecond: more than the 33 packets one ack
  // reaches arrive between two acks; older acks ride before the newest.
  // (No jitter: a packet overtaken by 33 others is beyond any ack's reach.)
  const link = new Link(0, 5, 9, 0);
  link.a.send(RELIABLE, new Uint8Array(100 * 1024).fill(7));
  const got: Uint8Array[] = [];
  link.runUntil(() => {
    got.push(...drain(link.b, RELIABLE));
    return got.length === 1 && link.a.stats().packetsAcked === 88;
  }, 10_000);
  const stats = link.a.stats();
  assert.equal(stats.packetsSent, 88);
  assert.equal(stats.resends, 0);
  assert.equal(stats.packetsLost, 0);
});

test('unordered, unreliable and sequenced deliveries', () => {
  const link = new Link(0.2, 3, 8);
  const ids = new Set<number>();
  for (let i = 0; i < 500; i++) link.a.send(UNORDERED, new Uint8Array([i & 0xff, i >> 8]));
  link.runUntil(() => {
    for (const m of drain(link.b, UNORDERED)) {
      const id = (m[0] ?? 0) | ((m[1] ?? 0) << 8);
      assert.equal(ids.has(id), false, 'exactly once');
      ids.add(id);
    }
    return ids.size === 500;
  }, 60_000);

  const a = new Connection(table);
  const b = new Connection(table);
  assert.equal(a.send(UNRELIABLE, new Uint8Array(MAX_UNRELIABLE_LEN + 1)).ok, false);
  assert.ok(a.send(UNRELIABLE, new Uint8Array(MAX_UNRELIABLE_LEN)).ok);
  const full = a.writePacket(0, 0);
  assert.ok(full && full.length === 1185);
  for (let i = 0; i < 3; i++) a.send(SEQUENCED, new Uint8Array([i]));
  const seqPacket = a.writePacket(1, 1);
  assert.ok(seqPacket);
  b.readPacket(1, 1, seqPacket);
  assert.deepEqual(drain(b, SEQUENCED), [new Uint8Array([0]), new Uint8Array([1]), new Uint8Array([2])]);
  // An older sequenced message after a newer one is dropped.
  const stale = new Writer(new Uint8Array(16));
  emitFrameHeader(SEQUENCED, 3, stale);
  stale.u16(1);
  stale.u8(9);
  assert.ok(b.readPacket(2, 2, stale.written()).ok);
  assert.deepEqual(drain(b, SEQUENCED), []);
});

test('refusals: unknown channel, ack of unsent, out of window, bad fragments; refused packets are not acked', () => {
  const frame = (channel: number, body: (w: Writer) => void): Uint8Array => {
    const inner = new Writer(new Uint8Array(1300));
    body(inner);
    const w = new Writer(new Uint8Array(1300));
    emitFrameHeader(channel, inner.length, w);
    w.bytes(inner.written());
    return w.written().slice();
  };
  const b = new Connection(table);
  assert.deepEqual(b.readPacket(0, 0, frame(77, (w) => w.u8(1))), { ok: false, error: { kind: 'unknownChannel', channel: 77 } });
  assert.equal(b.wantsToSend(100), false, 'a refused packet is not acked');
  assert.deepEqual(
    b.readPacket(0, 1, frame(0, (w) => emitAck({ largest: 0, bits: 0 }, w))),
    { ok: false, error: { kind: 'ackOfUnsent' } },
  );
  assert.deepEqual(
    b.readPacket(0, 2, frame(RELIABLE, (w) => {
      emitMessagesHead(4096, w);
      emitMessage(fromHex('00'), w);
    })),
    { ok: false, error: { kind: 'outOfWindow' } },
  );
  // An id in the half behind is a late copy: ignored, and the packet is fine.
  assert.ok(b.readPacket(0, 3, frame(RELIABLE, (w) => {
    emitMessagesHead(0x7fff, w);
    emitMessage(fromHex('00'), w);
  })).ok);
  assert.equal(drain(b, RELIABLE).length, 0);
  // Fragment count over what 256 KiB needs (223).
  assert.deepEqual(
    b.readPacket(0, 4, frame(RELIABLE, (w) => emitFragment({ id: 0, index: 0, count: 224, data: new Uint8Array(FRAGMENT_LEN) }, w))),
    { ok: false, error: { kind: 'badFragment' } },
  );
  // A short fragment other than the last.
  assert.deepEqual(
    b.readPacket(0, 5, frame(RELIABLE, (w) => emitFragment({ id: 0, index: 0, count: 3, data: new Uint8Array(10) }, w))),
    { ok: false, error: { kind: 'badFragment' } },
  );
  // A count that changes between fragments of one message.
  assert.ok(b.readPacket(0, 6, frame(RELIABLE, (w) => emitFragment({ id: 1, index: 0, count: 3, data: new Uint8Array(FRAGMENT_LEN) }, w))).ok);
  assert.deepEqual(
    b.readPacket(0, 7, frame(RELIABLE, (w) => emitFragment({ id: 1, index: 1, count: 4, data: new Uint8Array(FRAGMENT_LEN) }, w))),
    { ok: false, error: { kind: 'badFragment' } },
  );
  // Frames before a bad one are taken.
  const twoFrames = new Uint8Array([...frame(UNRELIABLE, (w) => w.u8(5)), 0x63, 0, 0, 1, 0]);
  assert.equal(b.readPacket(0, 8, twoFrames).ok, false);
  assert.deepEqual(drain(b, UNRELIABLE), [new Uint8Array([5])]);
});

test('send limits: the 4096-id window and the 1 MiB budget', () => {
  const a = new Connection(table);
  for (let i = 0; i < 4096; i++) assert.ok(a.send(RELIABLE, fromHex('00')).ok);
  assert.equal(a.send(RELIABLE, fromHex('00')).ok, false);
  const small = new Connection(new ChannelTable([{ id: 4, kind: 'reliableOrdered' }], 256 * 1024, 300 * 1024));
  assert.ok(small.send(4, new Uint8Array(256 * 1024)).ok);
  const over = small.send(4, new Uint8Array(50 * 1024));
  assert.deepEqual(over, { ok: false, error: { kind: 'queueFull', queued: 256 * 1024, budget: 300 * 1024 } });
  assert.deepEqual(small.send(4, new Uint8Array(256 * 1024 + 1)), {
    ok: false,
    error: { kind: 'badLength', len: 256 * 1024 + 1, max: 256 * 1024 },
  });
  assert.deepEqual(small.send(9, new Uint8Array(1)), { ok: false, error: { kind: 'unknownChannel', channel: 9 } });
});

test('reliable ids wrap past 2^15', () => {
  const link = new Link(0.1, 2, 21);
  let sent = 0;
  let got = 0;
  link.runUntil(() => {
    while (sent < 40000 && link.a.send(RELIABLE, new Uint8Array([sent & 0xff])).ok) sent++;
    for (const m of drain(link.b, RELIABLE)) {
      assert.equal(m[0], got & 0xff);
      got++;
    }
    return got === 40000;
  }, 600_000);
});
