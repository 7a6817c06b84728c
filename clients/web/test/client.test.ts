// The netcode client state machine on a fake clock, against an in-process server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetcodeClient } from '../src/proto/client.js';
import { ClientState } from '../src/proto/clientState.js';
import { ChannelTable } from '../src/proto/channel/table.js';
import { parsePacketHeader } from '../src/wire/packet.js';
import { PacketType } from '../src/wire/prefix.js';
import { FakeServer } from './helpers/fakeServer.js';
import { buildToken, KA, type TokenInputs } from './helpers/tokens.js';
import { seededRandom } from './helpers/bytes.js';

const table = new ChannelTable([
  { id: 1, kind: 'unreliable' },
  { id: 4, kind: 'reliableOrdered' },
]);

function token(overrides: Partial<TokenInputs> = {}): Uint8Array {
  return buildToken({ ...KA, ...overrides }).bytes;
}

function typeOf(datagram: Uint8Array): number {
  return (datagram[0] ?? 0) & 0x0f;
}

/** Runs client and server against each other until `done` or `limitMs`, 1 ms steps; returns the time reached. */
function drive(
  client: NetcodeClient,
  server: FakeServer,
  start: number,
  limitMs: number,
  done: () => boolean,
  options: { loss?: number; seed?: number } = {},
): number {
  const random = seededRandom(options.seed ?? 1);
  const lose = () => random() < (options.loss ?? 0);
  let now = start;
  for (; now < start + limitMs && !done(); now++) {
    client.update(now);
    for (const d of client.pollTransmit(now)) {
      if (lose()) continue;
      for (const reply of server.handle(now, d)) if (!lose()) client.handleDatagram(now, reply);
    }
    for (const d of server.pollTransmit(now)) if (!lose()) client.handleDatagram(now, d);
  }
  return now;
}

test('handshake: request, challenge, response, keep-alive; then connected with index and max clients', () => {
  const client = new NetcodeClient(table);
  const server = new FakeServer(KA.privateKey, KA.protocolId, table, 7, 32);
  client.connect(0, token());
  assert.equal(client.state, ClientState.SendingConnectionRequest);
  client.update(0);
  const [request] = client.pollTransmit(0);
  assert.ok(request);
  assert.equal(request.length, 1078);
  const [challenge] = server.handle(0, request);
  assert.ok(challenge);
  assert.equal(typeOf(challenge), PacketType.Challenge);
  client.handleDatagram(1, challenge);
  assert.equal(client.state, ClientState.SendingConnectionResponse);
  client.update(1);
  const [response] = client.pollTransmit(1);
  assert.ok(response);
  assert.equal(response.length, 1 + 1 + 308 + 16);
  const header = parsePacketHeader(response);
  assert.ok(header.ok);
  assert.equal(header.value.sequence, 1n, 'the request burned sequence 0');
  const [keepAlive] = server.handle(1, response);
  assert.ok(keepAlive);
  client.handleDatagram(2, keepAlive);
  assert.equal(client.state, ClientState.Connected);
  assert.equal(client.clientIndex, 7);
  assert.equal(client.maxClients, 32);
  // Quiet: keep-alives (0, 0) at 10 Hz.
  let keepAlives = 0;
  for (let now = 2; now <= 1002; now++) {
    client.update(now);
    for (const d of client.pollTransmit(now)) {
      assert.equal(d.length, 25 + 1);
      keepAlives += typeOf(d) === PacketType.KeepAlive ? 1 : 0;
      server.handle(now, d);
    }
  }
  // The response went at 1; the first keep-alive 100 ms later, then every 100 ms.
  assert.equal(keepAlives, 10);
  assert.equal(server.seen['keepAlive'], 10);
});

test('requests repeat every 100 ms, then the request times out; a second address is tried first', () => {
  const client = new NetcodeClient(table);
  client.connect(0, token({ timeoutSecs: 2, addresses: KA.addresses.slice(0, 1) }));
  let requests = 0;
  let now = 0;
  for (; now <= 5000 && client.state > 0; now++) {
    client.update(now);
    requests += client.pollTransmit(now).filter((d) => d.length === 1078).length;
  }
  assert.equal(client.state, ClientState.ConnectionRequestTimedOut);
  assert.equal(now - 1, 2001, 'gives up once silent for more than the 2 s timeout');
  assert.equal(requests, 21);

  const two = new NetcodeClient(table);
  two.connect(0, token({ timeoutSecs: 1 }));
  const first = two.serverAddress;
  for (now = 0; now <= 1001; now++) two.update(now);
  assert.equal(two.state, ClientState.SendingConnectionRequest);
  assert.notDeepEqual(two.serverAddress, first);
  for (; now <= 3000 && two.state > 0; now++) two.update(now);
  assert.equal(two.state, ClientState.ConnectionRequestTimedOut);
  assert.equal(now - 1, 2002);
});

test('a token that expires before a server answers ends as ConnectTokenExpired', () => {
  const client = new NetcodeClient(table);
  client.connect(0, token({ expire: KA.create + 1n, timeoutSecs: 10 }));
  let now = 0;
  for (; now < 5000 && client.state > 0; now++) client.update(now);
  assert.equal(client.state, ClientState.ConnectTokenExpired);
  assert.equal(now - 1, 1000);
});

test('an unreadable token, a denied request, and a response timeout', () => {
  const bad = new NetcodeClient(table);
  bad.connect(0, new Uint8Array(2048));
  assert.equal(bad.state, ClientState.InvalidConnectToken);

  const denied = new NetcodeClient(table);
  const server = new FakeServer(KA.privateKey, KA.protocolId, table);
  server.deny = true;
  denied.connect(0, token({ addresses: KA.addresses.slice(0, 1) }));
  drive(denied, server, 0, 100, () => denied.state <= 0);
  assert.equal(denied.state, ClientState.ConnectionDenied);

  // The server answers requests but never the response.
  const silent = new NetcodeClient(table);
  const half = new FakeServer(KA.privateKey, KA.protocolId, table);
  silent.connect(0, token({ timeoutSecs: 1, addresses: KA.addresses.slice(0, 1) }));
  let now = 0;
  for (; now < 5000 && silent.state > 0; now++) {
    silent.update(now);
    for (const d of silent.pollTransmit(now)) {
      if (d.length !== 1078) continue;
      for (const r of half.handle(now, d)) silent.handleDatagram(now, r);
    }
  }
  assert.equal(silent.state, ClientState.ConnectionResponseTimedOut);
});

test('connected: a silent server times the client out; the server disconnect packet ends it', () => {
  const client = new NetcodeClient(table);
  const server = new FakeServer(KA.privateKey, KA.protocolId, table);
  client.connect(0, token({ timeoutSecs: 3 }));
  const t = drive(client, server, 0, 100, () => client.state === ClientState.Connected);
  assert.equal(client.state, ClientState.Connected);
  let now = t;
  for (; now < t + 10_000 && client.state > 0; now++) client.update(now);
  assert.equal(client.state, ClientState.ConnectionTimedOut);
  // Last heard at t - 1 (the keep-alive that connected it); gone once silent for more than 3 s.
  assert.equal(now - 1 - (t - 1), 3001);

  const other = new NetcodeClient(table);
  const server2 = new FakeServer(KA.privateKey, KA.protocolId, table);
  other.connect(0, token());
  drive(other, server2, 0, 100, () => other.state === ClientState.Connected);
  other.handleDatagram(200, server2.seal({ type: 'disconnect' }));
  assert.equal(other.state, ClientState.Disconnected);
});

test('disconnect sends ten redundant disconnect packets the server opens', () => {
  const client = new NetcodeClient(table);
  const server = new FakeServer(KA.privateKey, KA.protocolId, table);
  client.connect(0, token());
  const t = drive(client, server, 0, 100, () => client.state === ClientState.Connected);
  client.disconnect();
  assert.equal(client.state, ClientState.Disconnected);
  const out = client.pollTransmit(t);
  assert.equal(out.length, 10);
  for (const d of out) {
    assert.equal(typeOf(d), PacketType.Disconnect);
    server.handle(t, d);
  }
  assert.equal(server.clientDisconnected, 10);
  assert.deepEqual(client.pollTransmit(t + 1), []);
});

test('replay window: a repeated or too-old packet is refused; authentic new ones pass', () => {
  const client = new NetcodeClient(table);
  const server = new FakeServer(KA.privateKey, KA.protocolId, table);
  client.connect(0, token());
  let now = drive(client, server, 0, 100, () => client.state === ClientState.Connected);
  const channels = server.channels;
  assert.ok(channels);
  channels.send(1, new Uint8Array([42]));
  const [packet] = server.pollTransmit(now);
  assert.ok(packet);
  assert.equal(client.handleDatagram(now, packet), true);
  assert.deepEqual(client.recv()?.bytes, new Uint8Array([42]));
  const dropped = client.counters.datagramsDropped;
  assert.equal(client.handleDatagram(now, packet), false, 'a replay is dropped');
  assert.equal(client.recv(), undefined, 'and delivers nothing');
  assert.equal(client.counters.datagramsDropped, dropped + 1);
  // Jump ahead by 300, then a packet 256 or more behind the newest is refused.
  client.handleDatagram(now, server.sealAt({ type: 'keepAlive', clientIndex: 5, maxClients: 64 }, 400n));
  assert.equal(client.handleDatagram(now, server.sealAt({ type: 'keepAlive', clientIndex: 5, maxClients: 64 }, 144n)), false);
  assert.equal(client.counters.datagramsDropped, dropped + 2);
  const before = client.counters.datagramsDropped;
  client.handleDatagram(now, server.sealAt({ type: 'keepAlive', clientIndex: 5, maxClients: 64 }, 145n));
  assert.equal(client.counters.datagramsDropped, before, '255 behind is still inside the window');
  assert.equal(client.handleDatagram(now, server.sealAt({ type: 'keepAlive', clientIndex: 5, maxClients: 64 }, (1n << 64n) - 1n)), false);
  now += 1;
  assert.equal(client.state, ClientState.Connected);
});

test('hostile datagrams never throw and change nothing', () => {
  const client = new NetcodeClient(table);
  const server = new FakeServer(KA.privateKey, KA.protocolId, table);
  client.connect(0, token());
  drive(client, server, 0, 100, () => client.state === ClientState.Connected);
  const random = seededRandom(3);
  for (let i = 0; i < 5000; i++) {
    const bytes = Uint8Array.from({ length: Math.floor(random() * 80) }, () => Math.floor(random() * 256));
    client.handleDatagram(200, bytes);
  }
  assert.equal(client.state, ClientState.Connected);
  assert.ok(client.counters.datagramsDropped >= 5000);
});

test('full stack at 20% loss both ways: 1000 reliable messages each way exactly once in order, and 100 KiB', () => {
  const client = new NetcodeClient(table);
  const server = new FakeServer(KA.privateKey, KA.protocolId, table);
  client.connect(0, token({ timeoutSecs: 30 }));
  let now = drive(client, server, 0, 5000, () => client.state === ClientState.Connected, { loss: 0.2, seed: 11 });
  assert.equal(client.state, ClientState.Connected);
  const channels = server.channels;
  assert.ok(channels);
  const big = Uint8Array.from({ length: 100 * 1024 }, (_, i) => (i * 7) & 0xff);
  const toServer: number[] = [];
  const toClient: number[] = [];
  let sent = 0;
  let bigAtServer: Uint8Array | undefined;
  let bigAtClient: Uint8Array | undefined;
  now = drive(
    client,
    server,
    now,
    120_000,
    () => {
      for (; sent < 1000; sent++) {
        const m = new Uint8Array([sent & 0xff, sent >> 8]);
        if (!client.send(4, m).ok || !channels.send(4, m).ok) break;
      }
      if (sent === 1000 && bigAtServer === undefined && toServer.length === 1000) {
        assert.ok(client.send(4, big).ok);
        assert.ok(channels.send(4, big).ok);
        bigAtServer = new Uint8Array(0);
      }
      for (let m = channels.recv(); m; m = channels.recv()) {
        if (m.bytes.length === big.length) bigAtServer = m.bytes;
        else toServer.push((m.bytes[0] ?? 0) | ((m.bytes[1] ?? 0) << 8));
      }
      for (let m = client.recv(); m; m = client.recv()) {
        if (m.bytes.length === big.length) bigAtClient = m.bytes;
        else toClient.push((m.bytes[0] ?? 0) | ((m.bytes[1] ?? 0) << 8));
      }
      return bigAtClient !== undefined && (bigAtServer?.length ?? 0) === big.length;
    },
    { loss: 0.2, seed: 12 },
  );
  assert.deepEqual(toServer, [...Array(1000).keys()]);
  assert.deepEqual(toClient, [...Array(1000).keys()]);
  assert.deepEqual(bigAtClient, big);
  assert.deepEqual(bigAtServer, big);
  const stats = client.channelStats();
  assert.ok(stats && stats.resends > 0, 'loss made the client resend');
  assert.equal(client.state, ClientState.Connected);
});
