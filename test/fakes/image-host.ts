import type { FastifyInstance } from 'fastify';
import { createFakeApp, listen } from './server.js';

// The organisation's web server, serving the alert's lead image.

/** A valid 1x1 PNG. */
export const PNG_1X1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');

export class FakeImageHost {
  readonly app: FastifyInstance = createFakeApp();
  url = '';
  requests = 0;

  constructor() {
    this.app.get('/media/lead.png', async (_req, reply) => {
      this.requests++;
      return reply.type('image/png').send(PNG_1X1);
    });
    this.app.get('/media/huge.png', async (_req, reply) => {
      this.requests++;
      return reply.type('image/png').send(Buffer.concat([PNG_1X1, Buffer.alloc(6 * 1024 * 1024)]));
    });
    this.app.get('/media/page.html', async (_req, reply) => reply.type('text/html').send('<html></html>'));
  }

  async start(): Promise<this> {
    this.url = await listen(this.app);
    return this;
  }

  image(name = 'lead.png'): string {
    return `${this.url}/media/${name}`;
  }

  close(): Promise<void> {
    return this.app.close();
  }
}
