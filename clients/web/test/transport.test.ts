// Transports and drivers: the WebTransport adapter on a fake session, the
// token endpoint's JSON, and a RelayConnection on a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebTransportDatagrams, type WebTransportLike } from '../src/transport/webTransport.js';
import { fetchWebTransportToken, parseTicket } from '../src/transport/tokenFetch.js';
import { decodeBase64, encodeBase64 } from '../src/util/base64.js';
import { RelayConnection } from '../src/relay/connection.js';
import { relayChannelTable } from '../src/relay/client.js';
import { emitRelayMessage, parseClientMessage } from '../src/relay/messages.js';
import { RELAY_CONTROL_CHANNEL, RELAY_UNRELIABLE_CHANNEL } from '../src/relay/types.js';
import { ClientState } from '../src/proto/clientState.js';
import type { DatagramTransport } from '../src/transport/datagramTransport.js';
import type { RelayEvent } from '../src/relay/events.js';
import { FakeServer } from './helpers/fakeServer.js';
import { ManualClock } from './helpers/manualClock.js';
import { buildToken, KA } from './helpers/tokens.js';
import { bytesFrom } from './helpers/bytes.js';

test('base64: standard alphabet with padding, strict', () => {
  for (const len of [0, 1, 2, 3, 4, 32, 2048]) {
    const bytes = bytesFrom((i) => i * 13 + len, len);
    const text = encodeBase64(bytes);
    assert.equal(text, Buffer.from(bytes).toString('base64'));
    assert.deepEqual(decodeBase64(text), bytes);
  }
  for (const bad of ['A', 'AB=', 'AB=C', '====', 'AA-_', 'AB==', 'AAB=', 'QQ==QQ==', 'QQ']) {
    assert.equal(decodeBase64(bad), undefined, bad);
  }
  assert.deepEqual(decodeBase64('QQ=='), new Uint8Array([0x41]));
});

class FakeSession implements WebTransportLike {
  readonly sent: Uint8Array[] = [];
  /** Called with each datagram the adapter writes, once written. */
  onWrite: ((d: Uint8Array) => void) | undefined;
  private push: ((d: Uint8Array) => void) | undefined;
  private closeReadable: (() => void) | undefined;
  private resolveClosed: ((info?: unknown) => void) | undefined;
  readonly ready = Promise.resolve();
  readonly closed = new Promise<unknown>((resolve) => (this.resolveClosed = resolve));
  readonly datagrams = {
    readable: new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.push = (d) => controller.enqueue(d);
        this.closeReadable = () => controller.close();
      },
    }),
    writable: new WritableStream<Uint8Array>({
      write: (d) => {
        this.sent.push(d);
        this.onWrite?.(d);
      },
    }),
    maxDatagramSize: 1232,
  };
  constructor(
    readonly url: string,
    readonly options: WebTransportOptions,
  ) {}
  deliver(d: Uint8Array): void {
    this.push?.(d);
  }
  close(): void {
    this.closeReadable?.();
    this.resolveClosed?.();
  }
  /** The server's close, as a browser sees it: the datagram stream ends, then `closed` resolves with the code and reason. */
  closeFromServer(closeCode: number, reason: string): void {
    this.closeReadable?.();
    setTimeout(() => this.resolveClosed?.({ closeCode, reason }), 5);
  }
}

test('WebTransportDatagrams: certificate hashes, send, receive, close', async () => {
  let session: FakeSession | undefined;
  const hash = bytesFrom((i) => i);
  const transport = await WebTransportDatagrams.open('https://127.0.0.1:4433', [hash], (url, options) => {
    session = new FakeSession(url, options);
    return session;
  });
  assert.ok(session);
  assert.equal(session.url, 'https://127.0.0.1:4433');
  const hashes = session.options.serverCertificateHashes ?? [];
  assert.equal(hashes.length, 1);
  assert.equal(hashes[0]?.algorithm, 'sha-256');
  assert.deepEqual(hashes[0]?.value, hash);
  assert.equal(transport.maxDatagramSize, 1232);
  const received: Uint8Array[] = [];
  let resolveGot: () => void = () => undefined;
  const got = new Promise<void>((r) => (resolveGot = r));
  transport.onDatagram((d) => {
    received.push(d);
    if (received.length === 2) resolveGot();
  });
  session.deliver(new Uint8Array([1]));
  session.deliver(new Uint8Array([2, 3]));
  await got;
  assert.deepEqual(received, [new Uint8Array([1]), new Uint8Array([2, 3])]);
  const written = new Promise<Uint8Array>((resolve) => {
    if (session !== undefined) session.onWrite = resolve;
  });
  transport.send(new Uint8Array([9, 9]));
  assert.deepEqual(await written, new Uint8Array([9, 9]));
  assert.deepEqual(session.sent, [new Uint8Array([9, 9])]);
  const reason = new Promise<string>((resolve) => transport.onClose(resolve));
  session.close();
  assert.match(await reason, /closed|ended/);
  transport.send(new Uint8Array([1])); // after close: dropped, no throw
  assert.equal(session.sent.length, 1);
});

test("WebTransportDatagrams: the server's close code and reason reach the game, though the stream ends first", async () => {
  let session: FakeSession | undefined;
  const transport = await WebTransportDatagrams.open('https://127.0.0.1:4433', [], (url, options) => {
    session = new FakeSession(url, options);
    return session;
  });
  assert.ok(session);
  const reason = new Promise<string>((resolve) => transport.onClose(resolve));
  session.closeFromServer(2, 'idle');
  assert.equal(await reason, 'closed by the server: idle (code 2)');
  assert.equal(transport.closeReason, 'closed by the server: idle (code 2)');
});

test('WebTransportDatagrams.open rejects when the session fails', async () => {
  await assert.rejects(
    WebTransportDatagrams.open('https://x', [], () => ({
      ready: Promise.reject(new Error('handshake failed')),
      closed: new Promise(() => undefined),
      datagrams: { readable: new ReadableStream(), writable: new WritableStream() },
      close: () => undefined,
    })),
    /handshake failed/,
  );
});

test('token endpoint JSON: every field validated', async () => {
  const token = bytesFrom((i) => i, 2048);
  const hash = bytesFrom((i) => 255 - i);
  const good = { token: encodeBase64(token), url: 'https://127.0.0.1:4433', certificateHashes: [encodeBase64(hash)] };
  const parsed = parseTicket(good);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value.token, token);
  assert.equal(parsed.value.url, 'https://127.0.0.1:4433');
  assert.deepEqual(parsed.value.certificateHashes, [hash]);
  const cases: [unknown, string][] = [
    [null, 'badJson'],
    [[], 'badJson'],
    [{ ...good, token: encodeBase64(token.subarray(0, 2047)) }, 'token'],
    [{ ...good, token: 'not base64!' }, 'token'],
    [{ ...good, token: 5 }, 'token'],
    [{ ...good, url: 'http://127.0.0.1:4433' }, 'url'],
    [{ ...good, url: 'not a url' }, 'url'],
    [{ ...good, url: undefined }, 'url'],
    [{ ...good, certificateHashes: 'x' }, 'certificateHashes'],
    [{ ...good, certificateHashes: [encodeBase64(hash.subarray(0, 31))] }, 'certificateHashes'],
    [{ ...good, certificateHashes: [7] }, 'certificateHashes'],
  ];
  for (const [json, what] of cases) {
    const r = parseTicket(json);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.error.kind === 'badField' ? r.error.field : r.error.kind, what);
  }
  const calls: [string, RequestInit][] = [];
  const fetched = await fetchWebTransportToken('/token', async (input, init) => {
    calls.push([input, init]);
    return new Response(JSON.stringify(good), { status: 200 });
  });
  assert.ok(fetched.ok);
  assert.equal(calls[0]?.[0], '/token');
  assert.equal(calls[0]?.[1].method, 'POST');
  assert.deepEqual(await fetchWebTransportToken('/t', async () => new Response('no', { status: 503 })), {
    ok: false,
    error: { kind: 'status', status: 503 },
  });
  assert.deepEqual(await fetchWebTransportToken('/t', async () => new Response('{', { status: 200 })), {
    ok: false,
    error: { kind: 'badJson' },
  });
  const network = await fetchWebTransportToken('/t', async () => {
    throw new TypeError('offline');
  });
  assert.deepEqual(network, { ok: false, error: { kind: 'network', message: 'offline' } });
});

/** An in-memory transport to a fake relay, delivering after 1 ms on the manual clock. */
class MemoryTransport implements DatagramTransport {
  private receive: ((d: Uint8Array) => void) | undefined;
  private closedCb: ((reason: string) => void) | undefined;
  constructor(
    private readonly clock: ManualClock,
    readonly server: FakeServer,
  ) {}
  send(bytes: Uint8Array): void {
    this.clock.setTimer(1, () => {
      for (const r of this.server.handle(this.clock.now(), bytes)) this.deliver(r);
    });
  }
  deliver(bytes: Uint8Array): void {
    this.clock.setTimer(1, () => this.receive?.(bytes));
  }
  /** Sends what the fake relay has due. */
  pump(): void {
    for (const d of this.server.pollTransmit(this.clock.now())) this.deliver(d);
  }
  onDatagram(receive: (bytes: Uint8Array) => void): void {
    this.receive = receive;
  }
  onClose(closed: (reason: string) => void): void {
    this.closedCb = closed;
  }
  close(): void {
    this.closedCb?.('closed');
  }
  /** The path closed by the other side, for `reason`. */
  closeFromServer(reason: string): void {
    this.closedCb?.(reason);
  }
}

test('RelayConnection on a fake clock: connects, requests a match, maps relay messages to events', async () => {
  const clock = new ManualClock();
  const server = new FakeServer(KA.privateKey, KA.protocolId, relayChannelTable(), 3, 256);
  const transport = new MemoryTransport(clock, server);
  const relay = new RelayConnection(transport, { clock });
  const events: RelayEvent[] = [];
  for (const type of ['connected', 'matched', 'message', 'playerLeft', 'waitingCount', 'error', 'disconnected'] as const) {
    relay.on(type, (e) => events.push(e));
  }
  relay.on('connected', () => assert.ok(relay.requestMatch(2, new Uint8Array([1, 2])).ok));
  relay.connect(buildToken({ ...KA, timeoutSecs: 5 }).bytes);
  clock.advance(10);
  await Promise.resolve();
  assert.equal(relay.state, ClientState.Connected);
  clock.advance(10);
  transport.pump();
  await Promise.resolve();
  clock.advance(10);
  const channels = server.channels;
  assert.ok(channels);
  const request = channels.recv();
  assert.equal(request?.channel, RELAY_CONTROL_CHANNEL);
  assert.deepEqual(parseClientMessage(request?.bytes ?? new Uint8Array(0)), {
    ok: true,
    value: { type: 'requestMatch', info: { playerCount: 2, matchData: new Uint8Array([1, 2]) } },
  });
  const send = (m: Parameters<typeof emitRelayMessage>[0], channel = RELAY_CONTROL_CHANNEL) => {
    const bytes = emitRelayMessage(m);
    assert.ok(bytes.ok);
    assert.ok(channels.send(channel, bytes.value).ok);
  };
  send({ type: 'waitingCount', count: 1 });
  send({ type: 'success', randomSeed: 99n, playerIdx: 1, playerCount: 2, rejoinSecret: bytesFrom((i) => i, 16) });
  send({ type: 'waitingCount', count: 2 }); // stale once matched: dropped
  send({ type: 'recvProxy', from: 0, data: new Uint8Array([7]) });
  send({ type: 'recvProxy', from: 0, data: new Uint8Array([8]) }, RELAY_UNRELIABLE_CHANNEL);
  send({ type: 'playerLeft', idx: 0, reason: 'disconnected' });
  send({ type: 'error', code: 'notHost' });
  transport.pump();
  clock.advance(10);
  // The reliable channel keeps its order; the unreliable message rides in
  // the same packet, ahead of the reliable frames (no order across channels).
  const reliableEvents = events.filter((e) => e.type !== 'message' || e.reliable);
  assert.deepEqual(
    reliableEvents.map((e) => e.type),
    ['connected', 'waitingCount', 'matched', 'message', 'playerLeft', 'error'],
  );
  const matched = reliableEvents[2];
  assert.ok(matched?.type === 'matched' && matched.randomSeed === 99n && matched.playerIdx === 1);
  const messages = events.filter((e) => e.type === 'message');
  assert.deepEqual(
    messages.map((e) => e.type === 'message' && [e.from, [...e.data], e.reliable]).sort(),
    [
      [0, [7], true],
      [0, [8], false],
    ],
  );
  // The game's sends go out as SendProxy on the right channels.
  assert.ok(relay.sendTo('allOthers', new Uint8Array([5]), true).ok);
  assert.ok(relay.sendTo(0, new Uint8Array([6]), false).ok);
  await Promise.resolve();
  clock.advance(5);
  const proxied = [channels.recv(), channels.recv()].sort((x, y) => (x?.channel ?? 0) - (y?.channel ?? 0));
  assert.deepEqual(
    proxied.map((m) => [m?.channel, m && parseClientMessage(m.bytes)]),
    [
      [RELAY_CONTROL_CHANNEL, { ok: true, value: { type: 'sendProxy', target: 'allOthers', data: new Uint8Array([5]) } }],
      [RELAY_UNRELIABLE_CHANNEL, { ok: true, value: { type: 'sendProxy', target: 0, data: new Uint8Array([6]) } }],
    ],
  );
  // A silent relay: the driver's timers alone time the client out.
  clock.advance(6000);
  assert.equal(events.at(-1)?.type, 'disconnected');
  assert.equal(relay.state, ClientState.ConnectionTimedOut);
  assert.equal(clock.pending <= 1, true);
});

test('RelayConnection.close sends the disconnect packets and reports', async () => {
  const clock = new ManualClock();
  const server = new FakeServer(KA.privateKey, KA.protocolId, relayChannelTable());
  const transport = new MemoryTransport(clock, server);
  const relay = new RelayConnection(transport, { clock });
  const reasons: number[] = [];
  relay.on('disconnected', (e) => reasons.push(e.reason));
  relay.connect(buildToken({ ...KA }).bytes);
  clock.advance(10);
  assert.equal(relay.state, ClientState.Connected);
  relay.close();
  clock.advance(5);
  assert.equal(server.clientDisconnected, 10);
  assert.deepEqual(reasons, [ClientState.Disconnected]);
  assert.equal(relay.requestMatch(2, new Uint8Array(0)).ok, false, 'not connected');
});

test("RelayConnection: a transport the server closes is reported with the server's reason", () => {
  const clock = new ManualClock();
  const server = new FakeServer(KA.privateKey, KA.protocolId, relayChannelTable());
  const transport = new MemoryTransport(clock, server);
  const relay = new RelayConnection(transport, { clock });
  const told: RelayEvent[] = [];
  relay.on('disconnected', (e) => told.push(e));
  relay.connect(buildToken({ ...KA }).bytes);
  clock.advance(10);
  assert.equal(relay.state, ClientState.Connected);
  transport.closeFromServer('closed by the server: server closing (code 0)');
  assert.deepEqual(told, [
    { type: 'disconnected', reason: ClientState.Disconnected, closeReason: 'closed by the server: server closing (code 0)' },
  ]);
  assert.equal(clock.pending, 0, 'timers left running');
});
