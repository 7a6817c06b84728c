/**
 * The coins messages, byte for byte as `examples/coins/wire.rs`: carried as
 * relay proxy data.
 *
 * @packageDocumentation
 */

/** What one player tells the others. */
export type GameMessage =
  /** Where I am (unreliable, 20 times a second): `[0, x, y]`. */
  | { readonly type: 'position'; readonly x: number; readonly y: number }
  /** I reached coin `k` `elapsedMs` after I saw it (reliable, to the authority): `[1, k u16 LE, elapsed u32 LE]`. */
  | { readonly type: 'claim'; readonly k: number; readonly elapsedMs: number }
  /** Coin `k` goes to `player` (reliable, from the authority to all): `[2, k u16 LE, player]`. */
  | { readonly type: 'award'; readonly k: number; readonly player: number };

/** The message's bytes. */
export function encodeMessage(m: GameMessage): Uint8Array {
  switch (m.type) {
    case 'position':
      return new Uint8Array([0, m.x, m.y]);
    case 'claim': {
      const bytes = new Uint8Array(7);
      const view = new DataView(bytes.buffer);
      bytes[0] = 1;
      view.setUint16(1, m.k, true);
      view.setUint32(3, Math.min(m.elapsedMs, 0xffff_ffff), true);
      return bytes;
    }
    case 'award': {
      const bytes = new Uint8Array(4);
      bytes[0] = 2;
      new DataView(bytes.buffer).setUint16(1, m.k, true);
      bytes[3] = m.player;
      return bytes;
    }
  }
}

/** Reads a message another player sent; `undefined` for anything malformed. */
export function parseMessage(bytes: Uint8Array): GameMessage | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = bytes[0];
  if (tag === 0 && bytes.length === 3) return { type: 'position', x: view.getUint8(1), y: view.getUint8(2) };
  if (tag === 1 && bytes.length === 7) return { type: 'claim', k: view.getUint16(1, true), elapsedMs: view.getUint32(3, true) };
  if (tag === 2 && bytes.length === 4) return { type: 'award', k: view.getUint16(1, true), player: view.getUint8(3) };
  return undefined;
}
