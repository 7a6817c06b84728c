import type { Clock } from '../../src/transport/clock.js';

/** A fake clock whose timers fire only when the test advances it. */
export class ManualClock implements Clock {
  private t = 0;
  private nextId = 1;
  private timers = new Map<number, { at: number; fire: () => void }>();

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fire: () => void): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fire });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Pending timers. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing due timers in time order (including ones they set). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fire: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (next === undefined || entry[1].at < next[1].at)) next = entry;
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fire();
    }
    this.t = end;
  }
}
