// Relay messages of docs/wire.md: round trips both ways, and hostile input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  emitClientMessage,
  emitRelayMessage,
  parseClientMessage,
  parseRelayMessage,
  type ClientMessage,
  type RelayMessage,
} from '../src/relay/messages.js';
import { normalizeLobbyCode } from '../src/relay/types.js';
import { bytesFrom, fromHex, hex, seededRandom } from './helpers/bytes.js';

const v4 = { family: 4, octets: [192, 168, 1, 20], port: 5000 } as const;
const v6 = { family: 6, groups: [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], port: 6000 } as const;

const clientMessages: ClientMessage[] = [
  { type: 'requestMatch', info: { playerCount: 2, matchData: fromHex('6475656c') } },
  { type: 'requestMatch', info: { playerCount: 16, matchData: new Uint8Array(256).fill(7) } },
  { type: 'createLobby', info: { playerCount: 4, matchData: new Uint8Array(0) }, public: true },
  { type: 'createLobby', info: { playerCount: 4, matchData: fromHex('01') }, public: false },
  { type: 'joinLobby', code: 'ABC234' },
  { type: 'listLobbies', matchData: fromHex('0102') },
  { type: 'listLobbies', matchData: new Uint8Array(0) },
  { type: 'leaveRoom' },
  { type: 'startMatch' },
  { type: 'sendProxy', target: 3, data: fromHex('deadbeef') },
  { type: 'sendProxy', target: 'allOthers', data: new Uint8Array(0) },
  { type: 'rejoin', secret: bytesFrom((i) => i, 16) },
  { type: 'allowDirect', lan: [v4, v6] },
  { type: 'allowDirect', lan: [] },
  { type: 'sendPair', to: 1, data: fromHex('b701') },
];

const relayMessages: RelayMessage[] = [
  { type: 'accepted' },
  { type: 'waitingCount', count: 3 },
  { type: 'lobbyCreated', code: 'ZZ9922' },
  { type: 'lobbyList', lobbies: [] },
  {
    type: 'lobbyList',
    lobbies: [
      { code: 'ABCDEF', players: 1, playerCount: 4 },
      { code: '234567', players: 3, playerCount: 3 },
    ],
  },
  { type: 'success', randomSeed: 0xfedc_ba98_7654_3210n, playerIdx: 1, playerCount: 2, rejoinSecret: bytesFrom((i) => 200 - i, 16) },
  { type: 'recvProxy', from: 0, data: fromHex('00ff') },
  { type: 'playerLeft', idx: 1, reason: 'left' },
  { type: 'playerLeft', idx: 2, reason: 'disconnected' },
  { type: 'playerLeft', idx: 3, reason: 'tooSlow' },
  { type: 'playerRejoined', idx: 1 },
  { type: 'error', code: 'badRequest' },
  { type: 'error', code: 'full' },
  { type: 'introduce', introduction: { peer: 1, key: bytesFrom((i) => i), delayMs: 40, candidates: [v4, v6] } },
  { type: 'recvPair', from: 1, data: fromHex('b70100000000') },
  { type: 'checkAddress', ticket: bytesFrom((i) => i, 26) },
  { type: 'addressChecked', perDestination: true },
  { type: 'addressChecked', perDestination: false },
];

test('every game-to-relay message round trips: parse(emit(x)) == x and emit(parse(b)) == b', () => {
  for (const m of clientMessages) {
    const bytes = emitClientMessage(m);
    assert.ok(bytes.ok, m.type);
    const parsed = parseClientMessage(bytes.value);
    assert.deepEqual(parsed, { ok: true, value: m });
    const again = emitClientMessage(parsed.ok ? parsed.value : m);
    assert.ok(again.ok);
    assert.deepEqual(again.value, bytes.value);
  }
});

test('every relay-to-game message round trips', () => {
  for (const m of relayMessages) {
    const bytes = emitRelayMessage(m);
    assert.ok(bytes.ok, m.type);
    const parsed = parseRelayMessage(bytes.value);
    assert.deepEqual(parsed, { ok: true, value: m });
    const again = emitRelayMessage(parsed.ok ? parsed.value : m);
    assert.ok(again.ok);
    assert.deepEqual(again.value, bytes.value);
  }
});

test('layouts match docs/wire.md', () => {
  const hexOf = (m: ClientMessage | RelayMessage, relay: boolean) => {
    const bytes = relay ? emitRelayMessage(m as RelayMessage) : emitClientMessage(m as ClientMessage);
    assert.ok(bytes.ok);
    return hex(bytes.value);
  };
  assert.equal(hexOf({ type: 'requestMatch', info: { playerCount: 2, matchData: fromHex('aabb') } }, false), '01' + '02' + '0200' + 'aabb');
  assert.equal(hexOf({ type: 'createLobby', info: { playerCount: 3, matchData: new Uint8Array(0) }, public: true }, false), '02030000' + '01');
  assert.equal(hexOf({ type: 'joinLobby', code: 'ABC234' }, false), '03' + hex(new TextEncoder().encode('ABC234')));
  assert.equal(hexOf({ type: 'sendProxy', target: 'allOthers', data: fromHex('01') }, false), '07ff01');
  assert.equal(hexOf({ type: 'sendProxy', target: 2, data: fromHex('01') }, false), '070201');
  assert.equal(
    hexOf({ type: 'success', randomSeed: 1n, playerIdx: 1, playerCount: 2, rejoinSecret: new Uint8Array(16) }, true),
    '85' + '0100000000000000' + '01' + '02' + '00'.repeat(16),
  );
  assert.equal(hexOf({ type: 'playerLeft', idx: 1, reason: 'tooSlow' }, true), '870102');
  assert.equal(hexOf({ type: 'error', code: 'full' }, true), '890b');
});

test('hostile relay messages are errors, never throws', () => {
  const bad = [
    '', // empty
    '00', // unknown type
    '80',
    '8e',
    '0b',
    '0102', // truncated match info
    '01020101', // match data length 257
    '0102000000', // a byte after the match info
    '02020000' + '02', // public flag 2
    '03' + hex(new TextEncoder().encode('abc234')), // lower case on the wire
    '03' + hex(new TextEncoder().encode('ABC0O1')), // outside the alphabet
    '04' + '00'.repeat(257), // match data over 256
    '0500', // trailing byte
    '08' + '00'.repeat(15), // short secret
    '09' + '05' + '01'.repeat(40), // more than 4 LAN addresses
    '09' + '01' + '037f000001409c', // bad address type
    '07', // proxy without target
  ];
  for (const b of bad) assert.equal(parseClientMessage(fromHex(b)).ok, false, `client ${b}`);
  const badRelay = [
    '',
    '8100', // trailing
    '82',
    '84' + '21', // 33 lobbies
    '84' + '01' + hex(new TextEncoder().encode('ABCDEF')) + '01', // truncated entry
    '85' + '00'.repeat(10), // truncated success
    '8703', // truncated player left
    '870103', // reason 3
    '890c', // error code 12
    '8a01' + '00'.repeat(32) + '0000' + '00', // introduce with no candidates
    '8a01' + '00'.repeat(32) + '0000' + '06', // introduce with 6 candidates
    '8c' + '00'.repeat(25),
    '8d02',
    '86', // recv proxy without sender
  ];
  for (const b of badRelay) assert.equal(parseRelayMessage(fromHex(b)).ok, false, `relay ${b}`);
});

test('every truncation of a fixed-size message fails to parse', () => {
  for (const m of relayMessages) {
    if (m.type === 'recvProxy' || m.type === 'recvPair') continue; // data is "the rest"
    const bytes = emitRelayMessage(m);
    assert.ok(bytes.ok);
    for (let len = 0; len < bytes.value.length; len++) {
      assert.equal(parseRelayMessage(bytes.value.subarray(0, len)).ok, false, `${m.type} cut to ${len}`);
    }
  }
  for (const m of clientMessages) {
    if (m.type === 'sendProxy' || m.type === 'sendPair' || m.type === 'listLobbies') continue;
    const bytes = emitClientMessage(m);
    assert.ok(bytes.ok);
    for (let len = 0; len < bytes.value.length; len++) {
      assert.equal(parseClientMessage(bytes.value.subarray(0, len)).ok, false, `${m.type} cut to ${len}`);
    }
  }
});

test('random bytes: parse never throws, and what parses emits back to the same bytes', () => {
  const random = seededRandom(42);
  let parsedCount = 0;
  for (let i = 0; i < 20000; i++) {
    const len = Math.floor(random() * 48);
    const bytes = Uint8Array.from({ length: len }, () => Math.floor(random() * 256));
    if (len > 0) bytes[0] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0x81, 0x82, 0x84, 0x85, 0x87, 0x89, 0x8a, 0x8d][i % 18] ?? 0;
    for (const [parse, emit] of [
      [parseClientMessage, emitClientMessage],
      [parseRelayMessage, emitRelayMessage],
    ] as const) {
      const parsed = parse(bytes);
      if (!parsed.ok) continue;
      parsedCount++;
      const again = (emit as (m: unknown) => ReturnType<typeof emitClientMessage>)(parsed.value);
      assert.ok(again.ok);
      assert.equal(hex(again.value), hex(bytes));
    }
  }
  assert.ok(parsedCount > 1000, `only ${parsedCount} random inputs parsed`);
});

test('emit refuses values with no encoding', () => {
  assert.equal(emitClientMessage({ type: 'sendProxy', target: 255, data: new Uint8Array(0) }).ok, false);
  assert.equal(emitClientMessage({ type: 'sendProxy', target: 256, data: new Uint8Array(0) }).ok, false);
  assert.equal(emitClientMessage({ type: 'joinLobby', code: 'abc234' }).ok, false);
  assert.equal(emitClientMessage({ type: 'requestMatch', info: { playerCount: 2, matchData: new Uint8Array(257) } }).ok, false);
  assert.equal(emitClientMessage({ type: 'rejoin', secret: new Uint8Array(15) }).ok, false);
  assert.equal(emitClientMessage({ type: 'allowDirect', lan: [v4, v4, v4, v4, v4] }).ok, false);
  assert.equal(normalizeLobbyCode('abc234'), 'ABC234');
  assert.equal(normalizeLobbyCode('abc23'), undefined);
  assert.equal(normalizeLobbyCode('abc23l'), undefined);
});
