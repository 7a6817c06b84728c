// @ts-check
/**
 * Forwards a page's `POST /token` and `POST /token?transport=webtransport`
 * to the relay's HTTP token service (pages cannot reach it cross-origin).
 *
 * @module
 */
import { request } from 'node:http';

/** Longest answer forwarded, bytes (a token with a few hashes is under 4 KiB). */
export const MAX_TOKEN_ANSWER = 64 * 1024;

/** The query strings forwarded: none, or the WebTransport one. */
export const TOKEN_QUERIES = ['', '?transport=webtransport'];

/**
 * `host:port` → its parts; throws on anything else.
 * @param {string} text
 * @returns {{ host: string, port: number }}
 */
export function parseHostPort(text) {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(text);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || m[1] === undefined || !(port > 0 && port < 65536)) {
    throw new Error(`not a host:port: ${JSON.stringify(text)}`);
  }
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

/**
 * Forwards the request to the relay's `POST /token{search}` and relays the
 * answer (status, content type, body); 502 if the relay cannot be reached.
 * @param {{ host: string, port: number }} relay
 * @param {string} search `''` or `'?transport=webtransport'`
 * @param {import('node:http').ServerResponse} res
 * @returns {void}
 */
export function proxyToken(relay, search, res) {
  const upstream = request(
    { host: relay.host, port: relay.port, method: 'POST', path: `/token${search}`, timeout: 10_000 },
    (answer) => {
      /** @type {Buffer[]} */
      const chunks = [];
      let length = 0;
      answer.on('data', (/** @type {Buffer} */ chunk) => {
        length += chunk.length;
        if (length > MAX_TOKEN_ANSWER) {
          answer.destroy();
          fail(res, 'the relay answered too much');
          return;
        }
        chunks.push(chunk);
      });
      answer.on('end', () => {
        if (res.headersSent) return;
        const body = Buffer.concat(chunks);
        res.writeHead(answer.statusCode ?? 502, {
          'content-type': answer.headers['content-type'] ?? 'application/octet-stream',
          'content-length': body.length,
          'cache-control': 'no-store',
        });
        res.end(body);
      });
      answer.on('error', (e) => fail(res, e.message));
    },
  );
  upstream.on('timeout', () => upstream.destroy(new Error('the relay did not answer in time')));
  upstream.on('error', (e) => fail(res, e.message));
  upstream.end();
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {string} why
 */
function fail(res, why) {
  if (res.headersSent) return;
  res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`token proxy: ${why}\n`);
}
