/**
 * Relay messages: parse/emit pairs for what a game sends the relay (types
 * 1..=10) and what the relay sends a game (0x81..=0x8D). Each is one
 * channel message: a type byte, then its fields, little-endian, nothing
 * after. Every value has one encoding: a message that parses emits back
 * to the same bytes. Mirrors `src/relay/protocol/mod.rs`.
 *
 * @packageDocumentation
 */
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';
import type { WireError } from '../wire/error.js';
import { addressLen, emitAddress, parseAddress, type SocketAddress } from '../wire/address.js';
import { err, ok, type Result } from '../util/result.js';
import {
  ALL_OTHERS,
  CHECK_TICKET_LEN,
  LEAVE_REASONS,
  LOBBY_CODE_ALPHABET,
  LOBBY_CODE_LEN,
  MAX_CANDIDATES,
  MAX_LAN_CANDIDATES,
  MAX_LOBBY_LIST,
  MAX_MATCH_DATA_LEN,
  PAIR_KEY_LEN,
  RELAY_ERROR_CODES,
  REJOIN_SECRET_LEN,
  type Introduction,
  type LeaveReason,
  type LobbyEntry,
  type MatchInfo,
  type RelayErrorCode,
  type Target,
} from './types.js';

/** What a game sends the relay. */
export type ClientMessage =
  | { readonly type: 'requestMatch'; readonly info: MatchInfo }
  | { readonly type: 'createLobby'; readonly info: MatchInfo; readonly public: boolean }
  | { readonly type: 'joinLobby'; readonly code: string }
  | { readonly type: 'listLobbies'; readonly matchData: Uint8Array }
  | { readonly type: 'leaveRoom' }
  | { readonly type: 'startMatch' }
  | { readonly type: 'sendProxy'; readonly target: Target; readonly data: Uint8Array }
  | { readonly type: 'rejoin'; readonly secret: Uint8Array }
  | { readonly type: 'allowDirect'; readonly lan: readonly SocketAddress[] }
  | { readonly type: 'sendPair'; readonly to: number; readonly data: Uint8Array };

/** What the relay sends a game. */
export type RelayMessage =
  | { readonly type: 'accepted' }
  | { readonly type: 'waitingCount'; readonly count: number }
  | { readonly type: 'lobbyCreated'; readonly code: string }
  | { readonly type: 'lobbyList'; readonly lobbies: readonly LobbyEntry[] }
  | {
      readonly type: 'success';
      readonly randomSeed: bigint;
      readonly playerIdx: number;
      readonly playerCount: number;
      readonly rejoinSecret: Uint8Array;
    }
  | { readonly type: 'recvProxy'; readonly from: number; readonly data: Uint8Array }
  | { readonly type: 'playerLeft'; readonly idx: number; readonly reason: LeaveReason }
  | { readonly type: 'playerRejoined'; readonly idx: number }
  | { readonly type: 'error'; readonly code: RelayErrorCode }
  | { readonly type: 'introduce'; readonly introduction: Introduction }
  | { readonly type: 'recvPair'; readonly from: number; readonly data: Uint8Array }
  | { readonly type: 'checkAddress'; readonly ticket: Uint8Array }
  | { readonly type: 'addressChecked'; readonly perDestination: boolean };

/** Type bytes. */
export const RelayKind = {
  RequestMatch: 1,
  CreateLobby: 2,
  JoinLobby: 3,
  ListLobbies: 4,
  LeaveRoom: 5,
  StartMatch: 6,
  SendProxy: 7,
  Rejoin: 8,
  AllowDirect: 9,
  SendPair: 10,
  Accepted: 0x81,
  WaitingCount: 0x82,
  LobbyCreated: 0x83,
  LobbyList: 0x84,
  Success: 0x85,
  RecvProxy: 0x86,
  PlayerLeft: 0x87,
  PlayerRejoined: 0x88,
  Error: 0x89,
  Introduce: 0x8a,
  RecvPair: 0x8b,
  CheckAddress: 0x8c,
  AddressChecked: 0x8d,
} as const;

const isByte = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xff;

function parseInfo(r: Reader): Result<MatchInfo, WireError> {
  const playerCount = r.u8();
  const len = r.u16();
  if (r.error) return err(r.error);
  if (len > MAX_MATCH_DATA_LEN) return err({ kind: 'badLength', len });
  const matchData = r.bytesCopy(len);
  return r.error ? err(r.error) : ok({ playerCount, matchData });
}

function emitInfo(info: MatchInfo, w: Writer): Result<void, WireError> {
  if (!isByte(info.playerCount)) return err({ kind: 'badValue', what: 'player count' });
  if (info.matchData.length > MAX_MATCH_DATA_LEN) return err({ kind: 'badLength', len: info.matchData.length });
  w.u8(info.playerCount);
  w.u16(info.matchData.length);
  w.bytes(info.matchData);
  return ok(undefined);
}

function parseCode(r: Reader): Result<string, WireError> {
  const bytes = r.bytesView(LOBBY_CODE_LEN);
  if (r.error) return err(r.error);
  let code = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (!LOBBY_CODE_ALPHABET.includes(c)) return err({ kind: 'badLength', len: LOBBY_CODE_LEN });
    code += c;
  }
  return ok(code);
}

function emitCode(code: string, w: Writer): Result<void, WireError> {
  if (code.length !== LOBBY_CODE_LEN || [...code].some((c) => !LOBBY_CODE_ALPHABET.includes(c))) {
    return err({ kind: 'badValue', what: 'lobby code' });
  }
  for (const c of code) w.u8(c.charCodeAt(0));
  return ok(undefined);
}

function parseAddresses(r: Reader, max: number): Result<SocketAddress[], WireError> {
  const count = r.u8();
  if (r.error) return err(r.error);
  if (count > max) return err({ kind: 'badLength', len: count });
  const out: SocketAddress[] = [];
  for (let i = 0; i < count; i++) {
    const addr = parseAddress(r);
    if (!addr.ok) return addr;
    out.push(addr.value);
  }
  return ok(out);
}

function emitAddresses(addresses: readonly SocketAddress[], max: number, w: Writer): Result<void, WireError> {
  if (addresses.length > max) return err({ kind: 'badLength', len: addresses.length });
  w.u8(addresses.length);
  for (const a of addresses) {
    const written = emitAddress(a, w);
    if (!written.ok) return written;
  }
  return ok(undefined);
}

function addressesLen(addresses: readonly SocketAddress[]): number {
  return 1 + addresses.reduce((sum, a) => sum + addressLen(a), 0);
}

function finish<T>(r: Reader, value: T): Result<T, WireError> {
  if (r.error) return err(r.error);
  if (r.remaining !== 0) return err({ kind: 'badLength', len: r.remaining });
  return ok(value);
}

/** Reads a game-to-relay message. */
export function parseClientMessage(bytes: Uint8Array): Result<ClientMessage, WireError> {
  const r = new Reader(bytes);
  const kind = r.u8();
  if (r.error) return err(r.error);
  switch (kind) {
    case RelayKind.RequestMatch: {
      const info = parseInfo(r);
      return info.ok ? finish(r, { type: 'requestMatch', info: info.value }) : info;
    }
    case RelayKind.CreateLobby: {
      const info = parseInfo(r);
      if (!info.ok) return info;
      const flag = r.u8();
      if (r.error) return err(r.error);
      if (flag > 1) return err({ kind: 'badFlag', value: flag });
      return finish(r, { type: 'createLobby', info: info.value, public: flag === 1 });
    }
    case RelayKind.JoinLobby: {
      const code = parseCode(r);
      return code.ok ? finish(r, { type: 'joinLobby', code: code.value }) : code;
    }
    case RelayKind.ListLobbies: {
      const matchData = r.rest().slice();
      if (matchData.length > MAX_MATCH_DATA_LEN) return err({ kind: 'badLength', len: matchData.length });
      return ok({ type: 'listLobbies', matchData });
    }
    case RelayKind.LeaveRoom:
      return finish(r, { type: 'leaveRoom' });
    case RelayKind.StartMatch:
      return finish(r, { type: 'startMatch' });
    case RelayKind.SendProxy: {
      const target = r.u8();
      if (r.error) return err(r.error);
      return ok({ type: 'sendProxy', target: target === ALL_OTHERS ? 'allOthers' : target, data: r.rest().slice() });
    }
    case RelayKind.Rejoin: {
      const secret = r.bytesCopy(REJOIN_SECRET_LEN);
      return finish(r, { type: 'rejoin', secret });
    }
    case RelayKind.AllowDirect: {
      const lan = parseAddresses(r, MAX_LAN_CANDIDATES);
      return lan.ok ? finish(r, { type: 'allowDirect', lan: lan.value }) : lan;
    }
    case RelayKind.SendPair: {
      const to = r.u8();
      if (r.error) return err(r.error);
      return ok({ type: 'sendPair', to, data: r.rest().slice() });
    }
    default:
      return err({ kind: 'badFrameKind', value: kind });
  }
}

/** Bytes {@link emitClientMessage} writes for `m` (before validation). */
export function clientMessageLen(m: ClientMessage): number {
  switch (m.type) {
    case 'requestMatch':
      return 4 + m.info.matchData.length;
    case 'createLobby':
      return 5 + m.info.matchData.length;
    case 'joinLobby':
      return 1 + LOBBY_CODE_LEN;
    case 'listLobbies':
      return 1 + m.matchData.length;
    case 'leaveRoom':
    case 'startMatch':
      return 1;
    case 'sendProxy':
    case 'sendPair':
      return 2 + m.data.length;
    case 'rejoin':
      return 1 + REJOIN_SECRET_LEN;
    case 'allowDirect':
      return 1 + addressesLen(m.lan);
  }
}

/** Writes a game-to-relay message; values that have no encoding are errors. */
export function emitClientMessage(m: ClientMessage): Result<Uint8Array, WireError> {
  const w = new Writer(new Uint8Array(clientMessageLen(m)));
  let written: Result<void, WireError> = ok(undefined);
  switch (m.type) {
    case 'requestMatch':
      w.u8(RelayKind.RequestMatch);
      written = emitInfo(m.info, w);
      break;
    case 'createLobby':
      w.u8(RelayKind.CreateLobby);
      written = emitInfo(m.info, w);
      w.u8(m.public ? 1 : 0);
      break;
    case 'joinLobby':
      w.u8(RelayKind.JoinLobby);
      written = emitCode(m.code, w);
      break;
    case 'listLobbies':
      if (m.matchData.length > MAX_MATCH_DATA_LEN) return err({ kind: 'badLength', len: m.matchData.length });
      w.u8(RelayKind.ListLobbies);
      w.bytes(m.matchData);
      break;
    case 'leaveRoom':
      w.u8(RelayKind.LeaveRoom);
      break;
    case 'startMatch':
      w.u8(RelayKind.StartMatch);
      break;
    case 'sendProxy': {
      const target = m.target === 'allOthers' ? ALL_OTHERS : m.target;
      if (!isByte(target) || (m.target !== 'allOthers' && target === ALL_OTHERS)) {
        return err({ kind: 'badValue', what: 'proxy target' });
      }
      w.u8(RelayKind.SendProxy);
      w.u8(target);
      w.bytes(m.data);
      break;
    }
    case 'rejoin':
      if (m.secret.length !== REJOIN_SECRET_LEN) return err({ kind: 'badLength', len: m.secret.length });
      w.u8(RelayKind.Rejoin);
      w.bytes(m.secret);
      break;
    case 'allowDirect':
      w.u8(RelayKind.AllowDirect);
      written = emitAddresses(m.lan, MAX_LAN_CANDIDATES, w);
      break;
    case 'sendPair':
      if (!isByte(m.to)) return err({ kind: 'badValue', what: 'pair receiver' });
      w.u8(RelayKind.SendPair);
      w.u8(m.to);
      w.bytes(m.data);
      break;
  }
  if (!written.ok) return written;
  return w.error ? err(w.error) : ok(w.written());
}

function parseIntroduction(r: Reader): Result<Introduction, WireError> {
  const peer = r.u8();
  const key = r.bytesCopy(PAIR_KEY_LEN);
  const delayMs = r.u16();
  if (r.error) return err(r.error);
  const candidates = parseAddresses(r, MAX_CANDIDATES);
  if (!candidates.ok) return candidates;
  if (candidates.value.length === 0) return err({ kind: 'badLength', len: 0 });
  return ok({ peer, key, delayMs, candidates: candidates.value });
}

/** Reads a relay-to-game message. */
export function parseRelayMessage(bytes: Uint8Array): Result<RelayMessage, WireError> {
  const r = new Reader(bytes);
  const kind = r.u8();
  if (r.error) return err(r.error);
  switch (kind) {
    case RelayKind.Accepted:
      return finish(r, { type: 'accepted' });
    case RelayKind.WaitingCount:
      return finish(r, { type: 'waitingCount', count: r.u8() });
    case RelayKind.LobbyCreated: {
      const code = parseCode(r);
      return code.ok ? finish(r, { type: 'lobbyCreated', code: code.value }) : code;
    }
    case RelayKind.LobbyList: {
      const count = r.u8();
      if (r.error) return err(r.error);
      if (count > MAX_LOBBY_LIST) return err({ kind: 'badLength', len: count });
      const lobbies: LobbyEntry[] = [];
      for (let i = 0; i < count; i++) {
        const code = parseCode(r);
        if (!code.ok) return code;
        const players = r.u8();
        const playerCount = r.u8();
        if (r.error) return err(r.error);
        lobbies.push({ code: code.value, players, playerCount });
      }
      return finish(r, { type: 'lobbyList', lobbies });
    }
    case RelayKind.Success: {
      const randomSeed = r.u64();
      const playerIdx = r.u8();
      const playerCount = r.u8();
      const rejoinSecret = r.bytesCopy(REJOIN_SECRET_LEN);
      return finish(r, { type: 'success', randomSeed, playerIdx, playerCount, rejoinSecret });
    }
    case RelayKind.RecvProxy: {
      const from = r.u8();
      if (r.error) return err(r.error);
      return ok({ type: 'recvProxy', from, data: r.rest().slice() });
    }
    case RelayKind.PlayerLeft: {
      const idx = r.u8();
      const code = r.u8();
      if (r.error) return err(r.error);
      const reason = LEAVE_REASONS[code];
      if (reason === undefined) return err({ kind: 'badFrameKind', value: code });
      return finish(r, { type: 'playerLeft', idx, reason });
    }
    case RelayKind.PlayerRejoined:
      return finish(r, { type: 'playerRejoined', idx: r.u8() });
    case RelayKind.Error: {
      const value = r.u8();
      if (r.error) return err(r.error);
      const code = RELAY_ERROR_CODES[value];
      if (code === undefined) return err({ kind: 'badFrameKind', value });
      return finish(r, { type: 'error', code });
    }
    case RelayKind.Introduce: {
      const introduction = parseIntroduction(r);
      return introduction.ok ? finish(r, { type: 'introduce', introduction: introduction.value }) : introduction;
    }
    case RelayKind.RecvPair: {
      const from = r.u8();
      if (r.error) return err(r.error);
      return ok({ type: 'recvPair', from, data: r.rest().slice() });
    }
    case RelayKind.CheckAddress:
      return finish(r, { type: 'checkAddress', ticket: r.bytesCopy(CHECK_TICKET_LEN) });
    case RelayKind.AddressChecked: {
      const flag = r.u8();
      if (r.error) return err(r.error);
      if (flag > 1) return err({ kind: 'badFlag', value: flag });
      return finish(r, { type: 'addressChecked', perDestination: flag === 1 });
    }
    default:
      return err({ kind: 'badFrameKind', value: kind });
  }
}

/** Bytes {@link emitRelayMessage} writes for `m` (before validation). */
export function relayMessageLen(m: RelayMessage): number {
  switch (m.type) {
    case 'accepted':
      return 1;
    case 'waitingCount':
    case 'playerRejoined':
    case 'error':
    case 'addressChecked':
      return 2;
    case 'lobbyCreated':
      return 1 + LOBBY_CODE_LEN;
    case 'lobbyList':
      return 2 + m.lobbies.length * (LOBBY_CODE_LEN + 2);
    case 'success':
      return 11 + REJOIN_SECRET_LEN;
    case 'recvProxy':
    case 'recvPair':
      return 2 + m.data.length;
    case 'playerLeft':
      return 3;
    case 'introduce':
      return 1 + 3 + PAIR_KEY_LEN + addressesLen(m.introduction.candidates);
    case 'checkAddress':
      return 1 + CHECK_TICKET_LEN;
  }
}

/** Writes a relay-to-game message (the relay's side; here for tests and tools). */
export function emitRelayMessage(m: RelayMessage): Result<Uint8Array, WireError> {
  const w = new Writer(new Uint8Array(relayMessageLen(m)));
  let written: Result<void, WireError> = ok(undefined);
  const byte = (v: number, what: string): boolean => {
    if (!isByte(v)) {
      written = err({ kind: 'badValue', what });
      return false;
    }
    w.u8(v);
    return true;
  };
  switch (m.type) {
    case 'accepted':
      w.u8(RelayKind.Accepted);
      break;
    case 'waitingCount':
      w.u8(RelayKind.WaitingCount);
      byte(m.count, 'waiting count');
      break;
    case 'lobbyCreated':
      w.u8(RelayKind.LobbyCreated);
      written = emitCode(m.code, w);
      break;
    case 'lobbyList':
      if (m.lobbies.length > MAX_LOBBY_LIST) return err({ kind: 'badLength', len: m.lobbies.length });
      w.u8(RelayKind.LobbyList);
      w.u8(m.lobbies.length);
      for (const lobby of m.lobbies) {
        written = emitCode(lobby.code, w);
        if (!written.ok || !byte(lobby.players, 'players') || !byte(lobby.playerCount, 'player count')) break;
      }
      break;
    case 'success':
      if (m.rejoinSecret.length !== REJOIN_SECRET_LEN) return err({ kind: 'badLength', len: m.rejoinSecret.length });
      w.u8(RelayKind.Success);
      w.u64(m.randomSeed);
      if (byte(m.playerIdx, 'player index')) byte(m.playerCount, 'player count');
      w.bytes(m.rejoinSecret);
      break;
    case 'recvProxy':
      w.u8(RelayKind.RecvProxy);
      byte(m.from, 'sender');
      w.bytes(m.data);
      break;
    case 'playerLeft':
      w.u8(RelayKind.PlayerLeft);
      byte(m.idx, 'player index');
      w.u8(LEAVE_REASONS.indexOf(m.reason));
      break;
    case 'playerRejoined':
      w.u8(RelayKind.PlayerRejoined);
      byte(m.idx, 'player index');
      break;
    case 'error':
      w.u8(RelayKind.Error);
      w.u8(RELAY_ERROR_CODES.indexOf(m.code));
      break;
    case 'introduce': {
      const i = m.introduction;
      if (i.key.length !== PAIR_KEY_LEN) return err({ kind: 'badLength', len: i.key.length });
      if (i.candidates.length === 0) return err({ kind: 'badLength', len: 0 });
      if (!Number.isInteger(i.delayMs) || i.delayMs < 0 || i.delayMs > 0xffff) return err({ kind: 'badValue', what: 'delay' });
      w.u8(RelayKind.Introduce);
      if (!byte(i.peer, 'peer')) break;
      w.bytes(i.key);
      w.u16(i.delayMs);
      written = emitAddresses(i.candidates, MAX_CANDIDATES, w);
      break;
    }
    case 'recvPair':
      w.u8(RelayKind.RecvPair);
      byte(m.from, 'sender');
      w.bytes(m.data);
      break;
    case 'checkAddress':
      if (m.ticket.length !== CHECK_TICKET_LEN) return err({ kind: 'badLength', len: m.ticket.length });
      w.u8(RelayKind.CheckAddress);
      w.bytes(m.ticket);
      break;
    case 'addressChecked':
      w.u8(RelayKind.AddressChecked);
      w.u8(m.perDestination ? 1 : 0);
      break;
  }
  const result: Result<void, WireError> = written;
  if (!result.ok) return result;
  return w.error ? err(w.error) : ok(w.written());
}
