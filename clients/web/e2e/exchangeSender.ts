/**
 * The sending half of the exchange, paced by the client's send budget:
 * each tick queues messages in order until the budget refuses one
 * (`queueFull`), which is tried again next tick. Unreliable messages are
 * interleaved with the numbered ones, and a few more follow the big one,
 * one a tick.
 *
 * @packageDocumentation
 */
import type { RelaySendError, Target } from '../src/index.js';
import { RELIABLE_COUNT, big, numbered, unreliable } from './exchangeMessages.js';

/** A numbered message is followed by an unreliable one every this many. */
const UNRELIABLE_EVERY = 50;
/** Unreliable messages sent after the big one, one a tick. */
const TRAILING_UNRELIABLE = 10;
/** Tick, ms. */
const TICK_MS = 10;

/** Queues a message (a {@link RelayConnection.sendTo}). */
export type SendTo = (target: Target, data: Uint8Array, reliable: boolean) => { ok: true } | { ok: false; error: RelaySendError };

interface Item {
  readonly data: Uint8Array;
  readonly reliable: boolean;
}

/** Counts of what has been queued. */
export interface Sent {
  reliable: number;
  big: boolean;
  unreliable: number;
  /** Times the budget refused a message (tried again later). */
  deferred: number;
}

/** Sends the exchange from player `me` to all others; `onFail` hears a send error other than a full queue. */
export class ExchangeSender {
  /** What has been queued so far. */
  readonly sent: Sent = { reliable: 0, big: false, unreliable: 0, deferred: 0 };
  private readonly items: Item[] = [];
  private next = 0;
  private trailing = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** A sender; call {@link ExchangeSender.start}. */
  constructor(
    private readonly me: number,
    private readonly sendTo: SendTo,
    private readonly onFail: (why: string) => void,
  ) {
    for (let n = 0; n < RELIABLE_COUNT; n++) {
      this.items.push({ data: numbered(me, n), reliable: true });
      if (n % UNRELIABLE_EVERY === UNRELIABLE_EVERY - 1) this.items.push({ data: unreliable(me), reliable: false });
    }
    this.items.push({ data: big(me), reliable: true });
  }

  /** Whether everything has been queued. */
  get done(): boolean {
    return this.next === this.items.length && this.trailing === TRAILING_UNRELIABLE;
  }

  /** Starts ticking. */
  start(): void {
    this.tick();
  }

  /** Stops ticking. */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    this.timer = undefined;
    while (this.next < this.items.length) {
      const item = this.items[this.next];
      if (item === undefined) break;
      const result = this.sendTo('allOthers', item.data, item.reliable);
      if (!result.ok) {
        if (result.error.kind === 'queueFull') {
          this.sent.deferred += 1;
          break;
        }
        this.onFail(`send failed: ${JSON.stringify(result.error)}`);
        return;
      }
      this.count(item);
      this.next += 1;
    }
    if (this.next === this.items.length && this.trailing < TRAILING_UNRELIABLE) {
      const result = this.sendTo('allOthers', unreliable(this.me), false);
      if (result.ok) {
        this.trailing += 1;
        this.sent.unreliable += 1;
      } else if (result.error.kind !== 'queueFull') {
        this.onFail(`send failed: ${JSON.stringify(result.error)}`);
        return;
      }
    }
    if (!this.done) this.timer = setTimeout(() => this.tick(), TICK_MS);
  }

  private count(item: Item): void {
    if (!item.reliable) this.sent.unreliable += 1;
    else if (item.data.length === 5) this.sent.reliable += 1;
    else this.sent.big = true;
  }
}
