/**
 * The channel table both sides declare: each channel's id and kind, and
 * the shared limits. Mirrors `src/proto/channel/table.rs`.
 *
 * @packageDocumentation
 */
import { MAX_CHANNEL_ID } from '../../wire/frame.js';
import { DEFAULT_MAX_MESSAGE_LEN, DEFAULT_SEND_BUDGET } from './constants.js';

/** How a channel delivers. */
export type ChannelKind = 'unreliable' | 'unreliableSequenced' | 'reliableUnordered' | 'reliableOrdered';

/** Whether messages of `kind` are resent until acked (and may be fragmented). */
export function isReliable(kind: ChannelKind): boolean {
  return kind === 'reliableUnordered' || kind === 'reliableOrdered';
}

/** One channel of a table. */
export interface ChannelSpec {
  /** Its 24-bit id, 1..=0xFFFFFF (0 is the engine's). */
  readonly id: number;
  /** How it delivers. */
  readonly kind: ChannelKind;
}

/** Every channel of a connection, sorted by id, with the shared limits. */
export class ChannelTable {
  /** The channels, sorted by id. */
  readonly channels: readonly ChannelSpec[];

  /**
   * A table of `channels` (any order). Throws a `RangeError` for an id of 0,
   * over 24 bits or declared twice, or limits that are not positive
   * integers: these are programming errors, not network input.
   */
  constructor(
    channels: readonly ChannelSpec[],
    /** Largest reliable message, bytes (default 256 KiB). */
    readonly maxMessageLen: number = DEFAULT_MAX_MESSAGE_LEN,
    /** Bytes a peer may hold queued and unacked (default 1 MiB). */
    readonly sendBudget: number = DEFAULT_SEND_BUDGET,
  ) {
    const sorted = [...channels].sort((a, b) => a.id - b.id);
    sorted.forEach((c, i) => {
      if (!Number.isInteger(c.id) || c.id <= 0 || c.id > MAX_CHANNEL_ID) throw new RangeError(`bad channel id ${c.id}`);
      if (i > 0 && sorted[i - 1]?.id === c.id) throw new RangeError(`channel ${c.id} declared twice`);
    });
    if (!Number.isInteger(maxMessageLen) || maxMessageLen <= 0) throw new RangeError('maxMessageLen');
    if (!Number.isInteger(sendBudget) || sendBudget <= 0) throw new RangeError('sendBudget');
    this.channels = sorted;
  }

  /** The position of `channel` in {@link ChannelTable.channels}, or undefined. */
  indexOf(channel: number): number | undefined {
    let lo = 0;
    let hi = this.channels.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const id = this.channels[mid]?.id ?? 0;
      if (id === channel) return mid;
      if (id < channel) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }
}
