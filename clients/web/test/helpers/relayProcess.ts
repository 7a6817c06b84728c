// Starts the real berth-relay binary on free ports and stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunningRelay {
  /** UDP address the relay serves, `ip:port`. */
  readonly udp: string;
  /** The token service URL. */
  readonly tokenUrl: string;
  /** Everything it wrote to stdout and stderr. */
  readonly output: () => string;
  /** Stops it (SIGINT, then SIGKILL after 5 s) and removes its temp dir. */
  readonly stop: () => Promise<void>;
}

const ADDRESS_LINE = /relay on (\S+) \(tokens name (\S+)\); token service on (http:\/\/\S+\/token)/;

/** Runs `bin` with `--bind 127.0.0.1:0 --http 127.0.0.1:0` and a fresh key file; resolves once it prints its addresses. */
export async function startRelay(bin: string, timeoutMs = 15_000): Promise<RunningRelay> {
  if (!existsSync(bin)) throw new Error(`no relay binary at ${bin}`);
  const dir = mkdtempSync(join(tmpdir(), 'berth-web-relay-'));
  const child: ChildProcess = spawn(
    bin,
    ['--bind', '127.0.0.1:0', '--http', '127.0.0.1:0', '--key-file', join(dir, 'keys', 'relay.key')],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env['RUST_LOG'] ?? 'warn' } },
  );
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const match = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`relay printed no address within ${timeoutMs} ms:\n${output}`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const m = ADDRESS_LINE.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`relay exited (${code}) before printing its address:\n${output}`));
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    return { udp: match[2] ?? '', tokenUrl: match[3] ?? '', output: () => output, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
