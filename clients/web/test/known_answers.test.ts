// The netcode 1.02 known-answer vectors of tests/known_answers.rs, reproduced
// byte for byte: same inputs, same outputs (large ones by SHA-256).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emitPrivatePlain, openPrivateToken } from '../src/wire/privateToken.js';
import { parseConnectToken } from '../src/wire/connectToken.js';
import { emitChallengePlain, openChallengeToken, sealChallengeToken } from '../src/wire/challengeToken.js';
import { emitRequest, openPacket, parsePacketHeader, parseRequest, sealPacket, type Body } from '../src/wire/packet.js';
import { REQUEST_LEN } from '../src/wire/constants.js';
import { bytesFrom, hex, sha256Hex } from './helpers/bytes.js';
import { KA, kaToken } from './helpers/tokens.js';

const packetKey = bytesFrom((i) => i + 17);
const challengeKey = bytesFrom((i) => 2 * i);

function privateToken() {
  const { token } = kaToken();
  const opened = openPrivateToken(token.privateToken, KA.privateKey, KA.protocolId, KA.expire, token.nonce);
  assert.ok(opened.ok, 'the private token opens');
  return opened.value;
}

test('private token plaintext', () => {
  const plain = emitPrivatePlain(privateToken());
  assert.ok(plain.ok);
  const head =
    '0807060504030201' + '0f000000' + '02000000' + '017f000001409c' + '02' + '00'.repeat(14) + '0100';
  assert.equal(hex(plain.value.subarray(0, 40)), head);
  // The Rust vector hashes the full 1024-byte buffer: plaintext, then a zeroed tag.
  const full = new Uint8Array(1024);
  full.set(plain.value);
  assert.equal(sha256Hex(full), '7b1896a06c8dd0688fece1cfdcfe06c21871d429ef9dee2070ae40e9f8e534bc');
});

test('private token encrypted', () => {
  assert.equal(sha256Hex(kaToken().token.privateToken), '3fc190a87b816c4340e0894a16d5b0d9c55507bab095d77da9c07daf7e3bf98a');
});

test('private token opens to the inputs', () => {
  const p = privateToken();
  assert.equal(p.clientId, KA.clientId);
  assert.equal(p.timeoutSecs, 15);
  assert.deepEqual(p.userData, KA.userData);
  assert.deepEqual(p.clientToServerKey, KA.c2sKey);
  assert.deepEqual(p.serverToClientKey, KA.s2cKey);
  assert.deepEqual(p.serverAddresses, KA.addresses);
  const { token } = kaToken();
  const wrongExpire = openPrivateToken(token.privateToken, KA.privateKey, KA.protocolId, KA.expire + 1n, token.nonce);
  assert.deepEqual(wrongExpire, { ok: false, error: { kind: 'crypto' } });
});

test('connect token public part', () => {
  const { bytes, token } = kaToken();
  assert.equal(sha256Hex(bytes), '12cd58f0e2d17b002b629359f207018eac54e8cff2064382e600df738cfd4410');
  const parsed = parseConnectToken(bytes);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value, token);
});

function challengeTokenSealed(): Uint8Array {
  const sealed = sealChallengeToken({ clientId: KA.clientId, userData: KA.userData }, challengeKey, KA.challengeSequence);
  assert.ok(sealed.ok);
  return sealed.value;
}

test('challenge token', () => {
  const sealed = challengeTokenSealed();
  assert.equal(sha256Hex(sealed), '33c5560aaed4192fc714fbba4910c38f235a4298f9121901c0d47549cc0a62e0');
  const opened = openChallengeToken(sealed, challengeKey, KA.challengeSequence);
  assert.ok(opened.ok);
  assert.equal(opened.value.clientId, KA.clientId);
  assert.equal(openChallengeToken(sealed, challengeKey, KA.challengeSequence + 1n).ok, false);
});

test('challenge token plaintext', () => {
  const plain = emitChallengePlain({ clientId: KA.clientId, userData: KA.userData });
  assert.ok(plain.ok);
  const full = new Uint8Array(300);
  full.set(plain.value);
  assert.equal(sha256Hex(full), '15f0bdb63e28418bc44904ffffc5e244fca2295ff62af9257dac6f3b89ecedb9');
});

test('request packet', () => {
  const { token } = kaToken();
  const request = emitRequest(token);
  assert.ok(request.ok);
  assert.equal(request.value.length, REQUEST_LEN);
  assert.equal(request.value.length, 1078);
  assert.equal(sha256Hex(request.value), 'fc7d9221a4b2d74dfaa7accd870730d434caa2315724cce1141c91ad47969968');
  const parsed = parseRequest(request.value);
  assert.ok(parsed.ok);
  assert.equal(parsed.value.protocolId, token.protocolId);
  assert.equal(parsed.value.expireUnixSecs, token.expireUnixSecs);
  assert.deepEqual(parsed.value.nonce, token.nonce);
  assert.deepEqual(parsed.value.privateToken, token.privateToken);
});

/** Seals `body` with the vector's key and sequence, checks the bytes, and opens them again. */
function checkPacket(body: Body, sequence: bigint, expected: string, byHash: boolean): void {
  const sealed = sealPacket(body, sequence, KA.protocolId, packetKey);
  assert.ok(sealed.ok);
  assert.equal(byHash ? sha256Hex(sealed.value) : hex(sealed.value), expected, body.type);
  const header = parsePacketHeader(sealed.value);
  assert.ok(header.ok);
  assert.equal(header.value.sequence, sequence);
  const opened = openPacket(sealed.value, header.value, KA.protocolId, packetKey);
  assert.ok(opened.ok);
  assert.deepEqual(opened.value, body);
}

test('challenge and response packets', () => {
  const token = challengeTokenSealed();
  checkPacket(
    { type: 'challenge', challengeSequence: KA.challengeSequence, token },
    KA.packetSequence,
    '22fc408d3ab1e8655d9edf9dd9bdad69b06978ff85323a564c0563fc7dfbf6a7',
    true,
  );
  checkPacket(
    { type: 'response', challengeSequence: KA.challengeSequence, token },
    KA.packetSequence,
    'd7f8965bb2961ae0c355f50ecedc13347575d38832668b6e4b7c5f6ae49973e9',
    true,
  );
});

test('payload packet', () => {
  const payload = Uint8Array.from({ length: 1200 }, (_, i) => i & 0xff);
  checkPacket(
    { type: 'payload', bytes: payload },
    KA.packetSequence,
    'e991282ba33dae3d19f4a9ecd0577f876a8175cf399180af5e3b21a33a4c6377',
    true,
  );
});

test('small packets in full', () => {
  const keepAlive: Body = { type: 'keepAlive', clientIndex: 7, maxClients: 32 };
  checkPacket({ type: 'denied' }, KA.packetSequence, '5155443322117d50da833982dbfec854b412fc8a5c84', false);
  checkPacket(keepAlive, KA.packetSequence, '54554433221102a85bb8a396ae350caaae147506e5acae951f983789c832', false);
  checkPacket({ type: 'disconnect' }, KA.packetSequence, '5655443322111d1a23ccf0be58180af3daa88fd65225', false);
  checkPacket(keepAlive, 0n, '1400c428d0e1fe023391b7a8bcaafef790c18aa53ab82046e0cf', false);
  checkPacket(keepAlive, 1n << 63n, '840000000000000080ccecf6f1f4c471159827e560dad6dd8b56a0a7372817661c', false);
});

test('a packet from another protocol fails authentication', () => {
  const sealed = sealPacket({ type: 'disconnect' }, 5n, KA.protocolId, packetKey);
  assert.ok(sealed.ok);
  const header = parsePacketHeader(sealed.value);
  assert.ok(header.ok);
  assert.deepEqual(openPacket(sealed.value, header.value, KA.protocolId ^ 1n, packetKey), {
    ok: false,
    error: { kind: 'crypto' },
  });
});
