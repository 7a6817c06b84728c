// @ts-check
/**
 * Headless Chromium for the e2e runner: the system's `/usr/bin/chromium`
 * on a fresh temporary profile that is always removed, and page problems
 * forwarded to stderr.
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

/** The browser binary (override with `BERTH_CHROMIUM`). */
export const CHROMIUM = process.env['BERTH_CHROMIUM'] ?? '/usr/bin/chromium';

/** Chromium flags: quiet, no sandbox (containers run as root), no GPU. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-gpu',
];

/**
 * A running browser.
 * @typedef {object} Browser
 * @property {import('playwright-core').BrowserContext} context Its persistent context.
 * @property {string} profile Its temporary profile folder.
 * @property {() => Promise<void>} close Closes Chromium (killing it after `timeoutMs`) and removes the profile.
 */

/**
 * Launches Chromium headless on a new temporary profile. The profile is
 * also removed when the process exits, whatever way (Playwright kills the
 * browser first on exit).
 * @param {number} timeoutMs How long launching and closing may take.
 * @returns {Promise<Browser>}
 */
export async function launchBrowser(timeoutMs) {
  const profile = mkdtempSync(join(tmpdir(), 'berth-e2e-chromium-'));
  const removeProfile = () => rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  // A backstop should the process exit while launching.
  process.once('exit', removeProfile);
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: timeoutMs,
    });
  } catch (e) {
    removeProfile();
    throw e;
  }
  // Again, now after Playwright's own exit handler, which kills the browser first.
  process.once('exit', removeProfile);
  const launched = context;
  let closed = false;
  return {
    context: launched,
    profile,
    close: async () => {
      if (closed) return;
      closed = true;
      /** @type {ReturnType<typeof setTimeout> | undefined} */
      let timer;
      const gaveUp = new Promise((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      await Promise.race([launched.close().catch(() => undefined), gaveUp]);
      clearTimeout(timer);
      removeProfile();
    },
  };
}

/**
 * Forwards `page`'s console errors and warnings and its uncaught
 * exceptions to stderr; calls `onFatal` for uncaught exceptions and crashes.
 * @param {import('playwright-core').Page} page
 * @param {string} label
 * @param {(why: string) => void} onFatal
 */
export function watchPage(page, label, onFatal) {
  page.on('console', (message) => {
    const type = message.type();
    if (type === 'error' || type === 'warning') process.stderr.write(`[${label} console.${type}] ${message.text()}\n`);
  });
  page.on('pageerror', (error) => {
    process.stderr.write(`[${label} uncaught] ${error.stack ?? error.message}\n`);
    onFatal(`${label}: uncaught exception: ${error.message}`);
  });
  page.on('crash', () => onFatal(`${label}: the page crashed`));
}
