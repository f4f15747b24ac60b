import type { FastifyInstance } from 'fastify';
import { ProgressHub } from './progress-hub.js';
import type { ConsoleDeps } from './deps.js';

export type { ProgressEvent } from './progress-snapshot.js';

// GET /console/alerts/:id/events: server-sent events with the alert's delivery counts. The streams
// of this process share one Redis reader (progress-hub.ts); whenever the alert's event stream
// moves (or every few seconds, so rates decay) each stream gets the counts read from the ledger.

export async function eventsRoute(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { ctx } = deps;
  const hub = new ProgressHub(ctx, ctx.config.console.liveStreams);
  // Open streams would keep the server from closing: end them first.
  app.addHook('preClose', async () => hub.shutdown());

  app.get<{ Params: { id: string } }>('/console/alerts/:id/events', { config: { role: 'viewer' } }, async (request, reply) => {
    const res = reply.raw;
    // Before any await: a client that leaves while the alert is looked up must still end its
    // stream. The socket may even be gone already (during the session check).
    let gone = request.raw.socket?.destroyed !== false;
    const stream: { close?: () => void } = {};
    res.once('close', () => {
      gone = true;
      stream.close?.();
    });

    const alert = await ctx.alerts.require(request.params.id);
    // HEAD (added by Fastify for every GET) gets the headers, not a stream that never ends.
    if (request.method === 'HEAD') return reply.type('text/event-stream; charset=utf-8').header('cache-control', 'no-store').send();
    if (gone) {
      reply.hijack();
      res.destroy();
      return reply;
    }
    // Throws 429 or 503 (with Retry-After) past the caps; nothing is written before that.
    stream.close = hub.open(alert.id, request.consoleSession?.id ?? `ip:${request.ip}`, {
      write: (chunk) => res.write(chunk),
      get buffered() {
        return res.writableLength;
      },
      end: () => res.end(),
    });
    reply.hijack();
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    res.write('retry: 2000\n\n');
    return reply;
  });
}
