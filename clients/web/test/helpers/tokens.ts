import type { SocketAddress } from '../../src/wire/address.js';
import { emitConnectToken, type ConnectToken } from '../../src/wire/connectToken.js';
import { sealPrivateToken } from '../../src/wire/privateToken.js';
import { bytesFrom } from './bytes.js';

/** The known-answer vector's inputs (tests/known_answers.rs). */
export const KA = {
  protocolId: 0x1122_3344_5566_7788n,
  clientId: 0x0102_0304_0506_0708n,
  create: 1_720_000_000n,
  expire: 1_720_000_100n,
  challengeSequence: 1000n,
  packetSequence: 0x11_2233_4455n,
  privateKey: new Uint8Array([
    0x60, 0x6a, 0xbe, 0x6e, 0xc9, 0x19, 0x10, 0xea, 0x9a, 0x65, 0x62, 0xf6, 0x6f, 0x2b, 0x30, 0xe4, 0x43, 0x71, 0xd6,
    0x2c, 0xd1, 0x99, 0x27, 0x26, 0x6b, 0x3c, 0x60, 0xf4, 0xb7, 0x15, 0xab, 0xa1,
  ]),
  c2sKey: bytesFrom((i) => i),
  s2cKey: bytesFrom((i) => 255 - i),
  nonce: bytesFrom((i) => 100 + i, 24),
  userData: bytesFrom((i) => i, 256),
  addresses: [
    { family: 4, octets: [127, 0, 0, 1], port: 40000 },
    { family: 6, groups: [0, 0, 0, 0, 0, 0, 0, 1], port: 50000 },
  ] as SocketAddress[],
  timeoutSecs: 15,
};

/** What a token builder needs. */
export interface TokenInputs {
  protocolId: bigint;
  clientId: bigint;
  create: bigint;
  expire: bigint;
  privateKey: Uint8Array;
  c2sKey: Uint8Array;
  s2cKey: Uint8Array;
  nonce: Uint8Array;
  userData: Uint8Array;
  addresses: SocketAddress[];
  timeoutSecs: number;
}

/** Builds a connect token as the Rust `ConnectTokenBuilder` does (same addresses public and private). */
export function buildToken(inputs: TokenInputs): { token: ConnectToken; bytes: Uint8Array } {
  const sealed = sealPrivateToken(
    {
      clientId: inputs.clientId,
      timeoutSecs: inputs.timeoutSecs,
      serverAddresses: inputs.addresses,
      clientToServerKey: inputs.c2sKey,
      serverToClientKey: inputs.s2cKey,
      userData: inputs.userData,
    },
    inputs.privateKey,
    inputs.protocolId,
    inputs.expire,
    inputs.nonce,
  );
  if (!sealed.ok) throw new Error(`seal failed: ${JSON.stringify(sealed.error)}`);
  const token: ConnectToken = {
    protocolId: inputs.protocolId,
    createUnixSecs: inputs.create,
    expireUnixSecs: inputs.expire,
    nonce: inputs.nonce,
    privateToken: sealed.value,
    timeoutSecs: inputs.timeoutSecs,
    serverAddresses: inputs.addresses,
    clientToServerKey: inputs.c2sKey,
    serverToClientKey: inputs.s2cKey,
  };
  const bytes = emitConnectToken(token);
  if (!bytes.ok) throw new Error(`emit failed: ${JSON.stringify(bytes.error)}`);
  return { token, bytes: bytes.value };
}

/** The known-answer token. */
export function kaToken(): { token: ConnectToken; bytes: Uint8Array } {
  return buildToken({ ...KA });
}
