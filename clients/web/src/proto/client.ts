/**
 * The sans-IO netcode.io 1.02 client (netcode-spec §8), mirroring
 * `src/proto/client.rs`.
 *
 * Give it a connect token; it sends requests to the token's first server
 * address, then the response to the server's challenge, until the server
 * admits it with a keep-alive. Then it sends keep-alives at 10 Hz when the
 * application is quiet, and times out when the server is silent for the
 * token's timeout. Messages ride on a {@link ChannelTable}.
 *
 * Call order, with `now` in milliseconds from any monotonic origin, never
 * going backwards:
 * - {@link NetcodeClient.connect} once;
 * - {@link NetcodeClient.handleDatagram} for every datagram from the server;
 * - {@link NetcodeClient.update} when {@link NetcodeClient.nextUpdate} falls due;
 * - {@link NetcodeClient.pollTransmit} after any of the above, sending every
 *   datagram it returns;
 * - {@link NetcodeClient.recv} to read messages.
 *
 * Like the Rust client, after each state change the next handshake packet
 * goes out at the next `update` instead of waiting out the 100 ms interval.
 *
 * @packageDocumentation
 */
import { parseConnectToken, type ConnectToken } from '../wire/connectToken.js';
import { emitRequest, openPacket, parsePacketHeader, sealPacket, type Body } from '../wire/packet.js';
import { PacketType } from '../wire/prefix.js';
import type { SocketAddress } from '../wire/address.js';
import { err, type Result } from '../util/result.js';
import { ReplayWindow } from './replay.js';
import { ClientState, isConnecting } from './clientState.js';
import { Connection, type ConnectionStats, type Message } from './channel/connection.js';
import type { ChannelTable } from './channel/table.js';
import type { SendError } from './channel/sendError.js';

/** Interval between handshake packets and keep-alives, ms. */
export const SEND_INTERVAL_MS = 100;
/** Disconnect packets sent when a side ends a connection. */
export const DISCONNECT_PACKETS = 10;
/** Most channel packets one {@link NetcodeClient.pollTransmit} writes. */
export const MAX_PACKETS_PER_POLL = 64;

interface Session {
  readonly token: ConnectToken;
  serverIndex: number;
  timeoutMs: number | undefined;
  readonly tokenLifetimeMs: number;
  attemptStart: number;
  lastRecv: number;
  /** undefined: send at the next update. */
  lastSend: number | undefined;
  challenge: { readonly sequence: bigint; readonly token: Uint8Array } | undefined;
}

/** Counters of what the client dropped. */
export interface ClientCounters {
  /** Datagrams that did not parse, authenticate, or were replays. */
  datagramsDropped: number;
  /** Authentic payloads the channel layer refused (their reliable data comes again). */
  channelRefused: number;
}

/** The netcode client state machine. See the module docs for the call order. */
export class NetcodeClient {
  private stateCode: ClientState = ClientState.Disconnected;
  private session: Session | undefined;
  private sequence = 0n;
  private replay = new ReplayWindow();
  private channels: Connection | undefined;
  private outbox: Uint8Array[] = [];
  private clientIndexValue = 0;
  private maxClientsValue = 0;
  /** Counters of dropped input. */
  readonly counters: ClientCounters = { datagramsDropped: 0, channelRefused: 0 };

  /** A disconnected client whose connections will use `table`'s channels. */
  constructor(readonly table: ChannelTable) {}

  /** Where the client is. */
  get state(): ClientState {
    return this.stateCode;
  }

  /** This client's slot on the server, from its keep-alive (once connected). */
  get clientIndex(): number {
    return this.clientIndexValue;
  }

  /** The server's slot count, from its keep-alive (once connected). */
  get maxClients(): number {
    return this.maxClientsValue;
  }

  /** The token's address the client is talking to, if trying or connected. */
  get serverAddress(): SocketAddress | undefined {
    const s = this.session;
    return s?.token.serverAddresses[s.serverIndex];
  }

  /** The connect token in use, if any. */
  get token(): ConnectToken | undefined {
    return this.session?.token;
  }

  /** Channel counters of the current connection. */
  channelStats(): ConnectionStats | undefined {
    return this.channels?.stats();
  }

  /** Starts connecting with a token's 2048 bytes; an unreadable token leaves the state `InvalidConnectToken`. */
  connect(now: number, tokenBytes: Uint8Array): void {
    const parsed = parseConnectToken(tokenBytes);
    if (!parsed.ok) {
      this.reset(ClientState.InvalidConnectToken);
      return;
    }
    this.connectToken(now, parsed.value);
  }

  /** Starts connecting with a parsed token, to its first server address. */
  connectToken(now: number, token: ConnectToken): void {
    const lifetimeSecs = token.expireUnixSecs - token.createUnixSecs;
    this.session = {
      token,
      serverIndex: 0,
      timeoutMs: token.timeoutSecs > 0 ? token.timeoutSecs * 1000 : undefined,
      tokenLifetimeMs: Number(lifetimeSecs < 0n ? 0n : lifetimeSecs) * 1000,
      attemptStart: now,
      lastRecv: now,
      lastSend: undefined,
      challenge: undefined,
    };
    this.sequence = 0n;
    this.replay = new ReplayWindow();
    this.channels = undefined;
    this.stateCode = ClientState.SendingConnectionRequest;
  }

  /**
   * Handles one datagram from the server. Anything malformed,
   * unauthenticated, replayed or unexpected in this state is dropped and
   * counted. Returns true when it was a payload (messages may be ready).
   */
  handleDatagram(now: number, datagram: Uint8Array): boolean {
    const session = this.session;
    if (session === undefined || this.stateCode <= 0) return false;
    const header = parsePacketHeader(datagram);
    if (!header.ok) return this.drop();
    const type = header.value.packetType;
    const replayProtected = type === PacketType.KeepAlive || type === PacketType.Payload || type === PacketType.Disconnect;
    if (type === PacketType.Response || (replayProtected && this.replay.isReplay(header.value.sequence))) {
      return this.drop();
    }
    const body = openPacket(datagram, header.value, session.token.protocolId, session.token.serverToClientKey);
    if (!body.ok) return this.drop();
    if (replayProtected) this.replay.advance(header.value.sequence);
    return this.handleBody(now, session, header.value.sequence, body.value);
  }

  private handleBody(now: number, session: Session, sequence: bigint, body: Body): boolean {
    const state = this.stateCode;
    if (body.type === 'denied' && isConnecting(state)) {
      this.nextServer(now, ClientState.ConnectionDenied);
      return false;
    }
    if (body.type === 'challenge' && state === ClientState.SendingConnectionRequest) {
      session.challenge = { sequence: body.challengeSequence, token: body.token };
      session.lastRecv = now;
      session.lastSend = undefined;
      this.stateCode = ClientState.SendingConnectionResponse;
      return false;
    }
    if (body.type === 'keepAlive' && state === ClientState.SendingConnectionResponse) {
      session.lastRecv = now;
      this.clientIndexValue = body.clientIndex;
      this.maxClientsValue = body.maxClients;
      this.stateCode = ClientState.Connected;
      this.channels = new Connection(this.table);
      return false;
    }
    if (state !== ClientState.Connected) return this.drop();
    switch (body.type) {
      case 'keepAlive':
        session.lastRecv = now;
        return false;
      case 'payload': {
        session.lastRecv = now;
        // Sequences past 2^53 lose precision as packet numbers; an honest
        // server's per-connection sequence starts at 0 and never gets there.
        const read = this.channels?.readPacket(now, Number(sequence), body.bytes);
        if (read !== undefined && !read.ok) this.counters.channelRefused += 1;
        return true;
      }
      case 'disconnect':
        this.reset(ClientState.Disconnected);
        return false;
      default:
        return this.drop();
    }
  }

  private drop(): false {
    this.counters.datagramsDropped += 1;
    return false;
  }

  /** Runs timeouts and queues what is due: a request, a response or a keep-alive. */
  update(now: number): void {
    const session = this.session;
    if (session === undefined) return;
    if (isConnecting(this.stateCode) && now - session.attemptStart >= session.tokenLifetimeMs) {
      this.reset(ClientState.ConnectTokenExpired);
      return;
    }
    if (session.timeoutMs !== undefined && now - session.lastRecv > session.timeoutMs) {
      if (this.stateCode === ClientState.SendingConnectionRequest) {
        this.nextServer(now, ClientState.ConnectionRequestTimedOut);
      } else if (this.stateCode === ClientState.SendingConnectionResponse) {
        this.nextServer(now, ClientState.ConnectionResponseTimedOut);
      } else {
        this.reset(ClientState.ConnectionTimedOut);
      }
      return;
    }
    const due = session.lastSend === undefined || now - session.lastSend >= SEND_INTERVAL_MS;
    if (!due) return;
    const token = session.token;
    if (this.stateCode === ClientState.SendingConnectionRequest) {
      const request = emitRequest(token);
      if (request.ok) this.outbox.push(request.value);
      // The reference burns a sequence number per request.
      this.sequence += 1n;
    } else if (this.stateCode === ClientState.SendingConnectionResponse && session.challenge !== undefined) {
      this.seal({ type: 'response', challengeSequence: session.challenge.sequence, token: session.challenge.token });
    } else if (this.stateCode === ClientState.Connected) {
      this.seal({ type: 'keepAlive', clientIndex: 0, maxClients: 0 });
    } else {
      return;
    }
    session.lastSend = now;
  }

  /** When {@link NetcodeClient.update} or {@link NetcodeClient.pollTransmit} next has work, ms. */
  nextUpdate(now: number): number {
    const session = this.session;
    let next = now + SEND_INTERVAL_MS;
    if (session !== undefined && (isConnecting(this.stateCode) || this.stateCode === ClientState.Connected)) {
      next = session.lastSend === undefined ? now : session.lastSend + SEND_INTERVAL_MS;
      if (session.timeoutMs !== undefined) next = Math.min(next, session.lastRecv + session.timeoutMs + 1);
      if (isConnecting(this.stateCode)) next = Math.min(next, session.attemptStart + session.tokenLifetimeMs);
    }
    const channels = this.channels;
    if (channels !== undefined) {
      if (channels.wantsToSend(now)) return now;
      const due = channels.pollTimeout();
      if (due !== undefined) next = Math.min(next, due);
    }
    return next;
  }

  /**
   * Queues `bytes` on `channel` for the next {@link NetcodeClient.pollTransmit}.
   * `notConnected` unless connected; otherwise as {@link Connection.send}.
   */
  send(channel: number, bytes: Uint8Array): Result<void, SendError> {
    if (this.stateCode !== ClientState.Connected || this.channels === undefined) return err({ kind: 'notConnected' });
    return this.channels.send(channel, bytes);
  }

  /** The datagrams to send now: handshake, keep-alive and disconnect packets queued, then channel packets due. */
  pollTransmit(now: number): Uint8Array[] {
    const out = this.outbox;
    this.outbox = [];
    const channels = this.channels;
    const session = this.session;
    if (channels === undefined || session === undefined || this.stateCode !== ClientState.Connected) return out;
    for (let i = 0; i < MAX_PACKETS_PER_POLL && channels.wantsToSend(now); i++) {
      const payload = channels.writePacket(now, Number(this.sequence));
      if (payload === undefined) break;
      const sealed = sealPacket({ type: 'payload', bytes: payload }, this.sequence, session.token.protocolId, session.token.clientToServerKey);
      this.sequence += 1n;
      if (!sealed.ok) break;
      out.push(sealed.value);
      session.lastSend = now;
    }
    return out;
  }

  /** The next message from the server, oldest first. */
  recv(): Message | undefined {
    return this.channels?.recv();
  }

  /**
   * Ends the connection: when connected, queues the redundant disconnect
   * packets for the next {@link NetcodeClient.pollTransmit}; stops any handshake.
   */
  disconnect(): void {
    if (this.stateCode === ClientState.Connected && this.session !== undefined) {
      for (let i = 0; i < DISCONNECT_PACKETS; i++) this.seal({ type: 'disconnect' });
    }
    this.reset(ClientState.Disconnected);
  }

  private seal(body: Body): void {
    const session = this.session;
    if (session === undefined) return;
    const sealed = sealPacket(body, this.sequence, session.token.protocolId, session.token.clientToServerKey);
    this.sequence += 1n;
    if (sealed.ok) this.outbox.push(sealed.value);
  }

  /** Moves to the token's next server address, or fails with `error` when there is none. */
  private nextServer(now: number, error: ClientState): void {
    const session = this.session;
    if (session === undefined) return;
    if (session.serverIndex + 1 >= session.token.serverAddresses.length) {
      this.reset(error);
      return;
    }
    session.serverIndex += 1;
    session.attemptStart = now;
    session.lastRecv = now;
    session.lastSend = undefined;
    session.challenge = undefined;
    this.replay = new ReplayWindow();
    this.stateCode = ClientState.SendingConnectionRequest;
  }

  private reset(state: ClientState): void {
    this.session = undefined;
    this.channels = undefined;
    this.stateCode = state;
  }
}
