#!/usr/bin/env node
// @ts-check
/**
 * The examples' static server: serves the built client (`dist/`), the
 * example and e2e pages (`examples/`, `e2e/`: HTML and CSS only) and
 * `node_modules/@noble/ciphers` read-only on http://localhost, and proxies
 * `POST /token` and `POST /token?transport=webtransport` to the relay.
 *
 *     node examples/serve.mjs --relay-http 127.0.0.1:8080 [--port 8000]
 *
 * Its first line on stdout is `serving http://localhost:PORT/`.
 *
 * @module
 */
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serveStatic } from './server/staticFiles.mjs';
import { TOKEN_QUERIES, parseHostPort, proxyToken } from './server/tokenProxy.mjs';

/** The package folder (clients/web). */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** @type {readonly import('./server/staticFiles.mjs').StaticRoot[]} */
const ROOTS = [
  { prefix: '/dist/', dir: join(PACKAGE_ROOT, 'dist') },
  { prefix: '/examples/', dir: join(PACKAGE_ROOT, 'examples'), extensions: ['.html', '.css'] },
  { prefix: '/e2e/', dir: join(PACKAGE_ROOT, 'e2e'), extensions: ['.html', '.css'] },
  { prefix: '/node_modules/@noble/ciphers/', dir: join(PACKAGE_ROOT, 'node_modules', '@noble', 'ciphers'), extensions: ['.js', '.json'] },
];

/**
 * A running server.
 * @typedef {object} RunningServer
 * @property {string} url `http://localhost:PORT/`
 * @property {number} port The port it listens on (127.0.0.1).
 * @property {() => Promise<void>} close Stops it, dropping open connections.
 */

/**
 * Starts the server on 127.0.0.1:`port` (0: any free port).
 * @param {{ relayHttp: string, port?: number }} options `relayHttp`: the relay's `--http` address, `host:port`.
 * @returns {Promise<RunningServer>}
 */
export async function startServer({ relayHttp, port = 0 }) {
  const relay = parseHostPort(relayHttp);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/token') {
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end();
      } else if (!TOKEN_QUERIES.includes(url.search)) {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('unknown token query\n');
      } else {
        proxyToken(relay, url.search, res);
      }
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url.pathname === '/') {
      res.writeHead(302, { location: '/examples/coins/' }).end();
      return;
    }
    serveStatic(ROOTS, url.pathname, req, res).catch(() => res.destroy());
  });
  await new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolveListen(undefined);
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
  return {
    url: `http://localhost:${address.port}/`,
    port: address.port,
    close: () =>
      new Promise((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose(undefined));
      }),
  };
}

/**
 * Reads `--relay-http HOST:PORT` and `--port N`.
 * @param {readonly string[]} args
 * @returns {{ relayHttp: string, port: number }}
 */
function parseArgs(args) {
  let relayHttp;
  let port = 8000;
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    const value = args[i + 1];
    if (flag === '--relay-http' && value !== undefined) relayHttp = value;
    else if (flag === '--port' && value !== undefined && /^\d+$/.test(value) && Number(value) < 65536) port = Number(value);
    else throw new Error(`usage: node examples/serve.mjs --relay-http HOST:PORT [--port N] (bad argument ${flag})`);
    i++;
  }
  if (relayHttp === undefined) throw new Error('usage: node examples/serve.mjs --relay-http HOST:PORT [--port N]');
  return { relayHttp, port };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const running = await startServer(parseArgs(process.argv.slice(2)));
    process.stdout.write(`serving ${running.url}\n`);
    const stop = () => void running.close().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } catch (e) {
    process.stderr.write(`serve: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
}
