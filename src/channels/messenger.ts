import type { Alert } from '../domain/alert.js';
import type { FollowUpNotice } from '../domain/follow-up.js';

// The contract every account channel (webhooks and social networks) implements, and the types it
// shares with the dispatcher. Email has many targets per alert and its own batch dispatcher
// (workers/email.ts), with the same outcomes.

/** One post, or one part of a thread, exactly as it will be sent. */
export interface RenderedPart {
  text: string;
  /** Length by the provider's own rule (X weighted count, graphemes, ...). */
  length: number;
  limit: number;
  /** Media attached to this part (the lead image on the first part, usually). */
  media?: { url: string; alt: string };
  /** Provider-specific extras (link card, parse mode, embeds...). */
  extra?: Record<string, unknown>;
}

export interface RenderedMessage {
  channel: string;
  provider: string;
  parts: RenderedPart[];
}

/** A part already accepted by the provider; kept in the ledger so a thread resumes, never re-posts. */
export interface PostedPart {
  id: string;
  url?: string;
  /** Extra reference a reply needs (Bluesky's cid, for example). */
  ref?: Record<string, string>;
}

export type DeliveryErrorKind =
  /** Wait until `retryAt`, then try again without spending an attempt. */
  | 'rate-limited'
  /** Try again with backoff. */
  | 'transient'
  /** Will not succeed by retrying (bad credentials, content rejected). */
  | 'permanent'
  /** The provider may have accepted it; never re-posted automatically. */
  | 'unknown-outcome';

export class DeliveryError extends Error {
  constructor(
    readonly kind: DeliveryErrorKind,
    message: string,
    readonly options: { retryAt?: number; status?: number; code?: string | number; credentials?: boolean } = {},
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface HealthReport {
  ok: boolean;
  checkedAt: string;
  detail: string;
  /** When the credential stops working, if the provider says. */
  expiresAt?: string;
  missingPermissions?: string[];
}

/** Where a part goes in its conversation. */
export interface ThreadPosition {
  /** 0-based index of this part, and how many parts the message has. */
  index: number;
  total: number;
  /** The post this part replies to: the part before it or, for the first part of a follow-up, the original's last part. */
  replyTo?: PostedPart;
  /** The first post of the conversation (the original alert's first part for a follow-up). */
  root?: PostedPart;
  /** Stable per (delivery, channel, part): the idempotency key where the provider takes one. */
  idempotencyKey: string;
}

/** A correction or retraction, sent as a reply to the original on each channel. */
export interface FollowUp extends FollowUpNotice {
  /** The original's first post on this channel, when there is one (link it where a reply is not possible). */
  originalUrl?: string;
}

/**
 * One account on one provider, as the thread dispatcher (src/delivery/thread-dispatcher.ts) uses
 * it. An adapter says only how to render, how to post one part, how to find one part after a lost
 * answer, and how to check its credentials; posting a thread in order, recording each part,
 * resuming after a crash and classifying outcomes happen once, in the dispatcher.
 */
export interface Messenger {
  readonly id: string;
  readonly provider: string;
  /**
   * Posting a part again after a lost answer cannot make a second copy: the provider deduplicates
   * on the idempotency key, or the part's record key is fixed. Otherwise a lost part is looked up.
   */
  readonly safeToResend: boolean;
  /** The longest one part may take, every request in it included (image, upload, post): the watchdog's deadline. */
  readonly partDeadlineMs: number;
  /** Pure: used by preview and by delivery alike. */
  render(alert: Alert, followUp?: FollowUp): RenderedMessage;
  /** Posts one part. Throws DeliveryError; a request that may have reached the provider is 'unknown-outcome'. */
  postPart(part: RenderedPart, position: ThreadPosition, signal: AbortSignal): Promise<PostedPart>;
  /**
   * After a lost answer: the part as the provider has it, null if it is surely not there, undefined
   * if the provider gives no way to tell. Absent: the dispatcher records `unknown`.
   */
  findPart?(part: RenderedPart, position: ThreadPosition, signal: AbortSignal): Promise<PostedPart | null | undefined>;
  /** Deletes a posted part (a retraction with deleteOriginals on). Absent: the provider does not allow it. */
  deletePart?(part: PostedPart, signal: AbortSignal): Promise<void>;
  checkHealth(signal?: AbortSignal): Promise<HealthReport>;
  /** Reads provider settings render() needs (Mastodon's character limit). */
  prepare?(): Promise<unknown>;
  close?(): Promise<void>;
}
