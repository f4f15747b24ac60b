import { z } from 'zod';
import twitterText from 'twitter-text';
import type { Alert } from '../../domain/alert.js';
import type { SocialAccountConfig } from '../../config/schema.js';
import { errors } from '../../errors.js';
import { DeliveryError } from '../messenger.js';
import type { FollowUp, HealthReport, Messenger, PostedPart, RenderedMessage, RenderedPart, ThreadPosition } from '../messenger.js';
import { deliveryErrorForStatus, retryAfterToEpochMs } from '../http-errors.js';
import {
  baseOptionsShape,
  comparable,
  graphemeLength,
  httpRequest,
  ImageUnavailable,
  linkPlacementSchema,
  shorten,
  sleep,
  type FetchedImage,
  type HttpResult,
} from './common.js';
import { SocialAccount } from './account.js';
import type { SocialDeps } from './tokens.js';

// Mastodon with plain fetch (the REST API is small, and this keeps full control of headers):
//   GET  /api/v2/instance                 character limit, URL weight, media limits
//   POST /api/v2/media                    image + description (alt text); 202 means "processing":
//   GET  /api/v1/media/:id                poll until it answers 200
//   POST /api/v1/statuses                 with Idempotency-Key, in_reply_to_id for threads
//   GET  /api/v1/accounts/verify_credentials, /api/v1/accounts/:id/statuses, /api/v1/apps/verify_credentials
// Mastodon keeps an Idempotency-Key for an hour and answers a repeated POST with the status it
// already made, so a retry inside that hour cannot post twice: safeToResend is true.

const DEFAULT_LIMIT = 500;
const DEFAULT_URL_WEIGHT = 23;

export const mastodonOptionsSchema = z
  .object({
    ...baseOptionsShape,
    linkPlacement: linkPlacementSchema.default('first'),
    visibility: z.enum(['public', 'unlisted', 'private', 'direct']).default('public'),
    /** Content warning shown before the post; counts towards the instance's limit. */
    spoilerText: z.string().trim().max(200).optional(),
    /** Mark the image as sensitive (hidden behind a click). */
    sensitive: z.boolean().default(false),
    /** Overrides the instance's own limit (normally read from /api/v2/instance). */
    maxCharacters: z.number().int().min(50).max(100_000).optional(),
    /** How long to wait for the instance to process an uploaded image. */
    mediaProcessingTimeoutMs: z.number().int().min(100).max(300_000).default(60_000),
  })
  .strict();
export type MastodonOptions = z.output<typeof mastodonOptionsSchema>;

export interface MastodonLimits {
  maxCharacters: number;
  urlWeight: number;
  imageSizeLimit: number;
  descriptionLimit: number;
}

/**
 * Mastodon's own count: every URL weighs `urlWeight` (23), a remote mention counts only its
 * `@user` part, and the rest is counted in grapheme clusters.
 */
export function mastodonLength(text: string, urlWeight = DEFAULT_URL_WEIGHT): number {
  let countable = '';
  let last = 0;
  for (const entity of twitterText.extractUrlsWithIndices(text, { extractUrlsWithoutProtocol: false })) {
    countable += text.slice(last, entity.indices[0]) + 'x'.repeat(urlWeight);
    last = entity.indices[1];
  }
  countable += text.slice(last);
  countable = countable.replace(/(^|[^/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)@[\p{L}\p{N}_.-]+[\p{L}\p{N}_]/giu, '$1@$2');
  return graphemeLength(countable);
}

/** Mastodon's HTML content back to text, for comparing with what was sent. */
export function mastodonHtmlToText(html: string): string {
  return html
    .replace(/<\/p>\s*<p>/gi, '\n\n')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

interface MastodonStatus {
  id: string;
  url?: string | null;
  uri?: string;
  content?: string;
  in_reply_to_id?: string | null;
}

export class MastodonChannel extends SocialAccount<MastodonOptions> implements Messenger {
  readonly provider = 'mastodon';
  readonly safeToResend = true;
  private limits?: MastodonLimits;
  private accountId?: string;

  constructor(account: SocialAccountConfig, env: NodeJS.ProcessEnv, deps: SocialDeps = {}) {
    super(account, env, mastodonOptionsSchema, () => ['accessToken'], deps);
    if (!account.baseUrl) {
      throw errors.CONFIG_INVALID(`social.${account.id}.baseUrl: is required for provider mastodon (the instance, e.g. https://mastodon.social)`);
    }
  }

  override get partDeadlineMs(): number {
    return this.options.timeoutMs * 4 + this.options.mediaProcessingTimeoutMs;
  }

  /** The limit render() uses: the option, else the instance's (once prepare() ran), else 500. */
  get maxCharacters(): number {
    return this.options.maxCharacters ?? this.limits?.maxCharacters ?? DEFAULT_LIMIT;
  }

  private get urlWeight(): number {
    return this.limits?.urlWeight ?? DEFAULT_URL_WEIGHT;
  }

  /** Reads the instance's limits. Call before render() so parts use the instance's own limit. */
  async prepare(): Promise<MastodonLimits> {
    if (this.limits) return this.limits;
    const res = await httpRequest({ url: `${this.base}/api/v2/instance`, timeoutMs: this.options.timeoutMs });
    if (res.status !== 200) throw this.error(res, 'reading the instance limits');
    const config = (res.json as { configuration?: Record<string, Record<string, number>> })?.configuration ?? {};
    this.limits = {
      maxCharacters: config.statuses?.max_characters ?? DEFAULT_LIMIT,
      urlWeight: config.statuses?.characters_reserved_per_url ?? DEFAULT_URL_WEIGHT,
      imageSizeLimit: config.media_attachments?.image_size_limit ?? 16 * 1024 * 1024,
      descriptionLimit: config.media_attachments?.description_limit ?? 1500,
    };
    return this.limits;
  }

  render(alert: Alert, followUp?: FollowUp): RenderedMessage {
    const spoiler = this.options.spoilerText ?? '';
    const limit = this.maxCharacters;
    const urlWeight = this.urlWeight;
    // The content warning counts against the same limit as the text.
    const length = (text: string) => mastodonLength(text, urlWeight) + graphemeLength(spoiler);
    const parts = this.splitAlert(alert, { length, limit }, {}, followUp).map((part, i) => ({
      ...part,
      length: length(part.text),
      limit,
      extra: {
        visibility: this.options.visibility,
        language: alert.language,
        ...(spoiler ? { spoilerText: spoiler } : {}),
        ...(i > 0 ? { replyTo: 'previous part' } : {}),
      },
    }));
    return this.message(parts);
  }

  async postPart(part: RenderedPart, position: ThreadPosition, signal: AbortSignal): Promise<PostedPart> {
    const limits = await this.prepare();
    if (part.length > limits.maxCharacters) {
      throw new DeliveryError('permanent', `a part is ${part.length} characters but ${this.base} allows ${limits.maxCharacters}; render again after prepare()`);
    }
    const { uploaded, warning } = await this.withImage(
      part,
      { maxBytes: limits.imageSizeLimit },
      (image, media) => this.upload(image, media, limits, signal),
      signal,
    );
    const extra = (part.extra ?? {}) as { language?: string };
    const body = {
      status: part.text,
      visibility: this.options.visibility,
      ...(this.options.spoilerText ? { spoiler_text: this.options.spoilerText } : {}),
      ...(extra.language ? { language: extra.language } : {}),
      ...(position.replyTo ? { in_reply_to_id: position.replyTo.id } : {}),
      ...(uploaded ? { media_ids: [uploaded], sensitive: this.options.sensitive } : {}),
    };
    const res = await httpRequest({
      url: `${this.base}/api/v1/statuses`,
      method: 'POST',
      headers: { ...this.auth(), 'content-type': 'application/json', 'idempotency-key': position.idempotencyKey },
      body: JSON.stringify(body),
      timeoutMs: this.options.timeoutMs,
      signal,
      mutating: true,
    });
    if (res.status !== 200) throw this.error(res, `posting part ${position.index + 1}`);
    const status = res.json as MastodonStatus;
    return this.noted({ id: status.id, ...(status.url ? { url: status.url } : status.uri ? { url: status.uri } : {}) }, warning);
  }

  /** Looks for the part among the account's latest statuses: same text, replying to the same post. */
  async findPart(part: RenderedPart, position: ThreadPosition, signal: AbortSignal): Promise<PostedPart | null | undefined> {
    const accountId = await this.ownAccountId();
    const since = position.replyTo ? `&since_id=${encodeURIComponent(position.replyTo.id)}` : '';
    const res = await httpRequest({
      url: `${this.base}/api/v1/accounts/${encodeURIComponent(accountId)}/statuses?limit=40&exclude_reblogs=true${since}`,
      headers: this.auth(),
      timeoutMs: this.options.timeoutMs,
      signal,
    });
    if (res.status !== 200 || !Array.isArray(res.json)) return undefined;
    const wanted = comparable(part.text);
    for (const status of res.json as MastodonStatus[]) {
      if (comparable(mastodonHtmlToText(status.content ?? '')) !== wanted) continue;
      if ((status.in_reply_to_id ?? undefined) !== position.replyTo?.id) continue;
      return { id: status.id, ...(status.url ? { url: status.url } : {}) };
    }
    return null;
  }

  async deletePart(part: PostedPart, signal: AbortSignal): Promise<void> {
    const res = await httpRequest({
      url: `${this.base}/api/v1/statuses/${encodeURIComponent(part.id)}`,
      method: 'DELETE',
      headers: this.auth(),
      timeoutMs: this.options.timeoutMs,
      signal,
      mutating: true,
    });
    if (res.status !== 200 && res.status !== 404) throw this.error(res, 'deleting the post');
  }

  protected async inspect(signal?: AbortSignal): Promise<Omit<HealthReport, 'checkedAt'>> {
    const me = await httpRequest({ url: `${this.base}/api/v1/accounts/verify_credentials`, headers: this.auth(), timeoutMs: this.options.timeoutMs, signal });
    if (me.status !== 200) throw this.error(me, 'verifying the token');
    const account = me.json as { id: string; acct?: string; username?: string };
    this.accountId = account.id;
    const limits = await this.prepare().catch(() => undefined);
    // Mastodon 4.3+ lists the token's scopes here; older servers just omit them.
    const app = await httpRequest({ url: `${this.base}/api/v1/apps/verify_credentials`, headers: this.auth(), timeoutMs: this.options.timeoutMs, signal });
    const scopes = app.status === 200 ? ((app.json as { scopes?: string[] })?.scopes ?? undefined) : undefined;
    const missing: string[] = [];
    if (scopes) {
      const has = (s: string) => scopes.includes(s) || scopes.includes(s.split(':')[0]);
      for (const s of ['write:statuses', 'write:media', 'read:accounts']) if (!has(s)) missing.push(s);
    }
    return {
      ok: missing.length === 0,
      detail: `@${account.acct ?? account.username} on ${new URL(this.base).host}${limits ? `, ${limits.maxCharacters} characters per post` : ''}${missing.length ? `; missing scopes ${missing.join(', ')}` : ''}`,
      ...(missing.length ? { missingPermissions: missing } : {}),
    };
  }

  // -------------------------------------------------------------------------------------------

  private auth(): Record<string, string> {
    return { authorization: `Bearer ${this.credentials.require('accessToken')}` };
  }

  private async ownAccountId(): Promise<string> {
    if (this.accountId) return this.accountId;
    const res = await httpRequest({ url: `${this.base}/api/v1/accounts/verify_credentials`, headers: this.auth(), timeoutMs: this.options.timeoutMs });
    if (res.status !== 200) throw this.error(res, 'verifying the token');
    this.accountId = (res.json as { id: string }).id;
    return this.accountId;
  }

  private async upload(image: FetchedImage, media: { url: string; alt: string }, limits: MastodonLimits, signal: AbortSignal): Promise<string> {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(image.bytes)], { type: image.mediaType }), `lead.${image.mediaType.split('/')[1]}`);
    form.append('description', media.alt.slice(0, limits.descriptionLimit));
    const res = await httpRequest({
      url: `${this.base}/api/v2/media`,
      method: 'POST',
      headers: this.auth(),
      body: form,
      timeoutMs: this.options.timeoutMs,
      signal,
    });
    if (res.status === 422 || res.status === 413 || res.status === 415) {
      throw new ImageUnavailable(`the instance refused the image: HTTP ${res.status} ${shorten(res.text, 200)}`, false);
    }
    if (res.status !== 200 && res.status !== 202) throw this.error(res, 'uploading the image');
    const attachment = res.json as { id: string; url?: string | null };
    if (res.status === 200 && attachment.url) return attachment.id;
    // 202: the instance is still processing; a status may only use it once it answers 200.
    const deadline = Date.now() + this.options.mediaProcessingTimeoutMs;
    let wait = 250;
    while (Date.now() < deadline) {
      await sleep(wait);
      wait = Math.min(wait * 2, 2000);
      const poll = await httpRequest({
        url: `${this.base}/api/v1/media/${encodeURIComponent(attachment.id)}`,
        headers: this.auth(),
        timeoutMs: this.options.timeoutMs,
        signal,
      });
      if (poll.status === 200) return attachment.id;
      if (poll.status === 422) throw new ImageUnavailable(`the instance could not process the image: ${shorten(poll.text, 200)}`, false);
      if (poll.status !== 206) throw this.error(poll, 'waiting for the image');
    }
    throw new DeliveryError('transient', `the instance was still processing the image after ${this.options.mediaProcessingTimeoutMs} ms`);
  }

  private error(res: HttpResult, doing: string): DeliveryError {
    const body = res.json as { error?: string; error_description?: string } | undefined;
    const reason = shorten(
      `Mastodon answered HTTP ${res.status} ${doing}: ${body?.error ?? res.text ?? ''}${body?.error_description ? ` (${body.error_description})` : ''}`,
    );
    if (res.status === 429) {
      // X-RateLimit-Reset is an ISO 8601 time.
      const reset = Date.parse(res.headers.get('x-ratelimit-reset') ?? '');
      const retryAt = Number.isNaN(reset) ? retryAfterToEpochMs(res.headers.get('retry-after')) : reset;
      return deliveryErrorForStatus(429, reason, retryAt ?? Date.now() + 5 * 60_000);
    }
    return deliveryErrorForStatus(res.status, reason);
  }
}
