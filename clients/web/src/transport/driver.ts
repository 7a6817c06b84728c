/**
 * Runs a sans-IO client on a {@link DatagramTransport} and a {@link Clock}:
 * every received datagram is handled at once, and a timer wakes the client
 * at its next deadline. After each step it sends what the client has due
 * and calls `afterStep` (where events are dispatched).
 *
 * @packageDocumentation
 */
import type { Clock } from './clock.js';
import type { DatagramTransport } from './datagramTransport.js';

/** What a driver drives: the sans-IO call surface of {@link NetcodeClient} and {@link RelayClient}. */
export interface SansIoClient {
  /** Handles one datagram. */
  handleDatagram(now: number, datagram: Uint8Array): unknown;
  /** Runs timers. */
  update(now: number): void;
  /** Datagrams to send now. */
  pollTransmit(now: number): Uint8Array[];
  /** When the next deadline falls, ms. */
  nextUpdate(now: number): number;
}

/** Drives one client over one transport. */
export class Driver {
  private timer: unknown;
  private timerAt: number | undefined;
  private kicked = false;
  private running = false;

  /** A driver; call {@link Driver.start}. */
  constructor(
    private readonly client: SansIoClient,
    private readonly transport: DatagramTransport,
    private readonly clock: Clock,
    private readonly afterStep: () => void,
  ) {}

  /** Starts listening to the transport and running timers. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.transport.onDatagram((bytes) => {
      if (!this.running) return;
      this.client.handleDatagram(this.clock.now(), bytes);
      this.step();
    });
    this.step();
  }

  /** Runs a step soon (in a microtask), coalescing calls: after the game queued messages. */
  kick(): void {
    if (this.kicked || !this.running) return;
    this.kicked = true;
    queueMicrotask(() => {
      this.kicked = false;
      if (this.running) this.step();
    });
  }

  /** Updates, sends what is due, reports, and re-arms the timer. */
  step(): void {
    const now = this.clock.now();
    this.client.update(now);
    this.flush(now);
    this.afterStep();
    if (this.running) this.arm(this.clock.now());
  }

  /** Sends whatever the client has due now, without running timers. */
  flush(now: number = this.clock.now()): void {
    for (const datagram of this.client.pollTransmit(now)) this.transport.send(datagram);
  }

  /** Stops the timer and ignores further datagrams. */
  stop(): void {
    this.running = false;
    this.disarm();
  }

  private arm(now: number): void {
    const at = this.client.nextUpdate(now);
    // At least 1 ms: a deadline that is due now is met by the next step, never by spinning.
    const delay = Math.max(1, Math.ceil(at - now));
    const target = now + delay;
    if (this.timerAt !== undefined && this.timerAt <= target) return;
    this.disarm();
    this.timerAt = target;
    this.timer = this.clock.setTimer(delay, () => {
      this.timer = undefined;
      this.timerAt = undefined;
      if (this.running) this.step();
    });
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAt = undefined;
  }
}
