/**
 * Keyboard input: arrow keys and WASD move one cell per key press (key
 * repeat included, as in the terminal version).
 *
 * @packageDocumentation
 */

/** A move of one cell. */
export interface Step {
  readonly dx: number;
  readonly dy: number;
}

const STEPS: Readonly<Record<string, Step>> = {
  ArrowLeft: { dx: -1, dy: 0 },
  ArrowRight: { dx: 1, dy: 0 },
  ArrowUp: { dx: 0, dy: -1 },
  ArrowDown: { dx: 0, dy: 1 },
  a: { dx: -1, dy: 0 },
  d: { dx: 1, dy: 0 },
  w: { dx: 0, dy: -1 },
  s: { dx: 0, dy: 1 },
};

/** The step a key stands for, if any (`key` as in `KeyboardEvent.key`; letters in either case). */
export function stepOf(key: string): Step | undefined {
  return STEPS[key.length === 1 ? key.toLowerCase() : key];
}

/** Calls `onStep` for every movement key pressed on `target`; returns a function that stops listening. */
export function listenForSteps(target: EventTarget, onStep: (step: Step) => void): () => void {
  const listener = (e: Event) => {
    const key = e as KeyboardEvent;
    if (key.ctrlKey || key.metaKey || key.altKey) return;
    const step = stepOf(key.key);
    if (step === undefined) return;
    key.preventDefault();
    onStep(step);
  };
  target.addEventListener('keydown', listener);
  return () => target.removeEventListener('keydown', listener);
}
