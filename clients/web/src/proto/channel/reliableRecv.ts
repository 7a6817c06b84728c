/**
 * The receive half of a reliable channel: duplicates dropped, fragments
 * reassembled, messages released in order (or at once, unordered).
 * Mirrors `src/proto/channel/reliable_recv.rs`.
 *
 * @packageDocumentation
 */
import { Deque } from '../../util/deque.js';
import { idAdd, idSince, MESSAGE_ID_SPACE, type FragmentBody } from '../../wire/frameBody.js';
import { FRAGMENT_LEN, RELIABLE_WINDOW } from './constants.js';

/** Why a reliable frame was refused. */
export type RecvError = 'outOfWindow' | 'badFragment';

type Slot =
  | { readonly kind: 'empty' }
  | { readonly kind: 'done' }
  | { readonly kind: 'message'; readonly bytes: Uint8Array }
  | { readonly kind: 'assembling'; readonly count: number; received: number; readonly parts: (Uint8Array | undefined)[] };

const EMPTY: Slot = { kind: 'empty' };
const DONE: Slot = { kind: 'done' };

/** One reliable channel's receive state. */
export class ReliableRecv {
  private readonly maxFragments: number;
  /** The lowest id not yet released. */
  private next = 0;
  /** Slot i is id `next + i`; grows only as far as ids arrive (at most the window). */
  private readonly slots = new Deque<Slot>();
  private held = 0;

  /** A receiver; `maxMessageLen` bounds the fragment count it accepts. */
  constructor(
    private readonly ordered: boolean,
    maxMessageLen: number,
  ) {
    this.maxFragments = Math.min(0xffff, Math.max(2, Math.ceil(maxMessageLen / FRAGMENT_LEN)));
  }

  /** Bytes held: out-of-order messages and partial fragments. */
  heldBytes(): number {
    return this.held;
  }

  /** The slot index for `id`: null for an id already released (late copy). */
  private slotIndex(id: number): number | null | RecvError {
    const ahead = idSince(id, this.next);
    if (ahead >= MESSAGE_ID_SPACE / 2) return null;
    if (ahead >= RELIABLE_WINDOW) return 'outOfWindow';
    while (this.slots.length <= ahead) this.slots.push(EMPTY);
    return ahead;
  }

  /** Takes a whole message; `deliver` gets each message it releases. Returns whether it was new. */
  message(id: number, bytes: Uint8Array, deliver: (m: Uint8Array) => void): boolean | RecvError {
    if (id === this.next && this.slots.length === 0) {
      deliver(bytes);
      this.next = idAdd(this.next, 1);
      return true;
    }
    const hold = this.ordered && id !== this.next;
    const index = this.slotIndex(id);
    if (index === null) return false;
    if (typeof index === 'string') return index;
    if (this.slots.get(index)?.kind !== 'empty') return false;
    if (hold) {
      this.slots.set(index, { kind: 'message', bytes: bytes.slice() });
      this.held += bytes.length;
    } else {
      this.slots.set(index, DONE);
      deliver(bytes);
    }
    this.release(deliver);
    return true;
  }

  /** Takes a fragment; a completed message is handled as {@link ReliableRecv.message} would. */
  fragment(fragment: FragmentBody, deliver: (m: Uint8Array) => void): boolean | RecvError {
    const { id, index, count, data } = fragment;
    const last = index + 1 === count;
    if (count > this.maxFragments || data.length > FRAGMENT_LEN || (!last && data.length !== FRAGMENT_LEN)) {
      return 'badFragment';
    }
    const hold = this.ordered && id !== this.next;
    const at = this.slotIndex(id);
    if (at === null) return false;
    if (typeof at === 'string') return at;
    let slot = this.slots.get(at);
    if (slot?.kind === 'empty') {
      slot = { kind: 'assembling', count, received: 0, parts: new Array<Uint8Array | undefined>(count).fill(undefined) };
      this.slots.set(at, slot);
    }
    if (slot?.kind !== 'assembling') return false;
    if (slot.count !== count) return 'badFragment';
    if (index >= slot.parts.length) return 'badFragment';
    if (slot.parts[index] !== undefined) return false;
    slot.parts[index] = data.slice();
    slot.received += 1;
    if (slot.received < slot.count) {
      this.held += data.length;
      return true;
    }
    let total = 0;
    for (const part of slot.parts) total += part?.length ?? 0;
    const message = new Uint8Array(total);
    let offset = 0;
    for (const part of slot.parts) {
      if (part === undefined) continue;
      message.set(part, offset);
      offset += part.length;
    }
    const earlier = total - data.length;
    if (hold) {
      this.slots.set(at, { kind: 'message', bytes: message });
      this.held += data.length;
    } else {
      this.slots.set(at, DONE);
      deliver(message);
      this.held -= Math.min(earlier, this.held);
    }
    this.release(deliver);
    return true;
  }

  /** Releases what the front allows and moves the window past it. */
  private release(deliver: (m: Uint8Array) => void): void {
    for (;;) {
      const front = this.slots.front();
      if (front === undefined) return;
      if (front.kind === 'message') {
        this.held -= Math.min(front.bytes.length, this.held);
        deliver(front.bytes);
      } else if (front.kind !== 'done') {
        return;
      }
      this.slots.shift();
      this.next = idAdd(this.next, 1);
    }
  }
}
