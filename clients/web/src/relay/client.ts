/**
 * The game side of the relay, sans-IO: match, then talk to the other
 * players. Mirrors `src/relay/client.rs` over a {@link NetcodeClient} with
 * the relay's channel table (0xFF0000 reliable-ordered, 0xFF0001
 * unreliable). Direct play is not implemented: its messages parse and are
 * ignored, so every message goes through the relay.
 *
 * Same call order as {@link NetcodeClient}; then drain
 * {@link RelayClient.pollEvent}. A driver ({@link RelayConnection}) does all
 * of it on timers.
 *
 * @packageDocumentation
 */
import { NetcodeClient } from '../proto/client.js';
import { ClientState } from '../proto/clientState.js';
import { ChannelTable } from '../proto/channel/table.js';
import type { SendError } from '../proto/channel/sendError.js';
import type { ConnectionStats } from '../proto/channel/connection.js';
import { Deque } from '../util/deque.js';
import { err, type Result } from '../util/result.js';
import { emitClientMessage, parseRelayMessage, type ClientMessage } from './messages.js';
import type { RelayEvent } from './events.js';
import {
  MAX_MATCH_DATA_LEN,
  MAX_PLAYERS,
  normalizeLobbyCode,
  RELAY_CONTROL_CHANNEL,
  RELAY_UNRELIABLE_CHANNEL,
  REJOIN_SECRET_LEN,
  type Target,
} from './types.js';

/** Most events held between drains; past it the oldest are dropped and counted. */
export const MAX_EVENTS = 65_536;

/** Why a relay request could not be sent. */
export type RelaySendError = SendError | { readonly kind: 'badArgument'; readonly what: string };

/** The channels relay clients and servers share: the relay's two reserved channels, default limits. */
export function relayChannelTable(): ChannelTable {
  return new ChannelTable([
    { id: RELAY_CONTROL_CHANNEL, kind: 'reliableOrdered' },
    { id: RELAY_UNRELIABLE_CHANNEL, kind: 'unreliable' },
  ]);
}

/** A game's connection to a relay. See the module docs. */
export class RelayClient {
  /** The netcode client underneath. */
  readonly netcode = new NetcodeClient(relayChannelTable());
  private readonly events = new Deque<RelayEvent>();
  private lastState: ClientState = ClientState.Disconnected;
  /** Matched since the last request to join a room: stale waiting counts are dropped. */
  private matched = false;
  /** Events dropped: unreadable relay messages, or too many unpolled. */
  dropped = 0;

  /** Starts connecting with a relay token's 2048 bytes. */
  connect(now: number, token: Uint8Array): void {
    this.netcode.connect(now, token);
    this.noteState();
  }

  /** Handles one datagram from the relay and turns its messages into events. */
  handleDatagram(now: number, datagram: Uint8Array): void {
    this.netcode.handleDatagram(now, datagram);
    this.noteState();
    this.drainMessages();
  }

  /** Runs timers (handshake, keep-alive, timeouts). */
  update(now: number): void {
    this.netcode.update(now);
    this.noteState();
  }

  /** The datagrams to send now. */
  pollTransmit(now: number): Uint8Array[] {
    return this.netcode.pollTransmit(now);
  }

  /** When {@link RelayClient.update} next has work, ms. */
  nextUpdate(now: number): number {
    return this.netcode.nextUpdate(now);
  }

  /** The next event, oldest first. */
  pollEvent(): RelayEvent | undefined {
    return this.events.shift();
  }

  /** Where the connection is. */
  get state(): ClientState {
    return this.netcode.state;
  }

  /** Whether the client is connected to the relay. */
  isConnected(): boolean {
    return this.netcode.state === ClientState.Connected;
  }

  /** Channel counters of the connection (RTT, loss, resends). */
  channelStats(): ConnectionStats | undefined {
    return this.netcode.channelStats();
  }

  /** Asks for a match: players with byte-identical `(playerCount, matchData)` share a room. */
  requestMatch(playerCount: number, matchData: Uint8Array): Result<void, RelaySendError> {
    const bad = checkInfo(playerCount, matchData);
    if (bad) return err(bad);
    return this.control({ type: 'requestMatch', info: { playerCount, matchData } });
  }

  /** Opens a lobby and hosts it; its code arrives as a `lobbyCreated` event. */
  createLobby(playerCount: number, matchData: Uint8Array, isPublic: boolean): Result<void, RelaySendError> {
    const bad = checkInfo(playerCount, matchData);
    if (bad) return err(bad);
    return this.control({ type: 'createLobby', info: { playerCount, matchData }, public: isPublic });
  }

  /** Joins the lobby with `code` (lower case accepted). */
  joinLobby(code: string): Result<void, RelaySendError> {
    const normalized = normalizeLobbyCode(code);
    if (normalized === undefined) return err({ kind: 'badArgument', what: 'lobby code' });
    return this.control({ type: 'joinLobby', code: normalized });
  }

  /** Asks for the public lobbies with `matchData`; they arrive as a `lobbyList` event. */
  listLobbies(matchData: Uint8Array): Result<void, RelaySendError> {
    if (matchData.length > MAX_MATCH_DATA_LEN) return err({ kind: 'badArgument', what: 'match data over 256 bytes' });
    return this.control({ type: 'listLobbies', matchData });
  }

  /** Leaves the waiting room, lobby or match. */
  leaveRoom(): Result<void, RelaySendError> {
    return this.control({ type: 'leaveRoom' });
  }

  /** Starts the lobby this player hosts, even if not full. */
  startMatch(): Result<void, RelaySendError> {
    return this.control({ type: 'startMatch' });
  }

  /** Takes back a seat after a dropped connection, on this new one. */
  rejoin(secret: Uint8Array): Result<void, RelaySendError> {
    if (secret.length !== REJOIN_SECRET_LEN) return err({ kind: 'badArgument', what: 'rejoin secret length' });
    return this.control({ type: 'rejoin', secret });
  }

  /**
   * Sends `data` to `target` (a player index, or `'allOthers'`), reliable-ordered
   * per sender or unreliable (then at most one packet: 1178 bytes of data).
   */
  sendTo(target: Target, data: Uint8Array, reliable: boolean): Result<void, RelaySendError> {
    const message = emitClientMessage({ type: 'sendProxy', target, data });
    if (!message.ok) return err({ kind: 'badArgument', what: 'proxy target' });
    return this.netcode.send(reliable ? RELAY_CONTROL_CHANNEL : RELAY_UNRELIABLE_CHANNEL, message.value);
  }

  /** Ends the connection; the disconnect packets go out on the next {@link RelayClient.pollTransmit}. */
  disconnect(): void {
    this.netcode.disconnect();
    this.noteState();
  }

  private control(message: ClientMessage): Result<void, RelaySendError> {
    if (
      message.type === 'requestMatch' ||
      message.type === 'createLobby' ||
      message.type === 'joinLobby' ||
      message.type === 'leaveRoom' ||
      message.type === 'rejoin'
    ) {
      this.matched = false;
    }
    const bytes = emitClientMessage(message);
    if (!bytes.ok) return err({ kind: 'badArgument', what: message.type });
    return this.netcode.send(RELAY_CONTROL_CHANNEL, bytes.value);
  }

  private noteState(): void {
    const state = this.netcode.state;
    if (state === this.lastState) return;
    const was = this.lastState;
    this.lastState = state;
    if (state === ClientState.Connected) {
      this.push({ type: 'connected', clientIndex: this.netcode.clientIndex });
    } else if (state <= 0 && was > 0) {
      this.push({ type: 'disconnected', reason: state });
    } else if (state === ClientState.InvalidConnectToken) {
      this.push({ type: 'disconnected', reason: state });
    }
  }

  private drainMessages(): void {
    for (let message = this.netcode.recv(); message !== undefined; message = this.netcode.recv()) {
      const reliable = message.channel === RELAY_CONTROL_CHANNEL;
      if (!reliable && message.channel !== RELAY_UNRELIABLE_CHANNEL) continue;
      const parsed = parseRelayMessage(message.bytes);
      if (!parsed.ok) {
        this.dropped += 1;
        continue;
      }
      const m = parsed.value;
      switch (m.type) {
        case 'accepted':
          this.push({ type: 'accepted' });
          break;
        case 'waitingCount':
          if (!this.matched) this.push({ type: 'waitingCount', count: m.count });
          break;
        case 'lobbyCreated':
          this.push({ type: 'lobbyCreated', code: m.code });
          break;
        case 'lobbyList':
          this.push({ type: 'lobbyList', lobbies: m.lobbies });
          break;
        case 'success':
          this.matched = true;
          this.push({
            type: 'matched',
            randomSeed: m.randomSeed,
            playerIdx: m.playerIdx,
            playerCount: m.playerCount,
            rejoinSecret: m.rejoinSecret,
          });
          break;
        case 'recvProxy':
          this.push({ type: 'message', from: m.from, data: m.data, reliable });
          break;
        case 'playerLeft':
          this.push({ type: 'playerLeft', idx: m.idx, reason: m.reason });
          break;
        case 'playerRejoined':
          this.push({ type: 'playerRejoined', idx: m.idx });
          break;
        case 'error':
          this.push({ type: 'error', code: m.code });
          break;
        case 'addressChecked':
          this.push({ type: 'addressChecked', perDestination: m.perDestination });
          break;
        case 'introduce':
        case 'recvPair':
        case 'checkAddress':
          // Direct play is not implemented: everything goes through the relay.
          break;
      }
    }
  }

  private push(event: RelayEvent): void {
    if (this.events.length >= MAX_EVENTS) {
      this.events.shift();
      this.dropped += 1;
    }
    this.events.push(event);
  }
}

function checkInfo(playerCount: number, matchData: Uint8Array): RelaySendError | undefined {
  if (!Number.isInteger(playerCount) || playerCount < 1 || playerCount > MAX_PLAYERS) {
    return { kind: 'badArgument', what: 'player count must be 1..=16' };
  }
  if (matchData.length > MAX_MATCH_DATA_LEN) return { kind: 'badArgument', what: 'match data over 256 bytes' };
  return undefined;
}
