import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { testContext, dropPrefix } from '../helpers/context.js';
import { TestSmtpServer } from '../helpers/smtp.js';
import { buildServer } from '../../src/http/server.js';
import { serverPlugins } from '../../src/http/plugins.js';
import { createAccountChannels } from '../../src/channels/accounts.js';
import { FakeMastodon } from '../fakes/mastodon.js';
import { FakeImageHost } from '../fakes/image-host.js';
import { startWorkers, type RunningWorkers, type StartWorkersOptions } from '../../workers/run.js';
import type { Context } from '../../src/context.js';
import type { Messenger } from '../../src/channels/messenger.js';
import type { ProviderRegistry } from '../../src/channels/providers.js';
import { smtpTransport, type MailTransport } from '../../src/channels/email/transport.js';

// One listening Tocsin (real Fastify, real Redis, real SMTP server, real workers) plus a local
// webhook receiver, for the console tests. Login tokens come from the environment, as in production.

export const TOKENS = {
  viewer: 'viewer-token-0123456789abcdef',
  editor: 'editor-token-0123456789abcdef',
  publisher: 'publisher-token-0123456789abcdef',
  second: 'second-publisher-token-0123456789',
} as const;

process.env.TOCSIN_VIEWER_TOKEN = TOKENS.viewer;
process.env.TOCSIN_EDITOR_TOKEN = TOKENS.editor;
process.env.TOCSIN_PUBLISHER_TOKEN = TOKENS.publisher;
process.env.TOCSIN_SECOND_TOKEN = TOKENS.second;

export interface Harness {
  ctx: Context;
  app: FastifyInstance;
  baseUrl: string;
  smtp: TestSmtpServer;
  receiver: FastifyInstance;
  received: Array<{ body: unknown; headers: Record<string, unknown> }>;
  accounts: Map<string, Messenger>;
  workers?: RunningWorkers;
  uploadsDir: string;
  /** With `mastodon: true`: a fake Mastodon instance (account id `masto`) and an image host. */
  mastodon?: FakeMastodon;
  images?: FakeImageHost;
  close(): Promise<void>;
}

export interface HarnessOptions {
  overrides?: Record<string, unknown>;
  workers?: boolean;
  /** Adds a Mastodon account backed by the fake Mastodon server, and a host for the lead image. */
  mastodon?: boolean;
  /** Wraps the real SMTP transport the email worker uses (e.g. to hold one batch). */
  wrapTransport?: (transport: MailTransport) => MailTransport;
  /** Social providers besides the built-in ones (a test's own provider). */
  providers?: ProviderRegistry;
  /** Extra environment for the accounts' credentials. */
  env?: Record<string, string>;
}

export async function startHarness(name: string, options: HarnessOptions = {}): Promise<Harness> {
  const smtp = await new TestSmtpServer().start();
  const received: Harness['received'] = [];
  const receiver = Fastify();
  receiver.post('/hook', async (request) => {
    received.push({ body: request.body, headers: request.headers });
    return { ok: true };
  });
  receiver.head('/hook', async () => '');
  const receiverUrl = await receiver.listen({ port: 0, host: '127.0.0.1' });
  const uploadsDir = mkdtempSync(join(tmpdir(), 'tocsin-uploads-'));
  const { console: consoleOverrides, ...overrides } = options.overrides ?? {};
  const mastodon = options.mastodon ? await new FakeMastodon().start() : undefined;
  const images = options.mastodon ? await new FakeImageHost().start() : undefined;
  const social = mastodon
    ? [
        {
          id: 'masto',
          provider: 'mastodon',
          baseUrl: mastodon.url,
          credentialsEnv: { accessToken: 'TOCSIN_TEST_MASTODON_TOKEN' },
          options: { timeoutMs: 3000 },
        },
      ]
    : [];
  const ctx = await testContext(
    name,
    {
      email: { smtpUrl: smtp.url, batchSize: 10 },
      webhooks: [{ id: 'partners', url: `${receiverUrl}/hook` }],
      social,
      // The fake image host listens on 127.0.0.1, which the guarded fetcher refuses by default.
      ...(images ? { fetch: { allowPrivateAddresses: ['127.0.0.1/32'] } } : {}),
      console: {
        uploadsDir,
        tokens: [
          { env: 'TOCSIN_VIEWER_TOKEN', role: 'viewer' },
          { env: 'TOCSIN_EDITOR_TOKEN', role: 'editor' },
          { env: 'TOCSIN_PUBLISHER_TOKEN', role: 'publisher' },
          { env: 'TOCSIN_SECOND_TOKEN', role: 'publisher', name: 'Second Person' },
        ],
        ...(consoleOverrides as Record<string, unknown> | undefined),
      },
      ...overrides,
    },
    options.providers,
  );
  const accounts = await createAccountChannels(ctx, { ...process.env, ...options.env, ...(mastodon ? { TOCSIN_TEST_MASTODON_TOKEN: mastodon.token } : {}) });
  const app = await buildServer(ctx, { plugins: serverPlugins(accounts) });
  const baseUrl = (await app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
  const workerOptions: StartWorkersOptions = options.wrapTransport ? { transport: options.wrapTransport(smtpTransport(ctx.config.email, smtp.url)) } : {};
  const workers = options.workers ? startWorkers(ctx, accounts, workerOptions) : undefined;
  return {
    ctx,
    app,
    baseUrl,
    smtp,
    receiver,
    received,
    accounts,
    workers,
    uploadsDir,
    mastodon,
    images,
    async close() {
      await app.close();
      await workers?.close();
      if (workerOptions.transport) workerOptions.transport.close();
      await receiver.close();
      await mastodon?.close();
      await images?.close();
      await dropPrefix(ctx);
      await ctx.close();
      await smtp.stop();
      rmSync(uploadsDir, { recursive: true, force: true });
    },
  };
}

/** Handlebars escapes `=` and friends in attribute values; a browser decodes them. */
export const decodeEntities = (s: string): string =>
  s
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** A tiny cookie jar over fetch, enough for a signed-in HTTP client. */
export class Client {
  private readonly cookies = new Map<string, string>();
  constructor(readonly baseUrl: string) {}

  get cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(path: string, init: RequestInit & { form?: Record<string, string | string[]> } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', this.cookieHeader);
    let body = init.body;
    if (init.form) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(init.form)) for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
      body = params.toString();
      headers.set('content-type', 'application/x-www-form-urlencoded');
    }
    const response = await fetch(this.baseUrl + path, { ...init, body, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  /** The CSRF token of the first form on a page. */
  async csrf(path: string): Promise<string> {
    const html = await (await this.request(path)).text();
    const match = /name="_csrf" value="([^"]+)"/.exec(html);
    if (!match) throw new Error(`no CSRF token on ${path}`);
    return decodeEntities(match[1]);
  }

  async login(token: string, name = 'Test Person'): Promise<Response> {
    const csrf = await this.csrf('/console/login');
    return this.request('/console/login', { method: 'POST', form: { _csrf: csrf, token, name, next: '/console/alerts' } });
  }
}

export async function signedIn(baseUrl: string, token: string, name?: string): Promise<Client> {
  const client = new Client(baseUrl);
  const response = await client.login(token, name);
  if (response.status !== 303) throw new Error(`login failed: ${response.status} ${await response.text()}`);
  return client;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
