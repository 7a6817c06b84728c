/**
 * The channel layer's sizes and timings, as `src/proto/channel` has them.
 *
 * @packageDocumentation
 */
import { MAX_PAYLOAD_LEN } from '../../wire/constants.js';
import { CHANNEL_ID_LEN, MAX_FRAME_HEADER_LEN } from '../../wire/frame.js';
import { ACK_BODY_LEN, FRAGMENT_HEAD_LEN, SEQUENCED_HEAD_LEN } from '../../wire/frameBody.js';

/** Bytes of an ack frame with its header: 13. */
export const ACK_FRAME_LEN = CHANNEL_ID_LEN + 1 + ACK_BODY_LEN;
/** Bytes of one fragment's data (1176); longer reliable messages are fragmented. */
export const FRAGMENT_LEN = MAX_PAYLOAD_LEN - ACK_FRAME_LEN - MAX_FRAME_HEADER_LEN - FRAGMENT_HEAD_LEN;
/** Longest unreliable message (1180). */
export const MAX_UNRELIABLE_LEN = MAX_PAYLOAD_LEN - ACK_FRAME_LEN - MAX_FRAME_HEADER_LEN - SEQUENCED_HEAD_LEN;
/** Reliable ids a sender may have in flight, and how far ahead a receiver accepts. */
export const RELIABLE_WINDOW = 4096;
/** How long an owed ack waits for data to ride on, ms. */
export const ACK_DELAY_MS = 5;
/** Smallest resend timeout, ms. */
export const MIN_RTO_MS = 20;
/** Largest resend timeout, ms. */
export const MAX_RTO_MS = 2000;
/** Resend timeout before the first RTT sample, ms. */
export const INITIAL_RTO_MS = 200;
/** Packets an ack covers: the largest and the 32 before it. */
export const ACK_SPAN = 33;
/**
 * Most acks of older packets kept for the next packet besides the newest:
 * with it they reach 297 packets back (a burst of fragments acked whole).
 */
export const MAX_OLDER_ACKS = 8;
/** Most sent packets remembered; older ones count as lost. */
export const MAX_SENT_RECORDS = 4096;
/** Default largest reliable message: 256 KiB. */
export const DEFAULT_MAX_MESSAGE_LEN = 256 * 1024;
/** Default bytes a peer may hold queued and unacked: 1 MiB. */
export const DEFAULT_SEND_BUDGET = 1024 * 1024;
