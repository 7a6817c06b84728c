/**
 * Opening a relay session from a page: fetch a WebTransport ticket from the
 * page's own origin (the example server proxies `POST /token` to the
 * relay), open the WebTransport session, and wrap it in a
 * {@link RelayConnection}.
 *
 * @packageDocumentation
 */
import { fetchWebTransportToken, RelayConnection, WebTransportDatagrams } from '../../src/index.js';

/** Where pages ask for a ticket: the example server's proxy to the relay's token service. */
export const TOKEN_ENDPOINT = '/token?transport=webtransport';

/** A relay connection that has not started connecting: register listeners, then call `start`. */
export interface PendingRelay {
  /** The connection; listeners registered before `start` see every event. */
  readonly relay: RelayConnection;
  /** Starts the netcode handshake with the fetched token. */
  readonly start: () => void;
}

/** Fetches a ticket and opens the WebTransport session; throws with a readable reason on failure. */
export async function openRelay(endpoint: string = TOKEN_ENDPOINT): Promise<PendingRelay> {
  const ticket = await fetchWebTransportToken(endpoint);
  if (!ticket.ok) throw new Error(`no relay ticket: ${JSON.stringify(ticket.error)}`);
  const { token, url, certificateHashes } = ticket.value;
  const transport = await WebTransportDatagrams.open(url, certificateHashes);
  const relay = new RelayConnection(transport);
  return { relay, start: () => relay.connect(token) };
}
