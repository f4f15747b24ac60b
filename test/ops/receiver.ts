import Fastify, { type FastifyInstance } from 'fastify';

export interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The body exactly as sent, for signature checks. */
  raw: string;
}

/** A real listening Fastify server that records every POST and answers with `statusFor(path)`. */
export class Receiver {
  readonly received: Received[] = [];
  statusFor: (path: string) => number = () => 200;
  private app?: FastifyInstance;
  url = '';

  async start(): Promise<this> {
    const app = Fastify();
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    app.route({
      method: ['POST', 'HEAD'],
      url: '/*',
      handler: async (request, reply) => {
        const path = request.url;
        if (request.method === 'POST') this.received.push({ path, headers: request.headers, raw: String(request.body ?? '') });
        const status = this.statusFor(path);
        return reply.code(status).send(status < 300 ? { ok: true } : { error: 'refused by the test receiver' });
      },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    this.app = app;
    this.url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    return this;
  }

  on(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    await this.app?.close();
  }
}
