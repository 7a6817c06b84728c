/**
 * Where a netcode client is, with the reference implementation's numeric
 * codes (negative: failed; 0: disconnected; positive: trying or connected).
 */
export const ClientState = {
  /** The token expired before a server admitted the client (−6). */
  ConnectTokenExpired: -6,
  /** The token could not be read (−5). */
  InvalidConnectToken: -5,
  /** A connected server went silent for the token's timeout (−4). */
  ConnectionTimedOut: -4,
  /** No server answered the response for the token's timeout (−3). */
  ConnectionResponseTimedOut: -3,
  /** No server answered the request for the token's timeout (−2). */
  ConnectionRequestTimedOut: -2,
  /** Every server was full (−1). */
  ConnectionDenied: -1,
  /** Not connected, not trying (0). */
  Disconnected: 0,
  /** Sending connection requests (1). */
  SendingConnectionRequest: 1,
  /** Sending challenge responses (2). */
  SendingConnectionResponse: 2,
  /** Connected (3). */
  Connected: 3,
} as const;

/** A client state code. */
export type ClientState = (typeof ClientState)[keyof typeof ClientState];

/** The name of a state code, for logs and events. */
export function clientStateName(state: ClientState): string {
  for (const [name, code] of Object.entries(ClientState)) if (code === state) return name;
  return String(state);
}

/** Whether the handshake is under way. */
export function isConnecting(state: ClientState): boolean {
  return state === ClientState.SendingConnectionRequest || state === ClientState.SendingConnectionResponse;
}
