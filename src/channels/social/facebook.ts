import { z } from 'zod';
import type { Alert } from '../../domain/alert.js';
import type { SocialAccountConfig } from '../../config/schema.js';
import { DeliveryError } from '../messenger.js';
import type { FollowUp, HealthReport, Messenger, PostedPart, RenderedMessage, RenderedPart, ThreadPosition } from '../messenger.js';
import { retryAfterToEpochMs } from '../http-errors.js';
import { baseOptionsShape, comparable, httpRequest, shorten, type HttpResult } from './common.js';
import { SocialAccount } from './account.js';
import { linkOf } from '../../domain/alert-link.js';

// A Facebook Page through the Graph API, with fetch:
//   POST /{page-id}/feed    message + link (Facebook draws the link preview)
//   POST /{page-id}/photos  url + caption + alt_text_custom (Facebook fetches the image)
//   POST /{post-id}/comments  the rest, in the rare alert longer than one post (63,206 characters)
//   GET  /debug_token, /me  health: validity, expiry, granted permissions
//   GET  /{page-id}/posts, /{post-id}/comments  finding a post whose answer was lost
// Graph errors carry {error: {code, error_subcode, is_transient}}: 4, 17, 32 and 613 (and the
// 80001-80014 business use case codes) are rate limits; 190 is an expired or invalid token.

export const FACEBOOK_POST_LIMIT = 63_206;
export const FACEBOOK_COMMENT_LIMIT = 8_000;
const RATE_LIMIT_CODES = new Set([4, 17, 32, 613]);
const REQUIRED_PERMISSIONS = ['pages_manage_posts', 'pages_read_engagement'];

export const facebookOptionsSchema = z
  .object({
    ...baseOptionsShape,
    pageId: z.string().regex(/^\d{5,20}$/, 'must be the numeric id of the Page'),
    apiVersion: z
      .string()
      .regex(/^v\d+\.\d+$/, 'must look like v23.0')
      .default('v23.0'),
  })
  .strict();
export type FacebookOptions = z.output<typeof facebookOptionsSchema>;

interface GraphError {
  message?: string;
  type?: string;
  code?: number;
  error_subcode?: number;
  is_transient?: boolean;
  error_user_msg?: string;
  fbtrace_id?: string;
}

/** Minutes until Facebook lets this app/page call again, from the usage headers, if given. */
export function regainAccessMs(headers: Headers): number | undefined {
  let minutes: number | undefined;
  for (const name of ['x-business-use-case-usage', 'x-app-usage', 'x-page-usage', 'x-ad-account-usage']) {
    const raw = headers.get(name);
    if (!raw) continue;
    try {
      const visit = (value: unknown): void => {
        if (Array.isArray(value)) value.forEach(visit);
        else if (value && typeof value === 'object') {
          for (const [k, v] of Object.entries(value)) {
            if (k === 'estimated_time_to_regain_access' && typeof v === 'number') minutes = Math.max(minutes ?? 0, v);
            else visit(v);
          }
        }
      };
      visit(JSON.parse(raw));
    } catch {
      // A header we cannot read tells us nothing.
    }
  }
  return minutes === undefined ? undefined : Math.max(1, minutes) * 60_000;
}

/** Graph API answers to the delivery contract. */
export function mapGraphError(res: HttpResult, doing: string): DeliveryError {
  const error = ((res.json as { error?: GraphError } | undefined)?.error ?? {}) as GraphError;
  const code = error.code;
  const reason = shorten(
    `Facebook answered HTTP ${res.status} ${doing}: ${error.message ?? res.text}${code !== undefined ? ` (code ${code}${error.error_subcode ? `/${error.error_subcode}` : ''})` : ''}`,
  );
  const options = { status: res.status, ...(code !== undefined ? { code } : {}) };
  if ((code !== undefined && (RATE_LIMIT_CODES.has(code) || (code >= 80001 && code <= 80014))) || res.status === 429) {
    // Facebook gives minutes in its usage headers; a proxy in front of it may send Retry-After.
    const retryAt = retryAfterToEpochMs(res.headers.get('retry-after')) ?? Date.now() + (regainAccessMs(res.headers) ?? 60 * 60_000);
    return new DeliveryError('rate-limited', reason, { ...options, retryAt });
  }
  if (code === 190 || code === 102 || code === 10 || (code !== undefined && code >= 200 && code <= 299)) {
    return new DeliveryError('permanent', reason, { ...options, credentials: true });
  }
  if (code === 506) return new DeliveryError('permanent', reason, { ...options, code: 'duplicate' });
  if (error.is_transient || code === 1 || code === 2 || res.status >= 500) return new DeliveryError('transient', reason, options);
  if (res.status === 401 || res.status === 403) return new DeliveryError('permanent', reason, { ...options, credentials: true });
  return new DeliveryError('permanent', reason, options);
}

export class FacebookChannel extends SocialAccount<FacebookOptions> implements Messenger {
  readonly provider = 'facebook';
  /** The Graph API has no idempotency key; a lost answer is looked up on the Page. */
  readonly safeToResend = false;

  constructor(account: SocialAccountConfig, env: NodeJS.ProcessEnv) {
    super(account, env, facebookOptionsSchema, () => ['pageAccessToken'], {}, 'https://graph.facebook.com');
  }

  /** The Graph API of the configured version. */
  private get graph(): string {
    return `${this.base}/${this.options.apiVersion}`;
  }

  render(alert: Alert, followUp?: FollowUp): RenderedMessage {
    // A photo post has no link preview, so the link goes in the text; a link post carries it in
    // `link` and Facebook shows the preview card: either way it appears once. A follow-up is a
    // comment on the original post, text only, with the link in it.
    const photo = !followUp && Boolean(alert.image);
    const linkPost = !followUp && !photo;
    const limit = (i: number) => (i === 0 && !followUp ? FACEBOOK_POST_LIMIT : FACEBOOK_COMMENT_LIMIT);
    const link = linkOf(alert);
    const source = linkPost ? { ...alert, canonicalUrl: undefined, link: undefined } : alert;
    const parts = this.splitAlert(source, { length: (t) => t.length, limit }, { linkPlacement: 'last' }, followUp).map((part, i) => ({
      ...part,
      length: part.text.length,
      limit: limit(i),
      extra:
        i === 0 && !followUp
          ? { endpoint: photo ? 'photos' : 'feed', ...(linkPost && link ? { link } : {}) }
          : { endpoint: 'comments', replyTo: followUp ? 'the original post' : 'first part' },
    }));
    return this.message(parts);
  }

  async postPart(part: RenderedPart, position: ThreadPosition, signal: AbortSignal): Promise<PostedPart> {
    const token = this.credentials.require('pageAccessToken');
    // Every later part is a comment on the first post (Pages have no reply chains).
    return position.root ? this.comment(position.root.id, part, token, signal) : this.postFirst(part, token, signal);
  }

  async findPart(part: RenderedPart, position: ThreadPosition, signal: AbortSignal): Promise<PostedPart | null | undefined> {
    return this.lookUp(part, position.root, this.credentials.require('pageAccessToken'), signal);
  }

  async deletePart(part: PostedPart, signal: AbortSignal): Promise<void> {
    const res = await httpRequest({
      url: `${this.graph}/${encodeURIComponent(part.id)}?${new URLSearchParams({ access_token: this.credentials.require('pageAccessToken') })}`,
      method: 'DELETE',
      timeoutMs: this.options.timeoutMs,
      signal,
      mutating: true,
    });
    if (res.status !== 200) throw mapGraphError(res, 'deleting the post');
  }

  protected async inspect(signal?: AbortSignal): Promise<Omit<HealthReport, 'checkedAt'>> {
    const token = this.credentials.require('pageAccessToken');
    const appId = this.credentials.get('appId');
    const appSecret = this.credentials.get('appSecret');
    // debug_token wants an app token (app id|secret); the page token itself is the fallback.
    const inspector = appId && appSecret ? `${appId}|${appSecret}` : token;
    const debug = await httpRequest({
      url: `${this.graph}/debug_token?${new URLSearchParams({ input_token: token, access_token: inspector })}`,
      timeoutMs: this.options.timeoutMs,
      signal,
    });
    if (debug.status !== 200) throw mapGraphError(debug, 'checking the token');
    const data = ((debug.json as { data?: Record<string, unknown> })?.data ?? {}) as {
      is_valid?: boolean;
      expires_at?: number;
      data_access_expires_at?: number;
      scopes?: string[];
      type?: string;
      profile_id?: string;
      error?: { message?: string };
    };
    const expiries = [data.expires_at, data.data_access_expires_at].filter((t): t is number => typeof t === 'number' && t > 0);
    const expiresAt = expiries.length ? new Date(Math.min(...expiries) * 1000).toISOString() : undefined;
    if (!data.is_valid) {
      return { ok: false, detail: `the page token is not valid${data.error?.message ? `: ${data.error.message}` : ''}`, ...(expiresAt ? { expiresAt } : {}) };
    }
    const missing = REQUIRED_PERMISSIONS.filter((p) => data.scopes && !data.scopes.includes(p));
    const me = await httpRequest({
      url: `${this.graph}/me?${new URLSearchParams({ fields: 'id,name', access_token: token })}`,
      timeoutMs: this.options.timeoutMs,
      signal,
    });
    const page = me.status === 200 ? (me.json as { id?: string; name?: string }) : undefined;
    const problems: string[] = [];
    if (data.type && data.type !== 'PAGE') problems.push(`this is a ${data.type} token, not a Page token`);
    if (page?.id && page.id !== this.options.pageId) problems.push(`the token belongs to page ${page.id}, not ${this.options.pageId}`);
    if (missing.length) problems.push(`missing permissions ${missing.join(', ')}`);
    return {
      ok: problems.length === 0,
      detail: `Page ${page?.name ?? this.options.pageId}${expiresAt ? `, token expires ${expiresAt}` : ', token does not expire'}${problems.length ? `; ${problems.join('; ')}` : ''}`,
      ...(expiresAt ? { expiresAt } : {}),
      ...(missing.length ? { missingPermissions: missing } : {}),
    };
  }

  // -------------------------------------------------------------------------------------------

  private async post(path: string, params: Record<string, string>, token: string, signal: AbortSignal, doing: string): Promise<Record<string, string>> {
    const res = await httpRequest({
      url: `${this.graph}/${path}`,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...params, access_token: token }).toString(),
      timeoutMs: this.options.timeoutMs,
      signal,
      mutating: true,
    });
    if (res.status !== 200) throw mapGraphError(res, doing);
    return res.json as Record<string, string>;
  }

  private permalink(postId: string): string {
    return `https://www.facebook.com/${postId}`;
  }

  private async postFirst(part: RenderedPart, token: string, signal: AbortSignal): Promise<PostedPart> {
    const extra = (part.extra ?? {}) as { link?: string };
    let warning: string | undefined;
    if (part.media) {
      try {
        // Facebook fetches the URL itself, from its own network; Tocsin does not fetch it here.
        const res = await this.post(
          `${this.options.pageId}/photos`,
          { url: part.media.url, caption: part.text, alt_text_custom: part.media.alt, published: 'true' },
          token,
          signal,
          'posting the photo',
        );
        const postId = res.post_id ?? res.id;
        return { id: postId, url: this.permalink(postId), ref: { photoId: res.id } };
      } catch (err) {
        // Facebook could not use the image (fetch failed, bad file): post the text without it.
        const e = err as DeliveryError;
        if (!(e instanceof DeliveryError) || e.kind !== 'permanent' || e.options.credentials || e.options.code === 'duplicate' || this.options.imageRequired)
          throw err;
        warning = `image left out: ${e.message}`;
      }
    }
    const res = await this.post(
      `${this.options.pageId}/feed`,
      { message: part.text, ...(extra.link ? { link: extra.link } : {}) },
      token,
      signal,
      'posting to the Page',
    );
    return this.noted({ id: res.id, url: this.permalink(res.id) }, warning);
  }

  private async comment(postId: string, part: RenderedPart, token: string, signal: AbortSignal): Promise<PostedPart> {
    const res = await this.post(`${postId}/comments`, { message: part.text }, token, signal, 'adding a comment');
    return { id: res.id, url: `${this.permalink(postId)}?comment_id=${encodeURIComponent(res.id.split('_').pop() as string)}` };
  }

  private async lookUp(part: RenderedPart, first: PostedPart | undefined, token: string, signal: AbortSignal): Promise<PostedPart | null> {
    const path = first ? `${first.id}/comments` : `${this.options.pageId}/posts`;
    const res = await httpRequest({
      url: `${this.graph}/${path}?${new URLSearchParams({ fields: 'id,message,created_time', limit: '25', access_token: token })}`,
      timeoutMs: this.options.timeoutMs,
      signal,
    });
    if (res.status !== 200) throw mapGraphError(res, 'reading the Page');
    const wanted = comparable(part.text);
    const match = ((res.json as { data?: Array<{ id: string; message?: string }> })?.data ?? []).find((p) => comparable(p.message ?? '') === wanted);
    if (!match) return null;
    return first
      ? { id: match.id, url: `${this.permalink(first.id)}?comment_id=${encodeURIComponent(match.id.split('_').pop() as string)}` }
      : { id: match.id, url: this.permalink(match.id) };
  }
}
