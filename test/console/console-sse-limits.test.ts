import { Agent, request, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { signedIn, startHarness, TOKENS, type Harness } from './harness.js';
import { storeAlert } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/context.js';
import { redisClientsOfThisProcess } from '../helpers/redis-clients.js';
import { queueNames } from '../../src/metrics/snapshot.js';

// Live progress streams (SSE) share one Redis reader per process and are capped per session and
// in total; a stream whose client has gone leaves nothing running. Real sockets to the listening
// server; Redis clients counted as the Redis server lists them.

const METRICS_ENV = 'TOCSIN_TEST_SSE_METRICS_TOKEN';
const METRICS_TOKEN = 'sse-metrics-token-0123456789';
process.env[METRICS_ENV] = METRICS_TOKEN;

interface OpenStream {
  req: ClientRequest;
  res: IncomingMessage;
  /** Progress events received so far. */
  events: number;
}

/** Opens one stream and resolves once its first progress event has arrived (or with the refusal). */
function openStream(agent: Agent, url: string, cookie: string): Promise<OpenStream | { status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: { cookie, accept: 'text/event-stream' } }, (res) => {
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        let body = '';
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        return;
      }
      const stream: OpenStream = { req, res, events: 0 };
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          if (buffer.slice(0, end).split('\n').includes('event: progress') && ++stream.events === 1) resolve(stream);
          buffer = buffer.slice(end + 2);
        }
      });
      res.on('error', () => {});
    });
    req.on('error', reject);
    req.end();
  });
}

const isOpen = (s: unknown): s is OpenStream => !!s && typeof s === 'object' && 'req' in s;

async function gauges(baseUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(tocsin_console_live_\w+) (\d+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

describe('3,000 live progress streams from one session', () => {
  let h: Harness;
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

  beforeAll(async () => {
    h = await startHarness('console-sse-many', {
      overrides: { console: { liveStreams: { perSession: 5000, total: 5000 } }, metrics: { tokenEnv: METRICS_ENV } },
    });
  });
  afterAll(async () => {
    agent.destroy();
    await h?.close();
  });

  it('use one Redis reader, reach every stream, and leave nothing running once the clients go', async () => {
    const client = await signedIn(h.baseUrl, TOKENS.viewer, 'Vera');
    const alert = await storeAlert(h.ctx);
    // The first scrape opens every queue /metrics reads; they connect in the background. Count
    // this process's Redis clients once all of them have.
    expect(await gauges(h.baseUrl)).toEqual({ tocsin_console_live_streams: 0, tocsin_console_live_stream_alerts: 0, tocsin_console_live_stream_readers: 0 });
    await Promise.all(queueNames(h.ctx).map((name) => h.ctx.queues.get(name).waitUntilReady()));
    const before = await redisClientsOfThisProcess(h.ctx.redis);

    const url = `${h.baseUrl}/console/alerts/${alert.id}/events`;
    // In waves of 50: all at once would overflow the listen backlog and wait out SYN retries.
    const opened: Awaited<ReturnType<typeof openStream>>[] = [];
    for (let wave = 0; wave < 60; wave++) opened.push(...(await Promise.all(Array.from({ length: 50 }, () => openStream(agent, url, client.cookieHeader)))));
    const streams = opened.filter(isOpen);
    onTestFinished(() => {
      for (const s of streams) s.req.destroy();
    });
    expect(streams.length).toBe(3000);

    const during = await redisClientsOfThisProcess(h.ctx.redis);
    console.log(`Redis clients of this process: ${before} before, ${during} with 3,000 streams open`);
    // One reader for all 3,000 (a connection per stream made 3,000 more): the hub's own gauge
    // below says exactly one. The client count has a margin for clients of this process that
    // connect or reconnect by themselves on a loaded machine (BullMQ queues, the notifier).
    expect(during).toBeLessThan(30);
    expect(during - before).toBeLessThanOrEqual(10);
    expect(await gauges(h.baseUrl)).toEqual({ tocsin_console_live_streams: 3000, tocsin_console_live_stream_alerts: 1, tocsin_console_live_stream_readers: 1 });

    // One change to the alert's event stream reaches every one of them through the shared reader.
    await h.ctx.redis.xadd(h.ctx.keys.events(alert.id), '*', 'type', 'test');
    await waitFor(async () => streams.every((s) => s.events >= 2), 'every stream to get the next event');

    for (const s of streams) s.req.destroy();
    await waitFor(async () => {
      const g = await gauges(h.baseUrl);
      return g.tocsin_console_live_streams === 0 && g.tocsin_console_live_stream_readers === 0;
    }, 'every stream and the reader to end');
    await waitFor(async () => (await redisClientsOfThisProcess(h.ctx.redis)) <= before, 'the reader to leave Redis');
  });

  it('ends streams whose client left before the stream began', async () => {
    const client = await signedIn(h.baseUrl, TOKENS.viewer, 'Vera');
    const alert = await storeAlert(h.ctx);
    const url = `${h.baseUrl}/console/alerts/${alert.id}/events`;
    // Each client goes soon after its request is written, some at once, some a few milliseconds
    // later: while the session or the alert is still being looked up, or just after.
    await Promise.all(
      Array.from(
        { length: 300 },
        (_, i) =>
          new Promise<void>((resolve) => {
            const req = request(url, { agent, headers: { cookie: client.cookieHeader } });
            req.on('error', () => resolve());
            req.on('close', () => resolve());
            req.end(() => setTimeout(() => req.destroy(), i % 10));
          }),
      ),
    );
    await waitFor(async () => {
      const g = await gauges(h.baseUrl);
      return g.tocsin_console_live_streams === 0 && g.tocsin_console_live_stream_readers === 0;
    }, 'no stream left open');
  });
});

describe('live progress stream caps', () => {
  let h: Harness;
  const agent = new Agent({ keepAlive: true });

  beforeAll(async () => {
    h = await startHarness('console-sse-caps', { overrides: { console: { liveStreams: { perSession: 3, total: 5 } } } });
  });
  afterAll(async () => {
    agent.destroy();
    await h?.close();
  });

  it('answers 429 past the per-session cap and 503 past the total, with Retry-After, and frees slots when streams close', async () => {
    const alert = await storeAlert(h.ctx);
    const url = `${h.baseUrl}/console/alerts/${alert.id}/events`;
    const a = await signedIn(h.baseUrl, TOKENS.viewer, 'Ann');
    const b = await signedIn(h.baseUrl, TOKENS.viewer, 'Ben');
    const c = await signedIn(h.baseUrl, TOKENS.viewer, 'Cas');

    const opened: unknown[] = [];
    onTestFinished(() => {
      for (const s of opened) if (isOpen(s)) s.req.destroy();
    });
    const ann = await Promise.all([1, 2, 3].map(() => openStream(agent, url, a.cookieHeader)));
    opened.push(...ann);
    expect(ann.every(isOpen)).toBe(true);
    const refused = await openStream(agent, url, a.cookieHeader);
    expect(isOpen(refused)).toBe(false);
    if (isOpen(refused)) return;
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('10');
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'TOCSIN_ERR_TOO_MANY_STREAMS' });
    expect(JSON.parse(refused.body).error).toContain('console.liveStreams.perSession');

    const ben = await Promise.all([1, 2].map(() => openStream(agent, url, b.cookieHeader)));
    opened.push(...ben);
    expect(ben.every(isOpen)).toBe(true);
    const full = await openStream(agent, url, c.cookieHeader);
    expect(isOpen(full)).toBe(false);
    if (isOpen(full)) return;
    expect(full.status).toBe(503);
    expect(full.headers['retry-after']).toBe('30');
    expect(JSON.parse(full.body)).toMatchObject({ code: 'TOCSIN_ERR_STREAMS_FULL' });

    // Closing one of Ann's frees a place, for her or anyone.
    (ann[0] as OpenStream).req.destroy();
    const again = await waitFor(async () => {
      const s = await openStream(agent, url, c.cookieHeader);
      return isOpen(s) ? s : undefined;
    }, 'a freed place');
    opened.push(again);
  });
});
