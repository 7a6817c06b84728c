// A Node-only DatagramTransport over UDP (node:dgram), for tests against
// the real relay. Not part of the library: browsers have no UDP.
import dgram from 'node:dgram';
import type { DatagramTransport } from '../../src/transport/datagramTransport.js';

export class UdpTransport implements DatagramTransport {
  private receive: ((bytes: Uint8Array) => void) | undefined;
  private closedCallbacks: ((reason: string) => void)[] = [];
  private closed = false;
  /** Datagrams sent and received, for the test's report. */
  readonly counts = { sent: 0, received: 0 };

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly host: string,
    private readonly port: number,
  ) {
    socket.on('message', (msg, rinfo) => {
      if (rinfo.address !== host || rinfo.port !== port) return;
      this.counts.received++;
      this.receive?.(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
    });
    socket.on('close', () => this.finish('socket closed'));
    socket.on('error', (e) => this.finish(e.message));
  }

  /** A socket on 127.0.0.1, talking to `host:port`. */
  static async open(host: string, port: number): Promise<UdpTransport> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new UdpTransport(socket, host, port);
  }

  send(bytes: Uint8Array): void {
    if (this.closed) return;
    this.counts.sent++;
    this.socket.send(bytes, this.port, this.host);
  }

  onDatagram(receive: (bytes: Uint8Array) => void): void {
    this.receive = receive;
  }

  onClose(closed: (reason: string) => void): void {
    this.closedCallbacks.push(closed);
  }

  close(): void {
    if (this.closed) return;
    // Let queued sends (the disconnect packets) leave before the socket goes.
    setImmediate(() => this.socket.close());
    this.closed = true;
  }

  private finish(reason: string): void {
    this.closed = true;
    for (const cb of this.closedCallbacks.splice(0)) cb(reason);
  }
}
