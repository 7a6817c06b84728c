/**
 * What a {@link RelayClient} reports to the game.
 *
 * @packageDocumentation
 */
import type { ClientState } from '../proto/clientState.js';
import type { LeaveReason, LobbyEntry, RelayErrorCode } from './types.js';

/** Something the relay (or the connection to it) told this player. */
export type RelayEvent =
  | { readonly type: 'connected'; readonly clientIndex: number }
  | { readonly type: 'accepted' }
  | { readonly type: 'waitingCount'; readonly count: number }
  | { readonly type: 'lobbyCreated'; readonly code: string }
  | { readonly type: 'lobbyList'; readonly lobbies: readonly LobbyEntry[] }
  | {
      readonly type: 'matched';
      readonly randomSeed: bigint;
      readonly playerIdx: number;
      readonly playerCount: number;
      readonly rejoinSecret: Uint8Array;
    }
  | { readonly type: 'message'; readonly from: number; readonly data: Uint8Array; readonly reliable: boolean }
  | { readonly type: 'playerLeft'; readonly idx: number; readonly reason: LeaveReason }
  | { readonly type: 'playerRejoined'; readonly idx: number }
  | { readonly type: 'addressChecked'; readonly perDestination: boolean }
  | { readonly type: 'error'; readonly code: RelayErrorCode }
  | {
      readonly type: 'disconnected';
      readonly reason: ClientState;
      /**
       * Why the transport closed, when it closed first: for WebTransport,
       * the server's reason and code, such as
       * `closed by the server: server closing (code 0)`.
       */
      readonly closeReason?: string;
    };

/** The event types, as strings. */
export type RelayEventType = RelayEvent['type'];

/** The event of type `T`. */
export type RelayEventOf<T extends RelayEventType> = Extract<RelayEvent, { type: T }>;
