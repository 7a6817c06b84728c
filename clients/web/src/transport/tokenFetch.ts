/**
 * Getting a relay token and WebTransport endpoint from the game's HTTP
 * service: `POST` to it, and it answers JSON
 * `{ "token": base64 of 2048 bytes, "url": "https://…", "certificateHashes": [base64 of 32 bytes, …] }`.
 *
 * @packageDocumentation
 */
import { decodeBase64 } from '../util/base64.js';
import { err, ok, type Result } from '../util/result.js';
import { TOKEN_LEN } from '../wire/constants.js';

/** What {@link fetchWebTransportToken} returns: everything needed to connect. */
export interface WebTransportTicket {
  /** The 2048-byte connect token. */
  readonly token: Uint8Array;
  /** The relay's WebTransport URL (`https://…`). */
  readonly url: string;
  /** SHA-256 hashes of the certificates the browser should accept (32 bytes each). */
  readonly certificateHashes: readonly Uint8Array[];
}

/** Why a ticket could not be had. */
export type TokenFetchError =
  | { readonly kind: 'network'; readonly message: string }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'badJson' }
  | { readonly kind: 'badField'; readonly field: 'token' | 'url' | 'certificateHashes' };

/** Most certificate hashes accepted: more is not a sane answer. */
export const MAX_CERTIFICATE_HASHES = 16;

/** Longest answer read, characters: a token and a few hashes take under 4 KiB. */
export const MAX_ANSWER_LEN = 64 * 1024;

/** Reads and validates the service's JSON answer (already parsed from text). */
export function parseTicket(json: unknown): Result<WebTransportTicket, TokenFetchError> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return err({ kind: 'badJson' });
  const record = json as Record<string, unknown>;
  const tokenText = record['token'];
  const token = typeof tokenText === 'string' ? decodeBase64(tokenText) : undefined;
  if (token === undefined || token.length !== TOKEN_LEN) return err({ kind: 'badField', field: 'token' });
  const url = record['url'];
  if (typeof url !== 'string' || !isHttpsUrl(url)) return err({ kind: 'badField', field: 'url' });
  const hashes = record['certificateHashes'];
  if (!Array.isArray(hashes) || hashes.length > MAX_CERTIFICATE_HASHES) {
    return err({ kind: 'badField', field: 'certificateHashes' });
  }
  const certificateHashes: Uint8Array[] = [];
  for (const h of hashes) {
    const bytes = typeof h === 'string' ? decodeBase64(h) : undefined;
    if (bytes === undefined || bytes.length !== 32) return err({ kind: 'badField', field: 'certificateHashes' });
    certificateHashes.push(bytes);
  }
  return ok({ token, url, certificateHashes });
}

function isHttpsUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' && url.host.length > 0;
  } catch {
    return false;
  }
}

/**
 * `POST`s to `endpoint` and reads its ticket. `fetchImpl` defaults to the
 * global `fetch` (pass another for tests or to add headers).
 */
export async function fetchWebTransportToken(
  endpoint: string,
  fetchImpl: (input: string, init: RequestInit) => Promise<Response> = (input, init) => fetch(input, init),
): Promise<Result<WebTransportTicket, TokenFetchError>> {
  let response: Response;
  try {
    response = await fetchImpl(endpoint, { method: 'POST' });
  } catch (e) {
    return err({ kind: 'network', message: e instanceof Error ? e.message : String(e) });
  }
  if (!response.ok) return err({ kind: 'status', status: response.status });
  let json: unknown;
  try {
    const text = await response.text();
    if (text.length > MAX_ANSWER_LEN) return err({ kind: 'badJson' });
    json = JSON.parse(text);
  } catch {
    return err({ kind: 'badJson' });
  }
  return parseTicket(json);
}
