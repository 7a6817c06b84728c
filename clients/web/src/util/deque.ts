/**
 * A double-ended queue on a growable ring buffer: O(1) push and pop at both
 * ends and O(1) indexed reads, for the channel layer's in-flight queues.
 */
export class Deque<T> {
  private items: (T | undefined)[] = new Array<T | undefined>(16);
  private head = 0;
  private count = 0;

  /** Elements held. */
  get length(): number {
    return this.count;
  }

  /** Appends `item` at the back. */
  push(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) % this.items.length] = item;
    this.count += 1;
  }

  /** Removes and returns the front element, or undefined when empty. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count -= 1;
    return item;
  }

  /** The element at `index` from the front, or undefined out of range. */
  get(index: number): T | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) return undefined;
    return this.items[(this.head + index) % this.items.length];
  }

  /** Replaces the element at `index`; false when out of range. */
  set(index: number, item: T): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) return false;
    this.items[(this.head + index) % this.items.length] = item;
    return true;
  }

  /** The front element, or undefined when empty. */
  front(): T | undefined {
    return this.get(0);
  }

  /** Removes every element. */
  clear(): void {
    this.items = new Array<T | undefined>(16);
    this.head = 0;
    this.count = 0;
  }

  /** The elements from `start` to the back, front first. */
  *from(start: number): IterableIterator<T> {
    for (let i = Math.max(0, start); i < this.count; i++) {
      yield this.items[(this.head + i) % this.items.length] as T;
    }
  }

  /** The elements, front first. */
  [Symbol.iterator](): IterableIterator<T> {
    return this.from(0);
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.items.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) % this.items.length];
    this.items = next;
    this.head = 0;
  }
}
