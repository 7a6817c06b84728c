/**
 * The browser's datagram path: a WebTransport session's unreliable
 * datagrams (`transport.datagrams`), one netcode packet per datagram.
 *
 * @packageDocumentation
 */
import type { DatagramTransport } from './datagramTransport.js';

/** The parts of the DOM `WebTransport` this adapter uses (so tests can fake it). */
export interface WebTransportLike {
  /** Resolves once the session is up. */
  readonly ready: Promise<unknown>;
  /**
   * Resolves once the session is closed (with the close code and reason,
   * a `WebTransportCloseInfo`, when the other side gave them), or rejects
   * when it was lost.
   */
  readonly closed: Promise<unknown>;
  /** The datagram streams. */
  readonly datagrams: {
    readonly readable: ReadableStream<Uint8Array>;
    readonly writable: WritableStream<Uint8Array>;
    readonly maxDatagramSize?: number;
  };
  /** Closes the session. */
  close(): void;
}

/** Makes a WebTransport session: `new WebTransport(url, options)` in a browser. */
export type WebTransportFactory = (url: string, options: WebTransportOptions) => WebTransportLike;

/** The global `WebTransport` constructor, if this runtime has one. */
const browserFactory: WebTransportFactory = (url, options) => {
  const ctor = (globalThis as { WebTransport?: new (url: string, options: WebTransportOptions) => WebTransportLike })
    .WebTransport;
  if (ctor === undefined) throw new Error('this runtime has no WebTransport');
  return new ctor(url, options);
};

/**
 * Why a session closed, from what `WebTransport.closed` resolved with: the
 * other side's reason and code when it gave them (a berth server sends
 * `server closing` 0, `no datagram after opening` 1, `idle` 2, streams 3,
 * another session on the address 4).
 */
export function describeClose(info: unknown): string {
  if (typeof info === 'object' && info !== null) {
    const { closeCode, reason } = info as { closeCode?: unknown; reason?: unknown };
    if (typeof closeCode === 'number') {
      const why = typeof reason === 'string' && reason !== '' ? reason : 'no reason given';
      return `closed by the server: ${why} (code ${closeCode})`;
    }
  }
  return 'closed';
}

/** A {@link DatagramTransport} over a WebTransport session's datagrams. */
export class WebTransportDatagrams implements DatagramTransport {
  private receive: ((bytes: Uint8Array) => void) | undefined;
  private closedCallbacks: ((reason: string) => void)[] = [];
  private closedReason: string | undefined;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;

  private constructor(private readonly session: WebTransportLike) {
    this.writer = session.datagrams.writable.getWriter();
    // Registered before the read loop can wait on `closed`, so the
    // session's own reason is the one reported.
    session.closed.then(
      (info: unknown) => this.finish(describeClose(info)),
      (e: unknown) => this.finish(e instanceof Error ? e.message : String(e)),
    );
    void this.readLoop();
  }

  /**
   * Opens a session to `url`, accepting only certificates whose SHA-256 is
   * one of `certificateHashes` (for the relay's self-signed certificate),
   * and resolves once it is ready. Rejects if the session fails to open.
   */
  static async open(
    url: string,
    certificateHashes: readonly Uint8Array[],
    factory: WebTransportFactory = browserFactory,
  ): Promise<WebTransportDatagrams> {
    const options: WebTransportOptions =
      certificateHashes.length === 0
        ? {}
        : {
            serverCertificateHashes: certificateHashes.map((h) => ({
              algorithm: 'sha-256',
              value: new Uint8Array(h),
            })),
          };
    const session = factory(url, options);
    await session.ready;
    return new WebTransportDatagrams(session);
  }

  /** The largest datagram the session can send, when the runtime says. */
  get maxDatagramSize(): number | undefined {
    return this.session.datagrams.maxDatagramSize;
  }

  /**
   * Why the session closed, once it has: for a berth server's close, its
   * reason and code, such as `closed by the server: idle (code 2)`.
   */
  get closeReason(): string | undefined {
    return this.closedReason;
  }

  /** Sends one datagram; failures (a closed session, a full queue) drop it, as the network would. */
  send(bytes: Uint8Array): void {
    if (this.closedReason !== undefined) return;
    this.writer.write(bytes).catch(() => undefined);
  }

  /** Registers the receiver of datagrams. */
  onDatagram(receive: (bytes: Uint8Array) => void): void {
    this.receive = receive;
  }

  /** Registers a callback for when the session closes (at once if it has). */
  onClose(closed: (reason: string) => void): void {
    if (this.closedReason !== undefined) closed(this.closedReason);
    else this.closedCallbacks.push(closed);
  }

  /** Closes the session. */
  close(): void {
    try {
      this.session.close();
    } catch {
      // Closing twice is not an error worth reporting.
    }
    this.finish('closed by this side');
  }

  private async readLoop(): Promise<void> {
    const reader = this.session.datagrams.readable.getReader();
    let ended = 'datagram stream ended';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (value !== undefined) this.receive?.(value);
      }
    } catch (e) {
      ended = e instanceof Error ? e.message : String(e);
    }
    // The stream ends with the session, often before `closed` settles:
    // the session's reason (the server's code and why) comes first.
    await this.session.closed.catch(() => undefined);
    this.finish(ended);
  }

  private finish(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    const callbacks = this.closedCallbacks;
    this.closedCallbacks = [];
    for (const cb of callbacks) cb(reason);
  }
}
