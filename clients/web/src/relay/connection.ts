/**
 * A {@link RelayClient} on a transport and timers: the game connects, calls
 * requests, and listens to events; nothing to poll.
 *
 * @packageDocumentation
 */
import { RelayClient, type RelaySendError } from './client.js';
import type { RelayEvent, RelayEventOf, RelayEventType } from './events.js';
import type { Target } from './types.js';
import { ClientState } from '../proto/clientState.js';
import { Driver } from '../transport/driver.js';
import { systemClock, type Clock } from '../transport/clock.js';
import type { DatagramTransport } from '../transport/datagramTransport.js';
import type { Result } from '../util/result.js';

/** Options of a {@link RelayConnection}. */
export interface RelayConnectionOptions {
  /** Time and timers; the runtime's by default (tests pass a fake one). */
  readonly clock?: Clock;
}

type Listener<T extends RelayEventType> = (event: RelayEventOf<T>) => void;

/** A relay session driven on timers over a {@link DatagramTransport}. */
export class RelayConnection {
  /** The sans-IO client underneath (for state and stats). */
  readonly client = new RelayClient();
  private readonly clock: Clock;
  private readonly driver: Driver;
  private readonly listeners = new Map<RelayEventType, Set<(event: RelayEvent) => void>>();
  private closed = false;
  /** Why the transport closed, when it closed before this side did. */
  private closeReason: string | undefined;

  /** A connection over `transport`; call {@link RelayConnection.connect}. */
  constructor(
    private readonly transport: DatagramTransport,
    options: RelayConnectionOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.driver = new Driver(this.client, transport, this.clock, () => this.dispatch());
    transport.onClose((reason) => this.transportClosed(reason));
  }

  /**
   * Calls `listener` for every event of `type`; returns a function that
   * removes it. A listener that throws does not stop the others.
   */
  on<T extends RelayEventType>(type: T, listener: Listener<T>): () => void {
    let set = this.listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(type, set);
    }
    const wrapped = listener as (event: RelayEvent) => void;
    set.add(wrapped);
    return () => set.delete(wrapped);
  }

  /** Starts connecting with the relay token's 2048 bytes. */
  connect(token: Uint8Array): void {
    this.client.connect(this.clock.now(), token);
    this.driver.start();
    this.driver.step();
  }

  /** Where the connection is. */
  get state(): ClientState {
    return this.client.state;
  }

  /** See {@link RelayClient.requestMatch}. */
  requestMatch(playerCount: number, matchData: Uint8Array): Result<void, RelaySendError> {
    return this.kicking(this.client.requestMatch(playerCount, matchData));
  }

  /** See {@link RelayClient.createLobby}. */
  createLobby(playerCount: number, matchData: Uint8Array, isPublic: boolean): Result<void, RelaySendError> {
    return this.kicking(this.client.createLobby(playerCount, matchData, isPublic));
  }

  /** See {@link RelayClient.joinLobby}. */
  joinLobby(code: string): Result<void, RelaySendError> {
    return this.kicking(this.client.joinLobby(code));
  }

  /** See {@link RelayClient.listLobbies}. */
  listLobbies(matchData: Uint8Array): Result<void, RelaySendError> {
    return this.kicking(this.client.listLobbies(matchData));
  }

  /** See {@link RelayClient.leaveRoom}. */
  leaveRoom(): Result<void, RelaySendError> {
    return this.kicking(this.client.leaveRoom());
  }

  /** See {@link RelayClient.startMatch}. */
  startMatch(): Result<void, RelaySendError> {
    return this.kicking(this.client.startMatch());
  }

  /** See {@link RelayClient.rejoin}. */
  rejoin(secret: Uint8Array): Result<void, RelaySendError> {
    return this.kicking(this.client.rejoin(secret));
  }

  /** See {@link RelayClient.sendTo}. Messages queued in one task share packets. */
  sendTo(target: Target, data: Uint8Array, reliable: boolean): Result<void, RelaySendError> {
    return this.kicking(this.client.sendTo(target, data, reliable));
  }

  /** Disconnects (sending the disconnect packets), stops the timers and closes the transport. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.disconnect();
    this.driver.flush();
    this.driver.stop();
    this.dispatch();
    this.transport.close();
  }

  private kicking(result: Result<void, RelaySendError>): Result<void, RelaySendError> {
    if (result.ok) this.driver.kick();
    return result;
  }

  private transportClosed(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.driver.stop();
    if (this.client.state > 0) this.client.disconnect();
    this.dispatch();
  }

  private dispatch(): void {
    for (let event = this.client.pollEvent(); event !== undefined; event = this.client.pollEvent()) {
      const set = this.listeners.get(event.type);
      if (set === undefined) continue;
      const told =
        event.type === 'disconnected' && this.closeReason !== undefined
          ? { ...event, closeReason: this.closeReason }
          : event;
      for (const listener of [...set]) {
        try {
          listener(told);
        } catch (e) {
          queueMicrotask(() => {
            throw e;
          });
        }
      }
    }
  }
}
