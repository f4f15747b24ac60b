import type { FastifyInstance } from 'fastify';
import type { Context } from '../context.js';
import { channelProgress, formatEta, rateText, RateMeter } from './progress.js';
import type { ConsoleDeps } from './deps.js';

// GET /console/alerts/:id/events: server-sent events with the alert's delivery counts. Each client
// has its own Redis connection blocked on XREAD over the alert's event stream; whenever events
// arrive (or every few seconds, so rates decay) it sends the counts read from the ledger, which
// are the truth: events only say "something changed", so a missed event loses nothing.

const BLOCK_MS = 5000;
/** While an alert is publishing, look again sooner: its final status change is not a delivery event. */
const BLOCK_PUBLISHING_MS = 1000;
/** Bursts of events are coalesced into at most one update per this many ms. */
const MIN_INTERVAL_MS = 250;

export interface ProgressEvent {
  alertId: string;
  status: string;
  complete: boolean;
  publication: { state: string; recipients: number; batches: number };
  counts: Awaited<ReturnType<Context['ledger']['counts']>>;
  channels: Array<ReturnType<typeof channelProgress>[number] & { rateText: string; etaText: string }>;
  at: number;
}

export async function progressSnapshot(ctx: Context, alertId: string, meter: RateMeter): Promise<ProgressEvent> {
  const [alert, counts, publication] = await Promise.all([ctx.alerts.get(alertId), ctx.ledger.counts(alertId), ctx.publications.get(alertId)]);
  meter.sample(counts);
  return {
    alertId,
    status: alert?.status ?? 'missing',
    complete: publication.state === 'fanned-out' && counts.outstanding === 0,
    publication: { state: publication.state, recipients: publication.recipients, batches: publication.batches },
    counts,
    channels: channelProgress(counts, meter).map((c) => ({ ...c, rateText: rateText(c), etaText: formatEta(c.etaSeconds) })),
    at: Date.now(),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function eventsRoute(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { ctx } = deps;
  const open = new Set<() => void>();
  // Open streams would keep the server from closing: end them first.
  app.addHook('preClose', async () => {
    for (const close of [...open]) close();
  });

  app.get<{ Params: { id: string } }>('/console/alerts/:id/events', { config: { role: 'viewer' } }, async (request, reply) => {
    const alert = await ctx.alerts.require(request.params.id);
    // HEAD (added by Fastify for every GET) gets the headers, not a stream that never ends.
    if (request.method === 'HEAD') return reply.type('text/event-stream; charset=utf-8').header('cache-control', 'no-store').send();
    const key = ctx.keys.events(alert.id);
    const conn = ctx.redis.duplicate();
    conn.on('error', () => {
      /* the read loop sees failures and retries */
    });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      open.delete(close);
      conn.disconnect();
      res.end();
    };
    open.add(close);
    res.on('close', close);

    const meter = new RateMeter();
    let lastId = (await ctx.redis.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
    let block = BLOCK_MS;
    const send = async () => {
      const event = await progressSnapshot(ctx, alert.id, meter);
      block = event.status === 'publishing' ? BLOCK_PUBLISHING_MS : BLOCK_MS;
      if (!closed) res.write(`id: ${lastId}\nevent: progress\ndata: ${JSON.stringify(event)}\n\n`);
    };
    res.write('retry: 2000\n\n');

    void (async () => {
      try {
        await send();
        while (!closed) {
          try {
            const result = (await conn.xread('COUNT', 1000, 'BLOCK', block, 'STREAMS', key, lastId)) as Array<[string, Array<[string, string[]]>]> | null;
            if (closed) break;
            const entries = result?.[0]?.[1] ?? [];
            if (entries.length > 0) lastId = entries[entries.length - 1][0];
            await send();
            if (entries.length > 0) await sleep(MIN_INTERVAL_MS);
          } catch (err) {
            if (closed) break;
            request.log.warn({ err: (err as Error).message, alertId: alert.id }, 'event stream read failed; retrying');
            await sleep(1000);
          }
        }
      } catch (err) {
        request.log.warn({ err: (err as Error).message }, 'event stream ended');
      } finally {
        close();
      }
    })();
    return reply;
  });
}
