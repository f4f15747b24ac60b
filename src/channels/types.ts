import type { Alert } from '../domain/alert.js';

// The contract every account channel (webhooks and social networks) implements. Email is the
// one channel with many targets per alert and has its own batch path (src/channels/email/).

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

export interface DeliverContext {
  /** Parts this delivery already posted (thread resume); deliver must start after them. */
  posted: PostedPart[];
  /** Called as soon as each part is accepted so it is recorded before the next is sent. */
  onPosted(part: PostedPart): Promise<void>;
  /** Stable per (alert, channel): used as an idempotency key where the provider supports one. */
  idempotencyKey: string;
  signal?: AbortSignal;
}

export interface AccountChannel {
  readonly id: string;
  readonly provider: string;
  /**
   * True when sending again after a crash cannot duplicate the post (the receiver deduplicates on
   * the idempotency key). Otherwise an interrupted send ends as `unknown` unless findExisting tells.
   */
  readonly safeToResend?: boolean;
  /** Pure: used by preview and by delivery alike. */
  render(alert: Alert): RenderedMessage;
  /** Sends the parts not yet posted; resolves with the first part's id and URL. */
  deliver(message: RenderedMessage, context: DeliverContext): Promise<PostedPart>;
  /**
   * After an unknown outcome: look for the post at the provider. Returns it if found, null if
   * surely absent, undefined if the provider gives no way to tell.
   */
  findExisting?(message: RenderedMessage, context: DeliverContext): Promise<PostedPart | null | undefined>;
  checkHealth(): Promise<HealthReport>;
  close?(): Promise<void>;
}
