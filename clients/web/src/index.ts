/**
 * berth's browser client: netcode.io 1.02, berth's channels, and the berth
 * relay's matchmaking and proxying, over WebTransport datagrams.
 *
 * Layers, bottom up: `wire` (parse/emit pairs; never throws on network
 * bytes), `proto` (sans-IO state machines on an explicit clock), `relay`
 * (relay messages and the relay client), `transport` (WebTransport, token
 * fetch, timers).
 *
 * @packageDocumentation
 */
export type { Result } from './util/result.js';
export { decodeBase64, encodeBase64 } from './util/base64.js';
export type { WireError } from './wire/error.js';
export { Reader } from './wire/reader.js';
export { Writer } from './wire/writer.js';
export * from './wire/constants.js';
export * from './wire/address.js';
export * from './wire/connectToken.js';
export * from './wire/privateToken.js';
export * from './wire/challengeToken.js';
export * from './wire/prefix.js';
export * from './wire/packet.js';
export * from './wire/frame.js';
export * from './wire/frameBody.js';
export { sealChaCha, openChaCha, sealXChaCha, openXChaCha, sequenceNonce } from './crypto.js';
export { ReplayWindow, REPLAY_WINDOW_LEN } from './proto/replay.js';
export { ClientState, clientStateName, isConnecting } from './proto/clientState.js';
export { NetcodeClient, SEND_INTERVAL_MS, DISCONNECT_PACKETS, MAX_PACKETS_PER_POLL, type ClientCounters } from './proto/client.js';
export * from './proto/channel/constants.js';
export { ChannelTable, isReliable, type ChannelKind, type ChannelSpec } from './proto/channel/table.js';
export { Connection, type Message, type ReadError, type ConnectionStats } from './proto/channel/connection.js';
export type { SendError } from './proto/channel/sendError.js';
export * from './relay/types.js';
export * from './relay/messages.js';
export type { RelayEvent, RelayEventType, RelayEventOf } from './relay/events.js';
export { RelayClient, relayChannelTable, MAX_EVENTS, type RelaySendError } from './relay/client.js';
export { RelayConnection, type RelayConnectionOptions } from './relay/connection.js';
export type { DatagramTransport } from './transport/datagramTransport.js';
export { WebTransportDatagrams, type WebTransportLike, type WebTransportFactory } from './transport/webTransport.js';
export {
  fetchWebTransportToken,
  parseTicket,
  MAX_CERTIFICATE_HASHES,
  MAX_ANSWER_LEN,
  type WebTransportTicket,
  type TokenFetchError,
} from './transport/tokenFetch.js';
export { systemClock, type Clock } from './transport/clock.js';
export { Driver, type SansIoClient } from './transport/driver.js';
