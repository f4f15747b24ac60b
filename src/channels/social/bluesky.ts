import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AtpAgent, RichText, XRPCError } from '@atproto/api';
import type { Alert } from '../../domain/alert.js';
import type { SocialAccountConfig } from '../../config/schema.js';
import { DeliveryError } from '../messenger.js';
import type { FollowUp, HealthReport, Messenger, PostedPart, RenderedMessage, RenderedPart, ThreadPosition } from '../messenger.js';
import { deliveryErrorForNetwork, errorText } from '../http-errors.js';
import { baseOptionsShape, comparable, epochSecondsToMs, ImageUnavailable, linkPlacementSchema, shorten, timedFetch, type FetchedImage } from './common.js';
import { markdownToText } from '../../render/markdown.js';
import { SocialAccount } from './account.js';
import { linkOf } from '../../domain/alert-link.js';
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

export class BlueskyChannel extends SocialAccount<BlueskyOptions> implements Messenger {
  readonly provider = 'bluesky';
  readonly safeToResend: boolean;
  private readonly service: string;
  private agent?: AtpAgent;
  private loggingIn?: Promise<AtpAgent>;

  constructor(account: SocialAccountConfig, env: NodeJS.ProcessEnv, deps: SocialDeps = {}) {
    super(account, env, blueskyOptionsSchema, () => ['identifier', 'password'], deps);
    this.service = account.baseUrl ?? 'https://bsky.social';
    this.safeToResend = this.options.deterministicRkeys;
  }

  render(alert: Alert, followUp?: FollowUp): RenderedMessage {
    // A follow-up's parts get record keys of their own, after the original's.
    const keyOffset = followUp ? followUp.version * 1000 : 0;
    const parts = this.splitAlert(alert, { length: blueskyLength, limit: BLUESKY_LIMIT }, {}, followUp).map((part, i) => {
      const rt = new RichText({ text: part.text });
      rt.detectFacetsWithoutResolution();
      const links = (rt.facets ?? []).flatMap((f) =>
        f.features.filter((x) => x.$type === 'app.bsky.richtext.facet#link').map((x) => (x as { uri: string }).uri),
      );
      const link = linkOf(alert);
      const card = i === 0 && !alert.image && !followUp && this.options.linkCard && link;
      return {
        ...part,
        length: rt.graphemeLength,
        limit: BLUESKY_LIMIT,
        extra: {
          langs: [alert.language],
          ...(this.options.deterministicRkeys ? { rkey: partRkey(alert, this.id, i + keyOffset) } : {}),
          ...(links.length ? { links } : {}),
          ...(card ? { card: { uri: link, title: alert.title, description: shorten(markdownToText(alert.summary), 300) } } : {}),
          ...(i > 0 || followUp ? { replyTo: 'previous part' } : {}),
        },
      };
    });
    return this.message(parts);
  }

  async postPart(part: RenderedPart, position: ThreadPosition, signal: AbortSignal): Promise<PostedPart> {
    const agent = await this.session();
    const did = agent.session?.did as string;
    const extra = (part.extra ?? {}) as { rkey?: string; langs?: string[]; card?: { uri: string; title: string; description: string } };
    const rt = new RichText({ text: part.text });
    await rt.detectFacets(agent);
    // A mention that did not resolve has no DID and would make the record invalid.
    const facets = (rt.facets ?? []).filter((f) => f.features.every((x) => x.$type !== 'app.bsky.richtext.facet#mention' || (x as { did?: string }).did));
    const { uploaded, warning } = await this.withImage(
      part,
      { maxBytes: BLUESKY_MAX_IMAGE_BYTES, types: ['image/jpeg', 'image/png', 'image/gif', 'image/webp'] },
      (image, media) => this.imageEmbed(agent, image, media),
      signal,
    );
    const embed = uploaded ?? (extra.card ? { $type: 'app.bsky.embed.external', external: extra.card } : undefined);
    const root = position.root?.ref as PartRef | undefined;
    const parent = position.replyTo?.ref as PartRef | undefined;
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
    return this.noted(this.postedPart(agent, ref), warning);
  }

  async findPart(part: RenderedPart, position: ThreadPosition): Promise<PostedPart | null | undefined> {
    const agent = await this.session();
    const did = agent.session?.did as string;
    const rkey = (part.extra as { rkey?: string } | undefined)?.rkey;
    if (rkey) {
      const existing = await this.recordAt(agent, did, rkey);
      return existing && comparable(existing.text) === comparable(part.text) ? this.postedPart(agent, existing.ref) : null;
    }
    // Without a known key: the account's latest posts, same text, replying to the same parent.
    const parent = (position.replyTo?.ref as PartRef | undefined)?.uri;
    const res = await agent.com.atproto.repo.listRecords({ repo: did, collection: POST, limit: 30 });
    for (const r of res.data.records) {
      const value = r.value as { text?: string; reply?: { parent?: { uri?: string } } };
      if (comparable(value.text ?? '') === comparable(part.text) && value.reply?.parent?.uri === parent)
        return this.postedPart(agent, { uri: r.uri, cid: r.cid });
    }
    return null;
  }

  async deletePart(part: PostedPart): Promise<void> {
    const agent = await this.session();
    const rkey = part.id.split('/').pop() as string;
    try {
      await agent.com.atproto.repo.deleteRecord({ repo: agent.session?.did as string, collection: POST, rkey });
    } catch (err) {
      throw mapBlueskyError(err, true);
    }
  }

  protected async inspect(): Promise<Omit<HealthReport, 'checkedAt'>> {
    try {
      const agent = await this.session();
      const { data: s } = await agent.com.atproto.server.getSession();
      const active = s.active !== false;
      return { ok: active, detail: `@${s.handle} (${s.did})${active ? '' : `: account is ${s.status ?? 'not active'}`} on ${new URL(this.service).host}` };
    } catch (err) {
      const e = mapBlueskyError(err, false);
      if (e.options.credentials) this.agent = undefined;
      throw e;
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

  private async imageEmbed(agent: AtpAgent, image: FetchedImage, media: { alt: string }): Promise<Record<string, unknown>> {
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
    // Every request the library makes gets the deadline; a library error wrapping a network
    // failure is told apart from an HTTP error by NetworkFailure.
    const deadlineFetch = timedFetch(this.options.timeoutMs);
    const wrappedFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      try {
        return await deadlineFetch(input, init);
      } catch (err) {
        throw new NetworkFailure(err);
      }
    };
    const agent = new AtpAgent({ service: this.service, fetch: wrappedFetch as typeof fetch });
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
  return new DeliveryError('transient', errorText(err));
}
