/**
 * The receiving half of the exchange: checks every message from the native
 * player as it arrives; the first thing wrong is kept as the failure.
 *
 * @packageDocumentation
 */
import { BIG_BODY_LEN, RELIABLE_COUNT, UNRELIABLE_TAG, isBig } from './exchangeMessages.js';

/** What has arrived from the peer so far. */
export interface Received {
  /** Numbered reliable messages, all in order 0..reliable-1. */
  readonly reliable: number;
  /** Whether the big message arrived whole, after all numbered ones. */
  readonly big: boolean;
  /** Unreliable messages. */
  readonly unreliable: number;
}

/** Checks messages from one peer. */
export class ExchangeCheck {
  private reliable = 0;
  private bigSeen = false;
  private unreliable = 0;
  /** The first thing that was wrong, if any. */
  failure: string | undefined;

  /** Checks messages sent by player `peer`. */
  constructor(private readonly peer: number) {}

  /** Counts so far. */
  get received(): Received {
    return { reliable: this.reliable, big: this.bigSeen, unreliable: this.unreliable };
  }

  /** Whether everything expected has arrived (and nothing was wrong). */
  get complete(): boolean {
    return this.failure === undefined && this.reliable === RELIABLE_COUNT && this.bigSeen && this.unreliable > 0;
  }

  /** Checks one message. */
  accept(from: number, data: Uint8Array, reliable: boolean): void {
    if (this.failure !== undefined) return;
    const why = this.check(from, data, reliable);
    if (why !== undefined) this.failure = why;
  }

  private check(from: number, data: Uint8Array, reliable: boolean): string | undefined {
    if (from !== this.peer) return `message from player ${from}, expected only ${this.peer}`;
    if (data[0] !== from) return `message from ${from} names sender ${String(data[0])}`;
    if (!reliable) {
      if (data.length !== 2 || data[1] !== UNRELIABLE_TAG) return `unexpected unreliable message of ${data.length} bytes`;
      this.unreliable += 1;
      return undefined;
    }
    if (data.length === 5) {
      const n = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(1, true);
      if (n === 0xffff_ffff) return 'big message marker with no body';
      if (this.bigSeen) return `reliable ${n} after the big message`;
      if (n !== this.reliable) return `reliable ${n} arrived where ${this.reliable} was due`;
      this.reliable += 1;
      return undefined;
    }
    if (data.length === 5 + BIG_BODY_LEN) {
      if (this.bigSeen) return 'big message twice';
      if (this.reliable !== RELIABLE_COUNT) return `big message after only ${this.reliable} numbered ones`;
      if (!isBig(data, from)) return 'big message content differs';
      this.bigSeen = true;
      return undefined;
    }
    return `unexpected reliable message of ${data.length} bytes`;
  }
}
