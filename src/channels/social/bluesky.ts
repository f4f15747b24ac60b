import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AtpAgent, RichText, XRPCError } from '@atproto/api';
import type { Alert } from '../../domain/alert.js';
import type { SocialAccountConfig } from '../../config/schema.js';
import {
  DeliveryError,
  type AccountChannel,
  type DeliverContext,
  type HealthReport,
  type PostedPart,
  type RenderedMessage,
  type RenderedPart,
} from '../types.js';
import { deliveryErrorForNetwork } from '../http-errors.js';
import {
  baseOptionsShape,
  comparable,
  composeAlert,
  Credentials,
  epochSecondsToMs,
  defaultFetcher,
  fetchImage,
  imageProblem,
  ImageUnavailable,
  linkPlacementSchema,
  parseAccountOptions,
  requireCredentialNames,
  shorten,
  withTimeout,
  withWarning,
} from './common.js';
import { markdownToText } from '../../render/markdown.js';
import { splitThread } from './thread.js';
import type { SocialDeps } from './tokens.js';

// Bluesky through @atproto/api 0.19 (the last line whose engines allow Node 20; 0.20+ wants 22).
// Login with com.atproto.server.createSession (handle or DID + an app password); the session is
// kept and refreshed by the library. Posts are com.atproto.repo.createRecord calls for
// app.bsky.feed.post, so each part can carry a record key decided at render time:
//
//   Deterministic record keys. Each part's rkey is a TID derived from the alert's creation time
//   and a hash of (channel, alert, part). A post at that key either exists or it does not, so a
//   lost reply is found exactly (getRecord), and a retry cannot create a second copy: the PDS
//   refuses a second record at the same key, and we then confirm the first one. Hence safeToResend.
//
// Length: 300 graphemes as RichText counts them; link facets from RichText.detectFacets.

export const BLUESKY_LIMIT = 300;
const BLUESKY_MAX_IMAGE_BYTES = 1_000_000;
const POST = 'app.bsky.feed.post';

export const blueskyOptionsSchema = z
  .object({
    ...baseOptionsShape,
    linkPlacement: linkPlacementSchema.default('first'),
    /** Attach a link card (external embed) to the first post when the alert has no image. */
    linkCard: z.boolean().default(true),
    /** Record keys derived from the alert (see above); turn off to let the PDS choose. */
    deterministicRkeys: z.boolean().default(true),
  })
  .strict();
export type BlueskyOptions = z.output<typeof blueskyOptionsSchema>;

export function blueskyLength(text: string): number {
  return new RichText({ text }).graphemeLength;
}

const S32 = '234567abcdefghijklmnopqrstuvwxyz';

/** A TID (timestamp identifier): 53 bits of microseconds and a 10-bit clock id, base32-sortable. */
export function tid(micros: bigint, clockId: number): string {
  let v = (micros << 10n) | BigInt(clockId & 1023);
  let out = '';
  for (let i = 0; i < 13; i++) {
    out = S32[Number(v & 31n)] + out;
    v >>= 5n;
  }
  return out;
}

/** The record key of part `index` of this alert on this channel. */
export function partRkey(alert: Pick<Alert, 'id' | 'createdAt'>, channelId: string, index: number): string {
  const micros = BigInt(Date.parse(alert.createdAt)) * 1000n + BigInt(index);
  const clock = createHash('sha256').update(`${channelId}\n${alert.id}`).digest().readUInt16BE(0);
  return tid(micros, clock);
}

/** Marks a failure of fetch itself, so an XRPCError wrapping it can be told apart from an HTTP error. */
class NetworkFailure extends Error {
  constructor(readonly original: unknown) {
    super((original as Error)?.message ?? String(original));
    this.name = 'NetworkFailure';
  }
}

interface PartRef {
  uri: string;
  cid: string;
}

export class BlueskyChannel implements AccountChannel {
  readonly provider = 'bluesky';
  readonly safeToResend: boolean;
  readonly id: string;
  private readonly options: BlueskyOptions;
  private readonly credentials: Credentials;
  private readonly service: string;
  private agent?: AtpAgent;
  private loggingIn?: Promise<AtpAgent>;

  constructor(
    account: SocialAccountConfig,
    env: NodeJS.ProcessEnv,
    private readonly deps: SocialDeps = {},
  ) {
    this.id = account.id;
    this.options = parseAccountOptions(account, blueskyOptionsSchema);
    this.credentials = new Credentials(account, env);
    requireCredentialNames(account, ['identifier', 'password']);
    this.service = account.baseUrl ?? 'https://bsky.social';
    this.safeToResend = this.options.deterministicRkeys;
  }

  render(alert: Alert): RenderedMessage {
    const composed = composeAlert(alert, this.options);
    const texts = splitThread(composed.paragraphs, {
      length: blueskyLength,
      limit: BLUESKY_LIMIT,
      locale: alert.language,
      firstSuffix: composed.firstSuffix,
      numbering: this.options.numbering,
    });
    const parts: RenderedPart[] = texts.map((text, i) => {
      const rt = new RichText({ text });
      rt.detectFacetsWithoutResolution();
      const links = (rt.facets ?? []).flatMap((f) =>
        f.features.filter((x) => x.$type === 'app.bsky.richtext.facet#link').map((x) => (x as { uri: string }).uri),
      );
      const card = i === 0 && !alert.image && this.options.linkCard && alert.canonicalUrl;
      return {
        text,
        length: rt.graphemeLength,
        limit: BLUESKY_LIMIT,
        ...(i === 0 && alert.image ? { media: { url: alert.image.url, alt: alert.image.alt } } : {}),
        extra: {
          langs: [alert.language],
          ...(this.options.deterministicRkeys ? { rkey: partRkey(alert, this.id, i) } : {}),
          ...(links.length ? { links } : {}),
          ...(card ? { card: { uri: alert.canonicalUrl, title: alert.title, description: shorten(markdownToText(alert.summary), 300) } } : {}),
          ...(i > 0 ? { replyTo: 'previous part' } : {}),
        },
      };
    });
    return { channel: this.id, provider: this.provider, parts };
  }

  async deliver(message: RenderedMessage, context: DeliverContext): Promise<PostedPart> {
    const agent = await this.session();
    const did = agent.session?.did as string;
    const done = [...context.posted];
    for (let i = done.length; i < message.parts.length; i++) {
      const part = message.parts[i];
      const extra = (part.extra ?? {}) as { rkey?: string; langs?: string[]; card?: { uri: string; title: string; description: string } };
      const rt = new RichText({ text: part.text });
      await rt.detectFacets(agent);
      // A mention that did not resolve has no DID and would make the record invalid.
      const facets = (rt.facets ?? []).filter((f) => f.features.every((x) => x.$type !== 'app.bsky.richtext.facet#mention' || (x as { did?: string }).did));
      let warning: string | undefined;
      let embed: Record<string, unknown> | undefined;
      if (part.media) {
        try {
          embed = await this.imageEmbed(agent, part.media, context.signal);
        } catch (err) {
          if (!(err instanceof ImageUnavailable)) throw err;
          warning = imageProblem(err, this.options.imageRequired, { channel: this.id, log: this.deps.log });
        }
      }
      if (!embed && extra.card) embed = { $type: 'app.bsky.embed.external', external: extra.card };
      const root = done[0]?.ref as PartRef | undefined;
      const parent = done[i - 1]?.ref as PartRef | undefined;
      const record: Record<string, unknown> = {
        $type: POST,
        text: part.text,
        createdAt: new Date().toISOString(),
        ...(facets.length ? { facets } : {}),
        ...(extra.langs ? { langs: extra.langs } : {}),
        ...(root && parent ? { reply: { root: { uri: root.uri, cid: root.cid }, parent: { uri: parent.uri, cid: parent.cid } } } : {}),
        ...(embed ? { embed } : {}),
      };
      let ref: PartRef;
      try {
        const res = await agent.com.atproto.repo.createRecord({ repo: did, collection: POST, record, ...(extra.rkey ? { rkey: extra.rkey } : {}) });
        ref = { uri: res.data.uri, cid: res.data.cid };
      } catch (err) {
        const e = mapBlueskyError(err, true);
        // A record already at this key: an earlier try went through. Take it if it is ours.
        const existing =
          extra.rkey && e.kind === 'permanent' && e.options.status === 400 ? await this.recordAt(agent, did, extra.rkey).catch(() => undefined) : undefined;
        if (!existing || comparable(existing.text) !== comparable(part.text)) throw e;
        ref = existing.ref;
      }
      const posted = withWarning(this.postedPart(agent, ref), warning);
      await context.onPosted(posted);
      done.push(posted);
    }
    return done[0];
  }

  async findExisting(message: RenderedMessage, context: DeliverContext): Promise<PostedPart | null | undefined> {
    const index = context.posted.length;
    const part = message.parts[index];
    if (!part) return null;
    try {
      const agent = await this.session();
      const did = agent.session?.did as string;
      const rkey = (part.extra as { rkey?: string } | undefined)?.rkey;
      if (rkey) {
        const existing = await this.recordAt(agent, did, rkey);
        return existing && comparable(existing.text) === comparable(part.text) ? this.postedPart(agent, existing.ref) : null;
      }
      // Without a known key: the account's latest posts, same text, replying to the same parent.
      const parent = (context.posted[index - 1]?.ref as PartRef | undefined)?.uri;
      const res = await agent.com.atproto.repo.listRecords({ repo: did, collection: POST, limit: 30 });
      for (const r of res.data.records) {
        const value = r.value as { text?: string; reply?: { parent?: { uri?: string } } };
        if (comparable(value.text ?? '') === comparable(part.text) && value.reply?.parent?.uri === parent)
          return this.postedPart(agent, { uri: r.uri, cid: r.cid });
      }
      return null;
    } catch {
      return undefined;
    }
  }

  async checkHealth(): Promise<HealthReport> {
    const checkedAt = new Date().toISOString();
    const unset = this.credentials.unset(['identifier', 'password']);
    if (unset.length) return { ok: false, checkedAt, detail: `not set: ${unset.join(', ')}` };
    try {
      const agent = await this.session();
      const res = await agent.com.atproto.server.getSession();
      const s = res.data;
      const active = s.active !== false;
      return {
        ok: active,
        checkedAt,
        detail: `@${s.handle} (${s.did})${active ? '' : `: account is ${s.status ?? 'not active'}`} on ${new URL(this.service).host}`,
      };
    } catch (err) {
      const e = mapBlueskyError(err, false);
      if (e.options.credentials) this.agent = undefined;
      return { ok: false, checkedAt, detail: `${e.options.credentials ? 'credentials rejected' : e.kind}: ${e.message}` };
    }
  }

  // -------------------------------------------------------------------------------------------

  private postedPart(agent: AtpAgent, ref: PartRef): PostedPart {
    const rkey = ref.uri.split('/').pop() as string;
    const who = agent.session?.handle ?? agent.session?.did ?? ref.uri.split('/')[2];
    return { id: ref.uri, url: `https://bsky.app/profile/${who}/post/${rkey}`, ref: { uri: ref.uri, cid: ref.cid } };
  }

  private async recordAt(agent: AtpAgent, did: string, rkey: string): Promise<{ text: string; ref: PartRef } | null> {
    try {
      const res = await agent.com.atproto.repo.getRecord({ repo: did, collection: POST, rkey });
      return { text: String((res.data.value as { text?: string }).text ?? ''), ref: { uri: res.data.uri, cid: res.data.cid as string } };
    } catch (err) {
      if (err instanceof XRPCError && (err.error === 'RecordNotFound' || /could not locate record/i.test(err.message))) return null;
      throw err;
    }
  }

  private async imageEmbed(agent: AtpAgent, media: { url: string; alt: string }, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const image = await fetchImage(this.deps.fetcher ?? defaultFetcher(), media.url, {
      maxBytes: BLUESKY_MAX_IMAGE_BYTES,
      timeoutMs: this.options.timeoutMs,
      signal,
      types: ['image/jpeg', 'image/png', 'image/gif', 'image/webp'],
    });
    try {
      const res = await agent.uploadBlob(new Uint8Array(image.bytes), { encoding: image.mediaType });
      return { $type: 'app.bsky.embed.images', images: [{ alt: media.alt, image: res.data.blob }] };
    } catch (err) {
      const e = mapBlueskyError(err, false);
      if (e.kind === 'permanent' && !e.options.credentials) throw new ImageUnavailable(`Bluesky refused the image: ${e.message}`, false);
      throw e;
    }
  }

  /** Logs in once (createSession is itself rate-limited) and keeps the session. */
  private session(): Promise<AtpAgent> {
    if (this.agent?.hasSession) return Promise.resolve(this.agent);
    this.loggingIn ??= this.login().finally(() => {
      this.loggingIn = undefined;
    });
    return this.loggingIn;
  }

  private async login(): Promise<AtpAgent> {
    const identifier = this.credentials.require('identifier');
    const password = this.credentials.require('password');
    const timeoutMs = this.options.timeoutMs;
    const timedFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      try {
        return await fetch(input, { ...init, signal: withTimeout(timeoutMs, init?.signal ?? (input instanceof Request ? input.signal : undefined)) });
      } catch (err) {
        throw new NetworkFailure(err);
      }
    };
    const agent = new AtpAgent({ service: this.service, fetch: timedFetch as typeof fetch });
    try {
      await agent.login({ identifier, password });
    } catch (err) {
      throw mapBlueskyError(err, false);
    }
    this.agent = agent;
    return agent;
  }
}

/** XRPC errors to the delivery contract. */
export function mapBlueskyError(err: unknown, mutating: boolean): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (err instanceof XRPCError) {
    if (err.cause instanceof NetworkFailure) return deliveryErrorForNetwork(err.cause.original, mutating);
    const status = err.status as number;
    const reason = shorten(`Bluesky answered ${status}${err.error ? ` ${err.error}` : ''}: ${err.message}`);
    if (status === 429) {
      return new DeliveryError('rate-limited', reason, { status, retryAt: epochSecondsToMs(err.headers?.['ratelimit-reset']) ?? Date.now() + 5 * 60_000 });
    }
    const credentialsError = [
      'AuthenticationRequired',
      'ExpiredToken',
      'InvalidToken',
      'AccountTakedown',
      'AccountDeactivated',
      'AuthFactorTokenRequired',
    ].includes(err.error);
    if (status === 401 || status === 403 || credentialsError) return new DeliveryError('permanent', reason, { status, code: err.error, credentials: true });
    // The PDS answered 2xx but not in the expected shape: the write most likely happened.
    if (status === 2) return new DeliveryError(mutating ? 'unknown-outcome' : 'transient', reason, { code: err.error });
    if (status === 1) return new DeliveryError(mutating ? 'unknown-outcome' : 'transient', reason);
    if (status >= 500) return new DeliveryError('transient', reason, { status, code: err.error });
    return new DeliveryError('permanent', reason, { status, code: err.error });
  }
  return new DeliveryError('transient', (err as Error)?.message ?? String(err));
}

export function createBlueskyChannel(account: SocialAccountConfig, env: NodeJS.ProcessEnv, deps?: SocialDeps): BlueskyChannel {
  return new BlueskyChannel(account, env, deps);
}
