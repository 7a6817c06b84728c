/** Why a message could not be queued. */
export type SendError =
  | { readonly kind: 'notConnected' }
  | { readonly kind: 'unknownChannel'; readonly channel: number }
  | { readonly kind: 'badLength'; readonly len: number; readonly max: number }
  | { readonly kind: 'queueFull'; readonly queued: number; readonly budget: number };
