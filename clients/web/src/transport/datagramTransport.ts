/**
 * What the client needs from the network: one path of datagrams to one
 * server. {@link WebTransportDatagrams} is the browser's; tests use UDP.
 *
 * @packageDocumentation
 */

/** A bidirectional datagram path to one server. */
export interface DatagramTransport {
  /** Sends one datagram; best effort (datagrams may be lost), never throws. */
  send(bytes: Uint8Array): void;
  /** Registers the receiver of every datagram that arrives (one receiver; a later call replaces it). */
  onDatagram(receive: (bytes: Uint8Array) => void): void;
  /** Registers a callback for when the path closes, from either side. */
  onClose(closed: (reason: string) => void): void;
  /** Closes the path. */
  close(): void;
}
