/**
 * Time and timers for drivers, injectable so tests run on a fake clock.
 *
 * @packageDocumentation
 */

/** A monotonic millisecond clock and one-shot timers. */
export interface Clock {
  /** Milliseconds from any fixed origin; never goes backwards. */
  now(): number;
  /** Calls `fire` after about `ms` milliseconds; returns a handle for {@link Clock.clearTimer}. */
  setTimer(ms: number, fire: () => void): unknown;
  /** Cancels a timer {@link Clock.setTimer} returned. */
  clearTimer(handle: unknown): void;
}

/** The runtime's clock: `performance.now()` and `setTimeout`. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer: (ms, fire) => setTimeout(fire, ms),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
