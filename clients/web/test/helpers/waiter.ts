// Waiting on conditions that events make true, with a deadline: no sleeps.

export class Waiter {
  private pending = new Set<{ check: () => boolean; resolve: () => void }>();

  /** Re-checks every pending condition; call after each event. */
  notify(): void {
    for (const p of [...this.pending]) {
      if (p.check()) {
        this.pending.delete(p);
        p.resolve();
      }
    }
  }

  /** Resolves once `check()` holds (checked now and on every notify); rejects after `timeoutMs`. */
  until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const entry = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.pending.delete(entry);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.pending.add(entry);
    });
  }
}
