/**
 * The 256-entry replay window (netcode-spec §7), on u64 sequences.
 *
 * Check with {@link ReplayWindow.isReplay} before decrypting; call
 * {@link ReplayWindow.advance} only after the packet authenticated, so a
 * forged sequence cannot move the window. `2^64 - 1` is the reference's
 * empty marker and is always refused.
 *
 * @packageDocumentation
 */

/** Sequences the window remembers. */
export const REPLAY_WINDOW_LEN = 256n;
const U64_MAX = (1n << 64n) - 1n;

/** Rejects sequences already received or 256 or more below the newest. */
export class ReplayWindow {
  private mostRecent = 0n;
  /** Bit i: sequence `mostRecent - i` was received. */
  private received = 0n;

  /** Whether `sequence` was already received or is too old. */
  isReplay(sequence: bigint): boolean {
    if (sequence >= U64_MAX || sequence < 0n) return true;
    if (sequence > this.mostRecent) return false;
    const back = this.mostRecent - sequence;
    return back >= REPLAY_WINDOW_LEN || ((this.received >> back) & 1n) === 1n;
  }

  /** Records `sequence` as received. Only for authenticated packets. */
  advance(sequence: bigint): void {
    if (sequence > this.mostRecent) {
      const shift = sequence - this.mostRecent;
      this.received = shift >= REPLAY_WINDOW_LEN ? 0n : BigInt.asUintN(256, this.received << shift);
      this.mostRecent = sequence;
    }
    const back = this.mostRecent - sequence;
    if (back < REPLAY_WINDOW_LEN) this.received |= 1n << back;
  }
}
