// Wire layouts of docs/wire.md: tokens, packet headers, frames, frame bodies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from '../src/wire/reader.js';
import { Writer } from '../src/wire/writer.js';
import { emitAddress, formatAddress, parseAddress } from '../src/wire/address.js';
import { parseConnectToken } from '../src/wire/connectToken.js';
import { openPacket, parsePacketHeader, sealPacket } from '../src/wire/packet.js';
import { emitFrame, emitFrameHeader, emitVarint, frames, parseVarint } from '../src/wire/frame.js';
import {
  emitAck,
  emitFragment,
  emitMessage,
  emitMessagesHead,
  parseAck,
  parseReliable,
  parseSequenced,
} from '../src/wire/frameBody.js';
import { ACK_FRAME_LEN, FRAGMENT_LEN, MAX_UNRELIABLE_LEN } from '../src/proto/channel/constants.js';
import { bytesFrom, fromHex, hex, seededRandom } from './helpers/bytes.js';
import { KA, kaToken } from './helpers/tokens.js';

function emitted(f: (w: Writer) => void, size = 64): Uint8Array {
  const w = new Writer(new Uint8Array(size));
  f(w);
  assert.equal(w.error, undefined);
  return w.written().slice();
}

test('address records: IPv4 is 7 bytes, IPv6 groups little-endian, bad type refused', () => {
  const v4 = emitted((w) => assert.ok(emitAddress({ family: 4, octets: [127, 0, 0, 1], port: 40000 }, w).ok));
  assert.equal(hex(v4), '017f000001409c');
  const v6 = emitted((w) => assert.ok(emitAddress({ family: 6, groups: [0, 0, 0, 0, 0, 0, 0, 1], port: 50000 }, w).ok));
  assert.equal(v6.length, 19);
  assert.equal(hex(v6), '02' + '00'.repeat(14) + '0100' + '50c3');
  const parsed = parseAddress(new Reader(v6));
  assert.ok(parsed.ok);
  assert.equal(formatAddress(parsed.value), '[::1]:50000');
  assert.deepEqual(parseAddress(new Reader(fromHex('037f000001409c'))), { ok: false, error: { kind: 'badAddressType', type: 3 } });
  assert.equal(parseAddress(new Reader(v4.subarray(0, 6))).ok, false);
});

test('connect token: bad version, timestamps, address list and length are refused', () => {
  const { bytes } = kaToken();
  const badVersion = bytes.slice();
  badVersion[8] = 0x33; // "NETCODE 1.03"
  assert.deepEqual(parseConnectToken(badVersion), { ok: false, error: { kind: 'badVersion' } });
  const badTimes = bytes.slice();
  badTimes.set(emitted((w) => w.u64(KA.expire + 1n)), 21); // create after expire
  assert.deepEqual(parseConnectToken(badTimes), { ok: false, error: { kind: 'badTimestamps' } });
  for (const count of [0, 33]) {
    const badCount = bytes.slice();
    badCount.set(emitted((w) => w.u32(count)), 1089);
    assert.deepEqual(parseConnectToken(badCount), { ok: false, error: { kind: 'badAddressCount', count } });
  }
  const badType = bytes.slice();
  badType[1093] = 9;
  assert.deepEqual(parseConnectToken(badType), { ok: false, error: { kind: 'badAddressType', type: 9 } });
  assert.deepEqual(parseConnectToken(bytes.subarray(0, 2047)), { ok: false, error: { kind: 'badLength', len: 2047 } });
  // The protocol id is at offset 13, as the relay client reads it.
  assert.equal(hex(bytes.subarray(13, 21)), '8877665544332211');
});

test('packet header: sequence in fewest bytes, n = 0 reads as 0, n > 8 and bad types refused', () => {
  const key = bytesFrom((i) => i + 17);
  const at = (seq: bigint) => {
    const p = sealPacket({ type: 'disconnect' }, seq, 1n, key);
    assert.ok(p.ok);
    return p.value;
  };
  assert.equal(hex(at(0n).subarray(0, 2)), '1600');
  assert.equal(hex(at(0x1234n).subarray(0, 3)), '263412');
  assert.equal(at(0xffff_ffff_ffff_ffffn)[0], 0x86);
  const zeroLen = new Uint8Array(17);
  zeroLen[0] = 0x06;
  const header = parsePacketHeader(zeroLen);
  assert.ok(header.ok);
  assert.equal(header.value.sequence, 0n);
  assert.equal(openPacket(zeroLen, header.value, 1n, key).ok, false, 'a forged n = 0 packet does not open');
  const nine = new Uint8Array(40);
  nine[0] = 0x96;
  assert.deepEqual(parsePacketHeader(nine), { ok: false, error: { kind: 'badSequenceLen', len: 9 } });
  for (const type of [0, 7, 15]) {
    const bad = new Uint8Array(40);
    bad[0] = 0x10 | type;
    assert.deepEqual(parsePacketHeader(bad), { ok: false, error: { kind: 'badPacketType', type } });
  }
  const good = at(5n);
  for (let len = 0; len < good.length; len++) {
    const cut = good.subarray(0, len);
    const h = parsePacketHeader(cut);
    if (h.ok) assert.equal(openPacket(cut, h.value, 1n, key).ok, false, `truncated to ${len}`);
  }
});

test('packet bodies have exact sizes', () => {
  const key = bytesFrom((i) => i);
  const payload = sealPacket({ type: 'payload', bytes: new Uint8Array(8) }, 3n, 1n, key);
  assert.ok(payload.ok);
  // Re-type the packet as a keep-alive: the AAD differs, so it cannot open.
  const retyped = payload.value.slice();
  retyped[0] = ((retyped[0] ?? 0) & 0xf0) | 4;
  const h = parsePacketHeader(retyped);
  assert.ok(h.ok);
  assert.equal(openPacket(retyped, h.value, 1n, key).ok, false);
  assert.equal(sealPacket({ type: 'payload', bytes: new Uint8Array(0) }, 0n, 1n, key).ok, false);
  assert.equal(sealPacket({ type: 'payload', bytes: new Uint8Array(1201) }, 0n, 1n, key).ok, false);
  const largest = sealPacket({ type: 'payload', bytes: new Uint8Array(1200) }, (1n << 64n) - 2n, 1n, key);
  assert.ok(largest.ok);
  assert.equal(largest.value.length, 1225);
});

test('varint: edges, and every value has one encoding', () => {
  for (const [value, bytes] of [
    [0, '00'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
    [16383, 'ff7f'],
  ] as const) {
    assert.equal(hex(emitted((w) => assert.ok(emitVarint(value, w).ok))), bytes);
    assert.deepEqual(parseVarint(new Reader(fromHex(bytes))), { ok: true, value });
  }
  assert.equal(emitVarint(16384, new Writer(new Uint8Array(4))).ok, false);
  assert.deepEqual(parseVarint(new Reader(fromHex('8000'))), { ok: false, error: { kind: 'badVarint' } }, 'two-byte 0');
  assert.deepEqual(parseVarint(new Reader(fromHex('8100'))), { ok: false, error: { kind: 'badVarint' } }, 'two-byte 1');
  assert.deepEqual(parseVarint(new Reader(fromHex('8080'))), { ok: false, error: { kind: 'badVarint' } }, 'top bit');
  assert.deepEqual(parseVarint(new Reader(fromHex('80'))), { ok: false, error: { kind: 'truncated', needed: 1, remaining: 0 } });
  // Exhaustive: every 2-byte input either fails or re-encodes to itself.
  for (let a = 0x80; a < 0x100; a++) {
    for (let b = 0; b < 0x100; b++) {
      const parsed = parseVarint(new Reader(new Uint8Array([a, b])));
      if (parsed.ok) assert.equal(hex(emitted((w) => emitVarint(parsed.value, w))), hex(new Uint8Array([a, b])));
    }
  }
});

test('frames: 3-byte LE channel id, varint length, body; a bad frame stops the run', () => {
  const frame = emitted((w) => assert.ok(emitFrame({ channel: 0xff0001, body: fromHex('0102') }, w).ok));
  assert.equal(hex(frame), '0100ff020102');
  const long = emitted((w) => assert.ok(emitFrameHeader(5, 200, w).ok));
  assert.equal(hex(long), '050000c801');
  const run = new Uint8Array([...frame, ...frame, 0x01, 0x00]);
  const read = [...frames(run)];
  assert.equal(read.length, 3);
  assert.ok(read[0]?.ok && read[1]?.ok);
  assert.equal(read[2]?.ok, false);
});

test('ack frame is 13 bytes: channel 0, length 9, kind 0, largest, bits', () => {
  const ack = emitted((w) => {
    emitFrameHeader(0, 9, w);
    emitAck({ largest: 0x0102_0304, bits: 0xf0f0_0001 }, w);
  });
  assert.equal(ack.length, 13);
  assert.equal(ACK_FRAME_LEN, 13);
  assert.equal(hex(ack), '000000' + '09' + '00' + '04030201' + '0100f0f0');
  assert.deepEqual(parseAck(ack.subarray(4)), { ok: true, value: { largest: 0x0102_0304, bits: 0xf0f0_0001 } });
  assert.deepEqual(parseAck(new Uint8Array(9).fill(9)), { ok: false, error: { kind: 'badFrameKind', value: 9 } });
  assert.deepEqual(parseAck(new Uint8Array(10)), { ok: false, error: { kind: 'badLength', len: 10 } });
  assert.equal(parseAck(new Uint8Array(8)).ok, false);
});

test('reliable head: whole messages with consecutive ids; fragment head with bit 15', () => {
  const run = emitted((w) => {
    emitMessagesHead(0x7ffe, w);
    emitMessage(fromHex('aa'), w);
    emitMessage(new Uint8Array(0), w);
    emitMessage(new Uint8Array(130).fill(1), w);
  }, 200);
  assert.equal(hex(run.subarray(0, 6)), 'fe7f' + '01aa' + '00' + '82');
  const parsed = parseReliable(run);
  assert.ok(parsed.ok && parsed.value.type === 'messages');
  assert.equal(parsed.value.first, 0x7ffe);
  assert.deepEqual(parsed.value.messages.map((m) => m.length), [1, 0, 130]);
  assert.deepEqual(parseReliable(fromHex('0100' + '00')), {
    ok: true,
    value: { type: 'messages', first: 1, messages: [new Uint8Array(0)] },
  });
  assert.equal(parseReliable(fromHex('05')).ok, false, 'head cut');
  assert.equal(parseReliable(fromHex('0500' + '05aa')).ok, false, 'message runs past the body');
  assert.equal(parseReliable(fromHex('0500' + '8000')).ok, false, 'non-canonical message length');

  const fragment = emitted((w) => assert.ok(emitFragment({ id: 3, index: 1, count: 4, data: fromHex('beef') }, w).ok));
  assert.equal(hex(fragment), '0380' + '0100' + '0400' + 'beef');
  assert.deepEqual(parseReliable(fragment), {
    ok: true,
    value: { type: 'fragment', fragment: { id: 3, index: 1, count: 4, data: fromHex('beef') } },
  });
  assert.deepEqual(parseReliable(fromHex('0380' + '0100' + '0100' + 'ff')), {
    ok: false,
    error: { kind: 'badFragment', index: 1, count: 1 },
  });
  assert.deepEqual(parseReliable(fromHex('0380' + '0400' + '0400' + 'ff')), {
    ok: false,
    error: { kind: 'badFragment', index: 4, count: 4 },
  });
  assert.equal(parseReliable(fromHex('0380' + '0000' + '0200')).ok, false, 'no data');
  assert.equal(emitFragment({ id: 0, index: 2, count: 2, data: fromHex('00') }, new Writer(new Uint8Array(16))).ok, false);
});

test('an empty whole-messages body is refused', () => {
  assert.deepEqual(parseReliable(fromHex('0500')), { ok: false, error: { kind: 'truncated', needed: 1, remaining: 0 } });
});

test('sequenced body and the channel sizes', () => {
  assert.deepEqual(parseSequenced(fromHex('0201aabb')), { ok: true, value: { sequence: 0x0102, message: fromHex('aabb') } });
  assert.equal(parseSequenced(fromHex('02')).ok, false);
  assert.equal(FRAGMENT_LEN, 1176);
  assert.equal(MAX_UNRELIABLE_LEN, 1180);
});

test('frame parsing never throws on random bytes', () => {
  const random = seededRandom(7);
  for (let i = 0; i < 3000; i++) {
    const bytes = Uint8Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256));
    for (const f of frames(bytes)) if (f.ok) parseReliable(f.value.body);
    parseReliable(bytes);
    parseAck(bytes);
    parsePacketHeader(bytes);
    parseConnectToken(bytes);
  }
});
