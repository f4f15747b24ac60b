import { z } from 'zod';
import type { Alert } from '../../domain/alert.js';
import type { SocialAccountConfig } from '../../config/schema.js';
import { markdownToText } from '../../render/markdown.js';
import { errors } from '../../errors.js';
import { DeliveryError, type PostedPart } from '../messenger.js';
import { withDeadline } from '../../net/deadline.js';
import { deliveryErrorForNetwork } from '../http-errors.js';
import type { Paragraph } from './thread.js';
import { linkOf } from '../../domain/alert-link.js';
import type { Logger } from '../../log.js';
import { GuardedFetchError } from '../../net/fetch-error.js';
import { GuardedFetcher } from '../../net/guarded-fetch.js';
import { IMAGE_TYPES, type SniffedType } from '../../net/sniff.js';

// Pieces every social adapter shares: option parsing, credentials from the environment, HTTP with
// timeouts and honest network errors, the lead image, and the alert's text before it is split.

// ---------------------------------------------------------------------------------------------
// Options

/** Options every social provider takes; each adds its own and picks its linkPlacement default. */
export const baseOptionsShape = {
  /** 'full': title, summary, stages, recommendations. 'summary': title and summary only. */
  content: z.enum(['full', 'summary']).default('full'),
  /** Words before the canonical link ("Full alert: https://..."). */
  linkLabel: z.string().trim().max(60).default('Full alert:'),
  /** Number the parts of a thread "1/5". */
  numbering: z.boolean().default(true),
  /** Fail the delivery when the lead image cannot be fetched or is refused, instead of posting without it. */
  imageRequired: z.boolean().default(false),
  /** Per-request timeout. A post that times out is an unknown outcome, never re-posted blindly. */
  timeoutMs: z.number().int().min(50).max(300_000).default(30_000),
};

export const linkPlacementSchema = z.enum(['first', 'last', 'reply']);
export type LinkPlacement = z.infer<typeof linkPlacementSchema>;

/** Validates `options` with the provider's schema; errors name `social.<id>.options.<field>`. */
export function parseAccountOptions<S extends z.ZodType>(account: SocialAccountConfig, schema: S): z.output<S> {
  const result = schema.safeParse(account.options ?? {});
  if (result.success) return result.data;
  const where = `social.${account.id}.options`;
  const messages = result.error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${where}.${key}: is not an option of provider ${account.provider}`);
    }
    const path = issue.path.map(String).join('.');
    return [`${path ? `${where}.${path}` : where}: ${issue.message}`];
  });
  throw errors.CONFIG_INVALID(messages.join('; '));
}

// ---------------------------------------------------------------------------------------------
// Credentials: names in config, values in the environment

export class Credentials {
  constructor(
    private readonly account: SocialAccountConfig,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** The config names an environment variable for this credential. */
  configured(name: string): boolean {
    return typeof this.account.credentialsEnv[name] === 'string';
  }

  envName(name: string): string {
    return this.account.credentialsEnv[name] ?? `(credentialsEnv.${name})`;
  }

  get(name: string): string | undefined {
    const envName = this.account.credentialsEnv[name];
    const value = envName ? this.env[envName] : undefined;
    return value && value.trim() ? value.trim() : undefined;
  }

  /** The value, or a permanent credentials error naming the variable to set. */
  require(name: string): string {
    const value = this.get(name);
    if (value) return value;
    const envName = this.account.credentialsEnv[name];
    throw new DeliveryError('permanent', envName ? `${envName} is not set` : `social.${this.account.id}.credentialsEnv.${name} is not configured`, {
      credentials: true,
    });
  }

  /** Environment variables that are named in config but empty. */
  unset(names: string[]): string[] {
    return names.filter((n) => this.configured(n) && !this.get(n)).map((n) => this.envName(n));
  }
}

/** Config-time check: every listed credential must be mapped to an environment variable name. */
export function requireCredentialNames(account: SocialAccountConfig, names: string[]): void {
  const missing = names.filter((n) => !account.credentialsEnv[n]);
  if (missing.length) {
    throw errors.CONFIG_INVALID(
      missing
        .map((n) => `social.${account.id}.credentialsEnv.${n}: is required for provider ${account.provider} (the name of an environment variable)`)
        .join('; '),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface HttpCall {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: BodyInit;
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * The request creates something at the provider: if it times out after being sent, the outcome
   * is unknown. Reads and media uploads are not mutating: any network failure is transient.
   */
  mutating?: boolean;
}

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** The `what` of a request in errors: method and origin only (a path may carry a token). */
function describe(method: string, url: string | URL): string {
  try {
    return `${method} ${new URL(url).origin}`;
  } catch {
    return method;
  }
}

/**
 * fetch with a deadline that garbage collection cannot lose (src/net/deadline.ts); throws
 * DeliveryError for network failures and timeouts, never for HTTP statuses.
 */
export async function httpRequest(call: HttpCall): Promise<HttpResult> {
  const method = call.method ?? 'GET';
  try {
    return await withDeadline(
      call.timeoutMs,
      async (signal) => {
        const response = await fetch(call.url, { method, headers: call.headers, body: call.body, signal });
        const text = await response.text();
        let json: unknown = undefined;
        if (text && /json/i.test(response.headers.get('content-type') ?? '')) {
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
        }
        return { status: response.status, headers: response.headers, text, json };
      },
      { signal: call.signal, what: describe(method, call.url) },
    );
  } catch (err) {
    throw deliveryErrorForNetwork(err, call.mutating === true);
  }
}

/** A fetch for client libraries (@atproto/api): every request gets the deadline, whatever the library does. */
export function timedFetch(timeoutMs: number): typeof fetch {
  return (input, init) => {
    const url = input instanceof Request ? input.url : input;
    const parent = init?.signal ?? (input instanceof Request ? input.signal : undefined) ?? undefined;
    return withDeadline(timeoutMs, (signal) => fetch(input, { ...init, signal }), { signal: parent, what: describe(init?.method ?? 'GET', url) });
  };
}

/** Seconds since the epoch (a header value) to epoch ms, or undefined. */
export function epochSecondsToMs(value: string | null | undefined): number | undefined {
  if (!value || !/^\d+(\.\d+)?$/.test(value.trim())) return undefined;
  return Math.round(Number(value) * 1000);
}

export function shorten(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

// ---------------------------------------------------------------------------------------------
// The lead image

export class ImageUnavailable extends Error {
  constructor(
    /** Words staff and the ledger may see. */
    message: string,
    /** A later try may succeed (the image host was down), as opposed to a 404 or a wrong type. */
    readonly transient: boolean,
    /** The real reason, for the logs only (it may name internal addresses). */
    readonly detail: string = message,
  ) {
    super(message);
    this.name = 'ImageUnavailable';
  }
}

export interface FetchedImage {
  bytes: Buffer;
  mediaType: string;
}

let publicOnly: GuardedFetcher | undefined;

/** The fetcher adapters use when none is given: public addresses only, default limits. */
export function defaultFetcher(): GuardedFetcher {
  publicOnly ??= new GuardedFetcher();
  return publicOnly;
}

/**
 * Downloads the lead image for providers that want the bytes (X, Mastodon, Bluesky), through the
 * guarded fetcher: public addresses only, redirects checked, size capped while streaming, type
 * read from the bytes.
 */
export async function fetchImage(
  fetcher: GuardedFetcher,
  url: string,
  opts: { maxBytes: number; timeoutMs: number; signal?: AbortSignal; types?: readonly SniffedType[] },
): Promise<FetchedImage> {
  try {
    const fetched = await fetcher.fetch(url, {
      what: 'image',
      accept: opts.types ?? IMAGE_TYPES,
      maxBytes: opts.maxBytes,
      deadlineMs: opts.timeoutMs,
      signal: opts.signal,
    });
    return { bytes: fetched.bytes, mediaType: fetched.mediaType };
  } catch (err) {
    if (err instanceof GuardedFetchError) throw new ImageUnavailable(err.publicReason, err.transient, err.detail);
    throw err;
  }
}

/** Where an adapter reports the real reason an image was left out. */
export interface ImageLog {
  channel: string;
  log?: Logger;
}

/**
 * What to do when the image cannot be used: with `imageRequired` the delivery fails (transient or
 * permanent), otherwise the post goes out without it and the part's ledger entry says so. Either
 * way only the public words go further; the detail goes to the log.
 */
export function imageProblem(err: ImageUnavailable, imageRequired: boolean, where?: ImageLog): string {
  where?.log?.warn({ channel: where.channel, detail: err.detail, imageRequired }, 'the lead image could not be used');
  if (imageRequired) throw new DeliveryError(err.transient ? 'transient' : 'permanent', err.message);
  return `image left out: ${err.message}`;
}

export function withWarning(part: PostedPart, warning: string | undefined): PostedPart {
  return warning ? { ...part, ref: { ...(part.ref ?? {}), warning } } : part;
}

// ---------------------------------------------------------------------------------------------
// The alert as social text, before it is split into parts

export interface ComposeOptions {
  content: 'full' | 'summary';
  linkPlacement: LinkPlacement;
  linkLabel: string;
  /** Describe the lead image in the text, after the summary (for networks without alt text). */
  describeImage?: boolean;
}

export interface ComposedAlert {
  paragraphs: Paragraph[];
  /** Text the first part must carry (the link when it is placed first). */
  firstSuffix?: string;
  /** The link line, wherever it is placed. */
  linkLine?: string;
}

function plain(markdown: string): string {
  return markdownToText(markdown)
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

export function stagesLine(alert: Alert): string | undefined {
  if (!alert.stages.length) return undefined;
  const list = alert.stages.map((s) => `${s.number} ${s.name}`).join(', ');
  return `Ten Stages of Genocide: stage${alert.stages.length > 1 ? 's' : ''} ${list}.`;
}

/** The alert's text for a social post: title, summary, stages, recommendations, photo credit, link. */
export function composeAlert(alert: Alert, opts: ComposeOptions): ComposedAlert {
  const paragraphs: Paragraph[] = [{ text: alert.title }];
  for (const para of plain(alert.summary).split(/\n{2,}/)) if (para.trim()) paragraphs.push({ text: para });
  // The image's description (where the network has no alt text) and credit go next to it.
  if (opts.describeImage && alert.image) paragraphs.push({ text: `Image: ${alert.image.alt}` });
  if (alert.image?.credit) paragraphs.push({ text: `Photo: ${alert.image.credit}`, ...(opts.describeImage ? { joinWith: '\n' } : {}) });
  if (opts.content === 'full') {
    const stages = stagesLine(alert);
    if (stages) paragraphs.push({ text: stages });
    alert.recommendations.forEach((rec, i) => {
      const text = `• ${plain(rec).replace(/\n+/g, ' ')}`;
      paragraphs.push(i === 0 ? { text: `Recommendations:\n${text}` } : { text, joinWith: '\n' });
    });
  }
  // The page is the link: `link` is set by withLink (src/domain/alert-link.ts) before rendering.
  const url = linkOf(alert);
  const linkLine = url ? `${opts.linkLabel ? `${opts.linkLabel} ` : ''}${url}` : undefined;
  if (!linkLine) return { paragraphs };
  if (opts.linkPlacement === 'first') return { paragraphs, firstSuffix: linkLine, linkLine };
  paragraphs.push({ text: linkLine, breakBefore: opts.linkPlacement === 'reply' });
  return { paragraphs, linkLine };
}

// ---------------------------------------------------------------------------------------------
// Length rules

const graphemeSegmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

export function graphemeLength(text: string): number {
  let n = 0;
  for (const _ of graphemeSegmenter.segment(text)) n++;
  return n;
}

/** Normalises text for "is this the post we sent?": no URLs (shorteners rewrite them), one space. */
export function comparable(text: string): string {
  return text
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/\bhttps?:\/\/\S+/gi, '')
    .replace(/\s+/g, ' ')
    .trim();
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
