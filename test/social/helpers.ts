import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { configSchema, type SocialAccountConfig } from '../../src/config/schema.js';
import { newAlert, type Alert } from '../../src/domain/alert.js';
import { parseAlertMarkdown, parseAlertObject } from '../../src/domain/parse.js';
import { DeliveryError, type Messenger, type PostedPart, type RenderedMessage, type ThreadPosition } from '../../src/channels/messenger.js';
import { dispatchThread, type ThreadResult } from '../../src/delivery/thread-dispatcher.js';
import { stripLabel } from '../../src/channels/social/thread.js';
import type { SocialDeps } from '../../src/channels/social/tokens.js';
import { GuardedFetcher } from '../../src/net/guarded-fetch.js';

// Fixtures and small helpers shared by the social adapter tests. The alerts below are test
// material written for these tests; the long one is the project's own example file.

/** A social account as the config loader would produce it. */
export function socialAccount(input: {
  id: string;
  provider: SocialAccountConfig['provider'];
  baseUrl?: string;
  credentialsEnv?: Record<string, string>;
  options?: Record<string, unknown>;
}): SocialAccountConfig {
  return configSchema.parse({ social: [input] }).social[0];
}

/**
 * What the adapters get in these tests: the fake image host listens on 127.0.0.1, which the
 * guarded fetcher refuses by default, so this one address is opened, as `fetch.allowPrivateAddresses`
 * would open it in a config file. Every other internal address stays refused.
 */
export const testDeps = (): SocialDeps => ({ fetcher: new GuardedFetcher({ allowPrivateAddresses: ['127.0.0.1/32'] }) });

export const NOW = new Date('2026-03-02T09:00:00Z');

/** A short alert that fits in one post everywhere. */
export function shortAlert(extra: Record<string, unknown> = {}): Alert {
  return newAlert(
    parseAlertObject({
      level: 'watch',
      countries: ['KZ'],
      title: 'Tocsin test: Genocide Watch notice',
      summary: 'This is a delivery test of the alert system. Nothing has happened; please ignore this post.',
      canonicalUrl: 'https://alerts.example.org/2026/delivery-test',
      ...extra,
    }),
    NOW,
  );
}

/** The project's example alert (Kazakhstan, January 2022), with its image served by the fake host. */
export function exampleAlert(imageUrl?: string): Alert {
  const input = parseAlertMarkdown(readFileSync(new URL('../../examples/kazakhstan-2022-01.md', import.meta.url), 'utf8'));
  const alert = newAlert(input, NOW);
  if (imageUrl && alert.image) alert.image = { ...alert.image, url: imageUrl };
  if (!imageUrl) delete alert.image;
  return alert;
}

const ACTIONS = [
  'fund independent monitors in every district where arrests are reported',
  'publish the names of detainees and the places where they are held',
  'suspend the sale of crowd-control weapons until an inquiry reports',
  'open their borders to people fleeing the violence without delay',
  'ask the human rights council for an urgent session on the crisis',
  'protect journalists and keep the internet switched on',
  'freeze the assets of commanders who gave orders to fire',
  'support local groups that document abuses safely',
];
const ACTORS = ['Donor governments', 'Regional bodies', 'The United Nations', 'Neighbouring states', 'Trading partners', 'Civil society groups'];

/** A recommendation of about `chars` characters made of whole sentences (test material). */
export function recommendation(seed: number, chars: number): string {
  const sentences: string[] = [];
  let i = seed;
  for (;;) {
    const next = `${ACTORS[i % ACTORS.length]} should ${ACTIONS[(i * 3 + 1) % ACTIONS.length]} (point ${seed}.${sentences.length + 1}).`;
    if (sentences.length && [...sentences, next].join(' ').length > chars) break;
    sentences.push(next);
    i++;
  }
  return sentences.join(' ');
}

/** An alert that renders to exactly `parts` parts on this channel. */
export function alertWithParts(channel: Messenger, parts: number, recChars: number, extra: Record<string, unknown> = {}): Alert {
  const recs: string[] = [];
  for (let n = 0; n < 60; n++) {
    const alert = shortAlert({ title: 'Tocsin test: a long alert in many parts', recommendations: recs, ...extra });
    const count = channel.render(alert).parts.length;
    if (count === parts) return alert;
    if (count > parts) throw new Error(`could not make exactly ${parts} parts (got ${count})`);
    recs.push(recommendation(n + 1, recChars));
  }
  throw new Error('too many recommendations');
}

/** What a run of the thread dispatcher recorded, kept in memory for adapter tests. */
export interface MemoryThread {
  posted: PostedPart[];
  /** Parts started (fenced "begin" calls), in order. */
  begun: number[];
  inflight?: number;
}

/**
 * Runs the real thread dispatcher (src/delivery/thread-dispatcher.ts) for one adapter against its
 * fake, recording parts in memory instead of in the Redis ledger (the fenced Redis store has its
 * own tests). `thread` carries what an earlier attempt recorded, to test resuming.
 */
export async function deliver(
  messenger: Messenger,
  message: RenderedMessage,
  thread: MemoryThread = { posted: [], begun: [] },
  options: { key?: string; anchor?: { root: PostedPart; last: PostedPart } } = {},
): Promise<ThreadResult & { thread: MemoryThread }> {
  const record = { posted: [...thread.posted], ...(thread.inflight !== undefined ? { inflight: thread.inflight } : {}) };
  const result = await dispatchThread(messenger, message, {
    record,
    begin: async (index) => {
      thread.begun.push(index);
      thread.inflight = index;
      return true;
    },
    save: async (index, part) => {
      thread.posted[index] = part;
      thread.inflight = undefined;
      return true;
    },
    clear: async (index) => {
      if (thread.inflight === index) thread.inflight = undefined;
      return true;
    },
    lease: { valid: () => true, signal: new AbortController().signal },
    idempotencyKey: (index) => `${options.key ?? 'tocsin-TEST-channel'}${index > 0 ? `-${index}` : ''}`,
    ...(options.anchor ? { anchor: options.anchor } : {}),
  });
  return { ...result, thread };
}

/** The position of part `index` of a thread whose earlier parts are `posted` (for findPart). */
export function positionOf(message: RenderedMessage, index: number, posted: PostedPart[], key = 'tocsin-TEST-channel'): ThreadPosition {
  return { index, total: message.parts.length, replyTo: posted[index - 1], root: posted[0], idempotencyKey: `${key}${index > 0 ? `-${index}` : ''}` };
}

export const noSignal = () => new AbortController().signal;

/** The members of a result union whose kind may be K, narrowed to K ('failed' | 'unknown' share one member). */
export type OfKind<R, K extends string> = R extends { kind: infer RK } ? (K extends RK ? R & { kind: K } : never) : never;

/** The result is of this kind (the failure message shows the dispatcher's reason), narrowed to it. */
export function expectKind<R extends ThreadResult, K extends R['kind']>(result: R, kind: K): OfKind<R, K> {
  expect(result.kind, 'reason' in result ? result.reason : undefined).toBe(kind);
  return result as OfKind<R, K>;
}

/**
 * Posts parts 0..count-1 straight through the adapter, each replying to the one before: what an
 * earlier attempt did before it stopped (the provider has these parts, whatever the ledger says).
 */
export async function postDirectly(messenger: Messenger, message: RenderedMessage, count: number, key?: string): Promise<PostedPart[]> {
  const posted: PostedPart[] = [];
  for (let i = 0; i < count; i++) posted.push(await messenger.postPart(message.parts[i], positionOf(message, i, posted, key), noSignal()));
  return posted;
}

export async function deliveryError(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(DeliveryError);
    return err as DeliveryError;
  }
  throw new Error('expected a DeliveryError, but the delivery succeeded');
}

const words = (text: string) => text.replace(/[^\p{L}\p{N}]+/gu, ' ').trim();

/** Every paragraph of the alert's social text is in the thread, in order: nothing was cut. */
export function expectNothingCut(message: RenderedMessage, alert: Alert, toPlain: (text: string) => string = (t) => t): void {
  let joined = message.parts.map((p) => stripLabel(toPlain(p.text))).join(' ');
  if (alert.canonicalUrl) {
    const url = alert.canonicalUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    joined = joined.replace(new RegExp(`(?:Full alert:\\s*)?${url}`, 'g'), ' ');
  }
  const haystack = words(joined);
  for (const paragraph of [alert.title, alert.summary, ...alert.recommendations]) expect(haystack).toContain(words(paragraph));
}

/** Every part within its limit, numbered i/n when there are several. */
export function expectWellFormedThread(message: RenderedMessage, length: (text: string) => number): void {
  const n = message.parts.length;
  message.parts.forEach((part, i) => {
    expect(part.length).toBe(length(part.text));
    expect(part.length).toBeLessThanOrEqual(part.limit);
    if (n > 1) expect(part.text.endsWith(` ${i + 1}/${n}`)).toBe(true);
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
