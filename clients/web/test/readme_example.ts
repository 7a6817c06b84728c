// The README's usage example, type-checked by the build (never run: it needs a browser).
import { fetchWebTransportToken, RelayConnection, WebTransportDatagrams } from '../src/index.js';

export async function readmeExample(): Promise<RelayConnection> {
  const ticket = await fetchWebTransportToken('/relay-token');
  if (!ticket.ok) throw new Error(`no ticket: ${JSON.stringify(ticket.error)}`);
  const transport = await WebTransportDatagrams.open(ticket.value.url, ticket.value.certificateHashes);
  const relay = new RelayConnection(transport);
  relay.on('connected', () => {
    relay.requestMatch(2, new TextEncoder().encode('duel v1'));
  });
  relay.on('matched', ({ playerIdx, playerCount, randomSeed }) => {
    console.log(`player ${playerIdx} of ${playerCount}, seed ${randomSeed}`);
    relay.sendTo('allOthers', new TextEncoder().encode('hello'), true);
  });
  relay.on('message', ({ from, data, reliable }) => {
    console.log(`from ${from} (${reliable ? 'reliable' : 'unreliable'}):`, data);
  });
  relay.on('playerLeft', ({ idx, reason }) => console.log(`player ${idx} left: ${reason}`));
  relay.on('error', ({ code }) => console.warn(`relay refused: ${code}`));
  // closeReason: the server's own words when it closed the session,
  // such as 'closed by the server: server closing (code 0)'.
  relay.on('disconnected', ({ reason, closeReason }) => console.log(`disconnected: ${closeReason ?? `state ${reason}`}`));
  relay.connect(ticket.value.token);
  return relay;
}
