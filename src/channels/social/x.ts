import http from 'node:http';
import { z } from 'zod';
import twitterText from 'twitter-text';
import { ApiPartialResponseError, ApiRequestError, ApiResponseError, TwitterApi, type ITwitterApiClientPlugin, type SendTweetV2Params } from 'twitter-api-v2';
import type { Alert } from '../../domain/alert.js';
import type { SocialAccountConfig } from '../../config/schema.js';
import { DeliveryError } from '../messenger.js';
import type { FollowUp, HealthReport, Messenger, PostedPart, RenderedMessage, RenderedPart, ThreadPosition } from '../messenger.js';
import { deliveryErrorForNetwork, errorText } from '../http-errors.js';
import { isDeadlineError, withDeadline } from '../../net/deadline.js';
import { baseOptionsShape, comparable, ImageUnavailable, linkPlacementSchema, shorten, type FetchedImage } from './common.js';
import { SocialAccount } from './account.js';
import type { SocialDeps, TokenSet } from './tokens.js';

// X (Twitter) through twitter-api-v2, API v2 only: POST /2/tweets, the v2 chunked media upload
// (initialize / append / finalize) with alt text through /2/media/metadata, GET /2/users/me and
// GET /2/users/:id/tweets. Lengths are twitter-text's weighted count (280; every URL counts 23).
//
// Auth: OAuth 1.0a user context (appKey, appSecret, accessToken, accessSecret), or an OAuth 2.0
// user token with refresh (clientId, clientSecret for confidential clients, refreshToken; an
// accessToken may be given too). X rotates refresh tokens: each refresh spends the old one, so
// the new pair is kept in memory and handed to the TokenStore when one is provided.

export const X_LIMIT = 280;
const X_MAX_IMAGE_BYTES = 5 * 1024 * 1024;
const OAUTH2_SCOPES = ['tweet.read', 'tweet.write', 'users.read', 'offline.access', 'media.write'];

export const xOptionsSchema = z
  .object({
    ...baseOptionsShape,
    /** Posts with links reach fewer people on X: put the link last (default), first, or in its own reply. */
    linkPlacement: linkPlacementSchema.default('last'),
    /** Which credentials to use; by default whichever set credentialsEnv names. */
    auth: z.enum(['oauth1', 'oauth2']).optional(),
  })
  .strict();
export type XOptions = z.output<typeof xOptionsSchema>;

export function xLength(text: string): number {
  return twitterText.parseTweet(text).weightedLength;
}

/**
 * Sends every request of the client to `baseUrl` (a local fake in tests, a proxy in production)
 * and gives each a timeout. twitter-api-v2 calls onBeforeRequestConfig before it signs, so OAuth
 * 1.0a signatures are computed over the rewritten URL, as the receiver sees it.
 */
export function xRequestPlugin(baseUrl: string | undefined, timeoutMs: number): ITwitterApiClientPlugin {
  const base = baseUrl ? new URL(baseUrl) : undefined;
  return {
    onBeforeRequestConfig({ params }) {
      const original = new URL(/^https?:\/\//.test(params.url) ? params.url : `https://${params.url}`);
      // The library picks JSON vs form bodies from the path; decide before the path changes.
      // The token endpoint takes a form body (X's documented content type).
      if (!params.forceBodyMode && original.pathname.startsWith('/2/')) {
        params.forceBodyMode = original.pathname.startsWith('/2/oauth2/') ? 'url' : 'json';
      }
      if (base) params.url = `${base.origin}${base.pathname.replace(/\/$/, '')}${original.pathname}${original.search}`;
    },
    onBeforeRequest({ requestOptions }) {
      requestOptions.timeout = timeoutMs;
    },
  };
}

type Mode = 'oauth1' | 'oauth2';

const modeOf = (account: SocialAccountConfig): Mode => (account.credentialsEnv.refreshToken || account.credentialsEnv.clientId ? 'oauth2' : 'oauth1');
const credentialNames = (mode: Mode) => (mode === 'oauth1' ? ['appKey', 'appSecret', 'accessToken', 'accessSecret'] : ['clientId', 'refreshToken']);

export class XChannel extends SocialAccount<XOptions> implements Messenger {
  readonly provider = 'x';
  /** X has no idempotency key: an interrupted post is looked up, never re-sent blindly. */
  readonly safeToResend = false;
  private readonly mode: Mode;
  private readonly settings: { plugins: ITwitterApiClientPlugin[]; httpAgent?: http.Agent };
  private client?: TwitterApi;
  private tokens?: TokenSet;
  private refreshing?: Promise<TwitterApi>;
  private me?: { id: string; username: string };

  constructor(account: SocialAccountConfig, env: NodeJS.ProcessEnv, deps: SocialDeps = {}) {
    super(account, env, xOptionsSchema, (options) => credentialNames(options.auth ?? modeOf(account)), deps);
    this.mode = this.options.auth ?? modeOf(account);
    const httpAgent = account.baseUrl?.startsWith('http:') ? new http.Agent({ keepAlive: false }) : undefined;
    this.settings = { plugins: [xRequestPlugin(account.baseUrl, this.options.timeoutMs)], ...(httpAgent ? { httpAgent } : {}) };
  }

  render(alert: Alert, followUp?: FollowUp): RenderedMessage {
    const parts = this.splitAlert(alert, { length: xLength, limit: X_LIMIT }, {}, followUp).map((part, i) => ({
      ...part,
      length: xLength(part.text),
      limit: X_LIMIT,
      ...(i > 0 || followUp ? { extra: { replyTo: 'previous part' } } : {}),
    }));
    return this.message(parts);
  }

  async postPart(part: RenderedPart, position: ThreadPosition, signal: AbortSignal): Promise<PostedPart> {
    const { uploaded, warning } = await this.withImage(part, { maxBytes: X_MAX_IMAGE_BYTES }, (image, media) => this.upload(image, media, signal), signal);
    const payload: SendTweetV2Params = {
      text: part.text,
      ...(position.replyTo ? { reply: { in_reply_to_tweet_id: position.replyTo.id } } : {}),
      ...(uploaded ? { media: { media_ids: [uploaded] as [string] } } : {}),
    };
    // X refuses an identical post as a duplicate: the dispatcher then looks it up (findPart).
    const result = await this.call((client) => client.v2.tweet(payload), true, signal);
    return this.noted(this.postedPart(result.data.id), warning);
  }

  /** After a lost answer: the part on the account's recent posts, replying to the same post. */
  async findPart(part: RenderedPart, position: ThreadPosition, signal: AbortSignal): Promise<PostedPart | null | undefined> {
    const me = await this.whoAmI(signal);
    const wanted = comparable(part.text);
    const previous = position.replyTo;
    const response: unknown = await this.call(
      (client) =>
        client.v2.get(`users/${me.id}/tweets`, {
          max_results: 20,
          'tweet.fields': 'created_at,referenced_tweets',
          ...(previous ? { since_id: previous.id } : {}),
        }),
      false,
      signal,
    );
    const tweets = (response as { data?: Array<{ id: string; text: string; referenced_tweets?: Array<{ type: string; id: string }> }> }).data ?? [];
    for (const tweet of tweets) {
      const repliedTo = tweet.referenced_tweets?.find((r) => r.type === 'replied_to')?.id;
      if (comparable(tweet.text) !== wanted) continue;
      if (previous ? repliedTo !== previous.id : repliedTo !== undefined) continue;
      return this.postedPart(tweet.id);
    }
    return null;
  }

  async deletePart(part: PostedPart, signal: AbortSignal): Promise<void> {
    await this.call((client) => client.v2.deleteTweet(part.id), true, signal);
  }

  protected async inspect(signal?: AbortSignal): Promise<Omit<HealthReport, 'checkedAt'>> {
    const response = await this.call((client) => client.v2.get('users/me', {}, { fullResponse: true }), false, signal);
    const user = (response.data as { data?: { id: string; username: string } }).data;
    if (user) this.me = user;
    const missing: string[] = [];
    let expiresAt: string | undefined;
    if (this.mode === 'oauth1') {
      // X tells the token's access level in a header on user-context calls.
      const level = String(response.headers['x-access-level'] ?? '');
      if (level && !level.includes('write')) missing.push('write (the app has read-only access)');
    } else if (this.tokens) {
      if (this.tokens.scope) missing.push(...OAUTH2_SCOPES.filter((s) => !this.tokens?.scope?.includes(s)));
      if (this.tokens.expiresAt) expiresAt = new Date(this.tokens.expiresAt).toISOString();
    }
    return {
      ok: missing.length === 0,
      detail: `${this.mode === 'oauth1' ? 'OAuth 1.0a' : 'OAuth 2.0'} as @${user?.username ?? '?'}${missing.length ? `; missing ${missing.join(', ')}` : ''}${
        expiresAt ? `; access token renews itself (refresh token kept ${this.deps.tokenStore ? 'in the token store' : 'in memory only'})` : ''
      }`,
      ...(expiresAt ? { expiresAt } : {}),
      ...(missing.length ? { missingPermissions: missing } : {}),
    };
  }

  // -------------------------------------------------------------------------------------------

  private postedPart(id: string): PostedPart {
    return { id, url: this.me ? `https://x.com/${this.me.username}/status/${id}` : `https://x.com/i/web/status/${id}` };
  }

  private async upload(image: FetchedImage, media: { alt: string }, signal: AbortSignal): Promise<string> {
    try {
      const mediaId = await this.call(
        (client) => client.v2.uploadMedia(image.bytes, { media_type: image.mediaType as 'image/png', media_category: 'tweet_image' }),
        false,
        signal,
      );
      await this.call((client) => client.v2.createMediaMetadata(mediaId, { alt_text: { text: media.alt.slice(0, 1000) } }), false, signal);
      return mediaId;
    } catch (err) {
      // X refused this image (format, size): that is about the image, not the account.
      if (err instanceof DeliveryError && err.kind === 'permanent' && !err.options.credentials && err.options.status !== 402) {
        throw new ImageUnavailable(`X refused the image: ${err.message}`, false);
      }
      throw err;
    }
  }

  private async whoAmI(signal?: AbortSignal): Promise<{ id: string; username: string }> {
    if (this.me) return this.me;
    const result = await this.call((client) => client.v2.me(), false, signal);
    this.me = { id: result.data.id, username: result.data.username };
    return this.me;
  }

  /**
   * Runs one library call under the account's deadline (twitter-api-v2's own timeout is only the
   * socket's); maps its errors; with OAuth 2.0 a 401 refreshes the token once.
   */
  private async call<T>(fn: (client: TwitterApi) => Promise<T>, mutating: boolean, signal?: AbortSignal): Promise<T> {
    const once = (client: TwitterApi) => withDeadline(this.options.timeoutMs, () => fn(client), { signal, what: 'a request to X' });
    let client = await this.getClient();
    try {
      return await once(client);
    } catch (err) {
      if (this.mode === 'oauth2' && err instanceof ApiResponseError && err.code === 401) {
        // The access token expired early or was revoked; a 401 means nothing was posted.
        client = await this.refresh(client);
        try {
          return await once(client);
        } catch (again) {
          throw mapXError(again, mutating);
        }
      }
      throw mapXError(err, mutating);
    }
  }

  private async getClient(): Promise<TwitterApi> {
    if (this.client) {
      if (this.mode === 'oauth2' && this.tokens?.expiresAt && this.tokens.expiresAt - 60_000 < Date.now()) return this.refresh(this.client);
      return this.client;
    }
    if (this.mode === 'oauth1') {
      this.client = new TwitterApi(
        {
          appKey: this.credentials.require('appKey'),
          appSecret: this.credentials.require('appSecret'),
          accessToken: this.credentials.require('accessToken'),
          accessSecret: this.credentials.require('accessSecret'),
        },
        this.settings,
      );
      return this.client;
    }
    const stored = await this.deps.tokenStore?.load(this.id).catch(() => undefined);
    this.tokens = stored ?? {
      refreshToken: this.credentials.require('refreshToken'),
      ...(this.credentials.get('accessToken') ? { accessToken: this.credentials.get('accessToken') } : {}),
    };
    if (!this.tokens.accessToken || (this.tokens.expiresAt && this.tokens.expiresAt - 60_000 < Date.now())) return this.refresh(undefined);
    this.client = new TwitterApi(this.tokens.accessToken, this.settings);
    return this.client;
  }

  /** One refresh at a time; a caller holding an older client gets the new one. */
  private refresh(stale: TwitterApi | undefined): Promise<TwitterApi> {
    if (this.client && this.client !== stale) return Promise.resolve(this.client);
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<TwitterApi> {
    // Another process may have refreshed already (refresh tokens are single-use): prefer the store.
    const stored = await this.deps.tokenStore?.load(this.id).catch(() => undefined);
    if (stored && stored.accessToken && stored.accessToken !== this.tokens?.accessToken && (!stored.expiresAt || stored.expiresAt - 60_000 > Date.now())) {
      this.tokens = stored;
      this.client = new TwitterApi(stored.accessToken, this.settings);
      return this.client;
    }
    const refreshToken = stored?.refreshToken ?? this.tokens?.refreshToken ?? this.credentials.require('refreshToken');
    const clientSecret = this.credentials.get('clientSecret');
    const app = new TwitterApi({ clientId: this.credentials.require('clientId'), ...(clientSecret ? { clientSecret } : {}) }, this.settings);
    let result: Awaited<ReturnType<TwitterApi['refreshOAuth2Token']>>;
    try {
      result = await app.refreshOAuth2Token(refreshToken);
    } catch (err) {
      const e = mapXError(err, false);
      if (e.kind === 'permanent') {
        throw new DeliveryError('permanent', `X refused to refresh the OAuth 2.0 token (authorise the account again): ${e.message}`, {
          ...e.options,
          credentials: true,
        });
      }
      throw e;
    }
    this.tokens = {
      accessToken: result.accessToken,
      refreshToken: result.refreshToken ?? refreshToken,
      ...(result.expiresIn ? { expiresAt: Date.now() + result.expiresIn * 1000 } : {}),
      scope: result.scope,
    };
    this.client = result.client;
    await this.deps.tokenStore?.save(this.id, this.tokens).catch(() => undefined);
    return this.client;
  }
}

function headerValue(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  const v = headers?.[name];
  return Array.isArray(v) ? String(v[0]) : v === undefined ? undefined : String(v as string | number);
}

/** When X will take posts again: the per-endpoint window, or the 24-hour cap that ran out. */
export function xRetryAt(headers: Record<string, unknown> | undefined, now = Date.now()): number {
  const resets: number[] = [];
  const reset = Number(headerValue(headers, 'x-rate-limit-reset'));
  if (Number.isFinite(reset) && reset > 0) resets.push(reset * 1000);
  for (const scope of ['user', 'app']) {
    const remaining = headerValue(headers, `x-${scope}-limit-24hour-remaining`);
    const dayReset = Number(headerValue(headers, `x-${scope}-limit-24hour-reset`));
    if (remaining === '0' && Number.isFinite(dayReset) && dayReset > 0) resets.push(dayReset * 1000);
  }
  return resets.length ? Math.max(...resets) : now + 15 * 60_000;
}

function xReason(err: ApiResponseError): string {
  const data = err.data as { title?: string; detail?: string; errors?: Array<{ message?: string; detail?: string }> } | undefined;
  const detail =
    data?.detail ??
    data?.errors
      ?.map((e) => e.message ?? e.detail)
      .filter(Boolean)
      .join('; ') ??
    data?.title;
  return shorten(`X answered HTTP ${err.code}${detail ? `: ${detail}` : ''}`);
}

/** twitter-api-v2 errors to the delivery contract. */
export function mapXError(err: unknown, mutating: boolean): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (err instanceof ApiResponseError) {
    const status = err.code;
    const reason = xReason(err);
    if (status === 429) return new DeliveryError('rate-limited', reason, { status, retryAt: xRetryAt(err.headers) });
    if (status === 402) return new DeliveryError('permanent', `${reason} (the X API credits of this app are exhausted)`, { status, code: 'credits-exhausted' });
    if (status === 401) return new DeliveryError('permanent', reason, { status, credentials: true });
    if (status === 403) {
      if (/duplicate/i.test(reason)) return new DeliveryError('permanent', reason, { status, code: 'duplicate' });
      return new DeliveryError('permanent', reason, { status, credentials: true });
    }
    if (status >= 500 || status === 408) return new DeliveryError('transient', reason, { status });
    return new DeliveryError('permanent', reason, { status });
  }
  if (err instanceof ApiPartialResponseError) {
    // X began to answer: the request reached it.
    return new DeliveryError(mutating ? 'unknown-outcome' : 'transient', `X's answer was cut off: ${err.message}`);
  }
  if (err instanceof ApiRequestError) {
    const cause = err.requestError as (Error & { code?: string }) | undefined;
    return deliveryErrorForNetwork(
      { name: cause?.name, message: errorText(cause ?? err), cause: { code: cause?.code, message: errorText(cause ?? err) } },
      mutating,
    );
  }
  // Our own deadline, or the library's timeout: the request may have reached X.
  if (isDeadlineError(err)) return deliveryErrorForNetwork(err, mutating);
  return new DeliveryError('transient', errorText(err));
}
