// @ts-check
/**
 * The runner's conversation with its parent: one JSON object per line out
 * on stdout (steps), one per line in on stdin (commands).
 *
 * @module
 */
import { createInterface } from 'node:readline';

/**
 * Writes `object` as one line on stdout; resolves once it is handed to the OS.
 * @param {Record<string, unknown>} object
 * @returns {Promise<void>}
 */
export function emit(object) {
  return new Promise((resolve) => {
    process.stdout.write(`${JSON.stringify(object)}\n`, () => resolve());
  });
}

/** Commands read from stdin, in order; each awaited with a deadline. */
export class CommandReader {
  /** @type {Record<string, unknown>[]} */
  #queue = [];
  /** @type {((command: Record<string, unknown>) => void) | undefined} */
  #waiting;
  /** @type {string | undefined} */
  #ended;
  /** @type {((why: string) => void) | undefined} */
  #onEnd;

  /** @type {(why: string) => void} */
  #onClose;

  /**
   * Starts reading `input` (stdin by default); `onClose` hears when it ends
   * or sends something unreadable (the parent is gone or broken).
   * @param {(why: string) => void} onClose
   * @param {NodeJS.ReadableStream} input
   */
  constructor(onClose, input = process.stdin) {
    this.#onClose = onClose;
    const lines = createInterface({ input, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (line.trim() === '') return;
      let parsed;
      try {
        parsed = JSON.parse(line);
      } catch {
        this.#end(`stdin: not JSON: ${line.slice(0, 200)}`);
        return;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        this.#end(`stdin: not a JSON object: ${line.slice(0, 200)}`);
        return;
      }
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting !== undefined) waiting(parsed);
      else this.#queue.push(parsed);
    });
    lines.on('close', () => this.#end('stdin closed'));
  }

  /**
   * Resolves with the next command if its `cmd` is `name`; rejects if it is
   * another, if stdin ends or breaks first, or after `timeoutMs`.
   * @param {string} name
   * @param {number} timeoutMs
   * @returns {Promise<void>}
   */
  expect(name, timeoutMs) {
    return new Promise((resolve, reject) => {
      /** @param {Record<string, unknown>} command */
      const check = (command) => {
        clearTimeout(timer);
        this.#onEnd = undefined;
        if (command['cmd'] === name) resolve();
        else reject(new Error(`expected {"cmd":"${name}"}, got ${JSON.stringify(command)}`));
      };
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        this.#onEnd = undefined;
        reject(new Error(`no {"cmd":"${name}"} within ${timeoutMs} ms`));
      }, timeoutMs);
      const queued = this.#queue.shift();
      if (queued !== undefined) return check(queued);
      if (this.#ended !== undefined) {
        clearTimeout(timer);
        return reject(new Error(`${this.#ended} before {"cmd":"${name}"}`));
      }
      this.#waiting = check;
      this.#onEnd = (why) => {
        clearTimeout(timer);
        this.#waiting = undefined;
        reject(new Error(`${why} before {"cmd":"${name}"}`));
      };
    });
  }

  /** @param {string} why */
  #end(why) {
    if (this.#ended !== undefined) return;
    this.#ended = why;
    const onEnd = this.#onEnd;
    this.#onEnd = undefined;
    onEnd?.(why);
    this.#onClose(why);
  }
}
