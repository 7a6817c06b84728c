/**
 * Why bytes from the network did not parse (or a value could not be
 * emitted). One union for the wire layer, mirroring the Rust `wire::Error`.
 */
export type WireError =
  | { readonly kind: 'truncated'; readonly needed: number; readonly remaining: number }
  | { readonly kind: 'badLength'; readonly len: number }
  | { readonly kind: 'badVersion' }
  | { readonly kind: 'badTimestamps' }
  | { readonly kind: 'badAddressType'; readonly type: number }
  | { readonly kind: 'badAddressCount'; readonly count: number }
  | { readonly kind: 'badPacketType'; readonly type: number }
  | { readonly kind: 'badSequenceLen'; readonly len: number }
  | { readonly kind: 'badVarint' }
  | { readonly kind: 'badFrameKind'; readonly value: number }
  | { readonly kind: 'badFlag'; readonly value: number }
  | { readonly kind: 'badFragment'; readonly index: number; readonly count: number }
  | { readonly kind: 'badValue'; readonly what: string }
  | { readonly kind: 'bufferTooSmall'; readonly needed: number; readonly available: number }
  | { readonly kind: 'crypto' };
