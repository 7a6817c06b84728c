// A minimal netcode 1.02 server for one client, built from the library's
// wire functions: enough to drive the client state machine in tests.
import { openPrivateToken, type PrivateToken } from '../../src/wire/privateToken.js';
import { openChallengeToken, sealChallengeToken } from '../../src/wire/challengeToken.js';
import { openPacket, parsePacketHeader, parseRequest, sealPacket, type Body } from '../../src/wire/packet.js';
import { PacketType } from '../../src/wire/prefix.js';
import { ReplayWindow } from '../../src/proto/replay.js';
import { Connection } from '../../src/proto/channel/connection.js';
import type { ChannelTable } from '../../src/proto/channel/table.js';
import { bytesFrom } from './bytes.js';

export class FakeServer {
  private readonly challengeKey = bytesFrom((i) => 3 * i + 1);
  private globalSequence = 1n << 63n;
  private sequence = 0n;
  private replay = new ReplayWindow();
  private token: PrivateToken | undefined;
  /** The channel state of the connected client. */
  channels: Connection | undefined;
  connected = false;
  /** Whether the client disconnected. */
  clientDisconnected = 0;
  /** Refuse connections with a denied packet. */
  deny = false;
  /** What the server received, by type name. */
  readonly seen: Record<string, number> = {};

  constructor(
    private readonly privateKey: Uint8Array,
    private readonly protocolId: bigint,
    private readonly table: ChannelTable,
    private readonly clientIndex = 5,
    private readonly maxClients = 64,
  ) {}

  private count(kind: string): void {
    this.seen[kind] = (this.seen[kind] ?? 0) + 1;
  }

  /** Handles a datagram from the client; returns the replies. */
  handle(now: number, datagram: Uint8Array): Uint8Array[] {
    if (datagram[0] === 0) {
      this.count('request');
      const request = parseRequest(datagram);
      if (!request.ok) return [];
      const { protocolId, expireUnixSecs, nonce, privateToken } = request.value;
      const opened = openPrivateToken(privateToken, this.privateKey, protocolId, expireUnixSecs, nonce);
      if (!opened.ok || protocolId !== this.protocolId) return [];
      this.token = opened.value;
      const key = opened.value.serverToClientKey;
      if (this.deny) return [this.sealGlobal({ type: 'denied' }, key)];
      const challengeSequence = this.globalSequence;
      const sealed = sealChallengeToken(
        { clientId: opened.value.clientId, userData: opened.value.userData },
        this.challengeKey,
        challengeSequence,
      );
      if (!sealed.ok) return [];
      return [this.sealGlobal({ type: 'challenge', challengeSequence, token: sealed.value }, key)];
    }
    const token = this.token;
    if (token === undefined) return [];
    const header = parsePacketHeader(datagram);
    if (!header.ok) return [];
    const protectedType = [PacketType.KeepAlive, PacketType.Payload, PacketType.Disconnect].includes(
      header.value.packetType as 4 | 5 | 6,
    );
    if (protectedType && this.replay.isReplay(header.value.sequence)) return [];
    const body = openPacket(datagram, header.value, this.protocolId, token.clientToServerKey);
    if (!body.ok) return [];
    if (protectedType) this.replay.advance(header.value.sequence);
    this.count(body.value.type);
    switch (body.value.type) {
      case 'response': {
        const opened = openChallengeToken(body.value.token, this.challengeKey, body.value.challengeSequence);
        if (!opened.ok) return [];
        if (!this.connected) {
          this.connected = true;
          this.channels = new Connection(this.table);
        }
        return [this.seal({ type: 'keepAlive', clientIndex: this.clientIndex, maxClients: this.maxClients })];
      }
      case 'payload':
        this.channels?.readPacket(now, Number(header.value.sequence), body.value.bytes);
        return [];
      case 'disconnect':
        this.clientDisconnected += 1;
        this.connected = false;
        return [];
      default:
        return [];
    }
  }

  /** Channel packets due now, sealed. */
  pollTransmit(now: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const channels = this.channels;
    if (!this.connected || channels === undefined) return out;
    for (let i = 0; i < 64 && channels.wantsToSend(now); i++) {
      const payload = channels.writePacket(now, Number(this.sequence));
      if (payload === undefined) break;
      out.push(this.seal({ type: 'payload', bytes: payload }));
    }
    return out;
  }

  /** A packet sealed with the next per-client sequence. */
  seal(body: Body): Uint8Array {
    const key = this.token?.serverToClientKey ?? new Uint8Array(32);
    const sealed = sealPacket(body, this.sequence, this.protocolId, key);
    this.sequence += 1n;
    if (!sealed.ok) throw new Error('seal failed');
    return sealed.value;
  }

  /** A packet sealed with a given sequence (for replay tests). */
  sealAt(body: Body, sequence: bigint): Uint8Array {
    const key = this.token?.serverToClientKey ?? new Uint8Array(32);
    const sealed = sealPacket(body, sequence, this.protocolId, key);
    if (!sealed.ok) throw new Error('seal failed');
    return sealed.value;
  }

  private sealGlobal(body: Body, key: Uint8Array): Uint8Array {
    const sealed = sealPacket(body, this.globalSequence, this.protocolId, key);
    this.globalSequence += 1n;
    if (!sealed.ok) throw new Error('seal failed');
    return sealed.value;
  }
}
