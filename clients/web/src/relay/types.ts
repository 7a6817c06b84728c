/**
 * The values relay messages carry: match info, lobby codes, targets,
 * leave reasons and error codes (`docs/wire.md`, "Relay messages").
 *
 * @packageDocumentation
 */
import type { SocketAddress } from '../wire/address.js';

/** The relay's reliable-ordered channel: matchmaking and reliable proxying. */
export const RELAY_CONTROL_CHANNEL = 0xff0000;
/** The relay's unreliable channel: unreliable proxying. */
export const RELAY_UNRELIABLE_CHANNEL = 0xff0001;
/** Longest match data. */
export const MAX_MATCH_DATA_LEN = 256;
/** Most players in a room. */
export const MAX_PLAYERS = 16;
/** Characters of a lobby code. */
export const LOBBY_CODE_LEN = 6;
/** What lobby codes are made of (no 0/O, 1/I/L). */
export const LOBBY_CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
/** Bytes of a rejoin secret. */
export const REJOIN_SECRET_LEN = 16;
/** Most lobbies in one lobby list. */
export const MAX_LOBBY_LIST = 32;
/** Most LAN addresses with a consent to direct play. */
export const MAX_LAN_CANDIDATES = 4;
/** Most candidate addresses in an introduction. */
export const MAX_CANDIDATES = 1 + MAX_LAN_CANDIDATES;
/** Bytes of a pair key. */
export const PAIR_KEY_LEN = 32;
/** Bytes of an address-check ticket. */
export const CHECK_TICKET_LEN = 26;
/** The proxy target byte meaning "every other player". */
export const ALL_OTHERS = 0xff;

/** What players must share to play together. */
export interface MatchInfo {
  /** Players in a full room, 1..=16 (the relay refuses others with `badMatchInfo`). */
  readonly playerCount: number;
  /** Game-defined bytes, at most 256. */
  readonly matchData: Uint8Array;
}

/** Who a proxied message is for: a player index (0..=254) or every other player. */
export type Target = number | 'allOthers';

/** Why a player left a room. */
export type LeaveReason = 'left' | 'disconnected' | 'tooSlow';

/** Leave reasons by their wire code. */
export const LEAVE_REASONS: readonly LeaveReason[] = ['left', 'disconnected', 'tooSlow'];

/** Why the relay refused a request. */
export type RelayErrorCode =
  | 'badRequest'
  | 'badMatchInfo'
  | 'noSuchLobby'
  | 'lobbyFull'
  | 'notInRoom'
  | 'notHost'
  | 'badTarget'
  | 'rateLimited'
  | 'alreadyInRoom'
  | 'badRejoin'
  | 'draining'
  | 'full';

/** Relay error codes by their wire code, 0..=11. */
export const RELAY_ERROR_CODES: readonly RelayErrorCode[] = [
  'badRequest',
  'badMatchInfo',
  'noSuchLobby',
  'lobbyFull',
  'notInRoom',
  'notHost',
  'badTarget',
  'rateLimited',
  'alreadyInRoom',
  'badRejoin',
  'draining',
  'full',
];

/** A public lobby in a lobby list. */
export interface LobbyEntry {
  /** Its join code. */
  readonly code: string;
  /** Players in it now. */
  readonly players: number;
  /** Players it is made for. */
  readonly playerCount: number;
}

/** The relay's introduction of another consenting player (direct play). */
export interface Introduction {
  /** The other player's index. */
  readonly peer: number;
  /** The pair's 32-byte key. */
  readonly key: Uint8Array;
  /** How long to wait before probing, ms. */
  readonly delayMs: number;
  /** Where the other player may be reached, 1..=5. */
  readonly candidates: readonly SocketAddress[];
}

/**
 * The lobby code `text`, upper-cased, if it has 6 characters of the
 * alphabet (a player may type lower case); otherwise undefined.
 */
export function normalizeLobbyCode(text: string): string | undefined {
  const upper = text.toUpperCase();
  if (upper.length !== LOBBY_CODE_LEN) return undefined;
  for (const c of upper) if (!LOBBY_CODE_ALPHABET.includes(c)) return undefined;
  return upper;
}
