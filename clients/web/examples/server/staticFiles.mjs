// @ts-check
/**
 * Serves files read-only from a few roots, each under a URL prefix, and
 * refuses any path that would leave its root (`..`, encoded separators,
 * symlinks pointing out).
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';

/**
 * One served root.
 * @typedef {object} StaticRoot
 * @property {string} prefix URL prefix, starting and ending with `/`.
 * @property {string} dir Directory it maps to.
 * @property {readonly string[] | undefined} [extensions] File extensions served (all if absent), like `.html`.
 */

/** @type {Readonly<Record<string, string>>} */
const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/**
 * Where `pathname` (URL-encoded) lies on disk, if it is under one of `roots`
 * and allowed there; `undefined` otherwise. Does not touch the disk.
 * @param {readonly StaticRoot[]} roots
 * @param {string} pathname
 * @returns {{ root: StaticRoot, file: string } | undefined}
 */
export function locate(roots, pathname) {
  let decoded;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  for (const root of roots) {
    if (!decoded.startsWith(root.prefix)) continue;
    let rest = decoded.slice(root.prefix.length);
    if (rest === '' || rest.endsWith('/')) rest += 'index.html';
    const base = resolve(root.dir);
    const file = resolve(base, rest);
    if (!file.startsWith(base + sep)) return undefined;
    if (root.extensions !== undefined && !root.extensions.includes(extname(file))) return undefined;
    return { root, file };
  }
  return undefined;
}

/**
 * Answers a GET or HEAD for `pathname` from `roots`: 200 with the file,
 * 301 to add a missing trailing slash on a directory, or 404.
 * @param {readonly StaticRoot[]} roots
 * @param {string} pathname
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 * @returns {Promise<void>}
 */
export async function serveStatic(roots, pathname, req, res) {
  const found = locate(roots, pathname);
  try {
    const info = found === undefined ? undefined : await stat(found.file).catch(() => undefined);
    if (found === undefined || info === undefined || !info.isFile()) {
      // `/examples/coins` → `/examples/coins/`, so the page's relative URLs work.
      const asDir = pathname.endsWith('/') ? undefined : locate(roots, `${pathname}/`);
      const index = asDir === undefined ? undefined : await stat(asDir.file).catch(() => undefined);
      if (index?.isFile()) {
        res.writeHead(301, { location: `${pathname}/` });
        res.end();
        return;
      }
      return notFound(res);
    }
    const real = await realpath(found.file);
    const realBase = await realpath(resolve(found.root.dir));
    if (!real.startsWith(realBase + sep)) return notFound(res);
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(real)] ?? 'application/octet-stream',
      'content-length': info.size,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(real).on('error', () => res.destroy()).pipe(res);
  } catch {
    notFound(res);
  }
}

/** @param {import('node:http').ServerResponse} res */
function notFound(res) {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('not found\n');
}
