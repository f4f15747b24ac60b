import type { FastifyInstance } from 'fastify';
import { createFakeApp, listen, misbehave, Script } from './server.js';

// A fake Slack incoming webhook (POST /services/T.../B.../secret). It answers as Slack does:
// 200 "ok" (text/plain); 400 "invalid_blocks" / "no_text" when the payload breaks Block Kit's
// rules; 404 "no_service" for an unknown hook; 429 with Retry-After (seconds).

export const SLACK_PATH = '/services/T0000TEST/B0000TEST/abcdefghijklmnopqrstuvwx';

/** Block Kit limits an incoming webhook enforces; returns the error text or undefined. */
export function checkSlackPayload(payload: Record<string, unknown>): string | undefined {
  const blocks = payload.blocks as Array<Record<string, any>> | undefined;
  if (typeof payload.text !== 'string' && !blocks?.length) return 'no_text';
  if (!blocks) return undefined;
  if (!Array.isArray(blocks) || blocks.length > 50) return 'invalid_blocks';
  for (const b of blocks) {
    switch (b.type) {
      case 'header':
        if (b.text?.type !== 'plain_text' || !b.text.text || b.text.text.length > 150) return 'invalid_blocks';
        break;
      case 'section':
        if (!['mrkdwn', 'plain_text'].includes(b.text?.type) || !b.text.text || b.text.text.length > 3000) return 'invalid_blocks';
        break;
      case 'context':
        if (!Array.isArray(b.elements) || !b.elements.length || b.elements.length > 10) return 'invalid_blocks';
        break;
      case 'image':
        if (typeof b.image_url !== 'string' || typeof b.alt_text !== 'string' || !b.alt_text || b.alt_text.length > 2000) return 'invalid_blocks';
        if (b.title && (b.title.type !== 'plain_text' || b.title.text.length > 2000)) return 'invalid_blocks';
        break;
      case 'actions':
        if (!Array.isArray(b.elements) || !b.elements.length || b.elements.length > 25) return 'invalid_blocks';
        for (const e of b.elements) {
          if (e.type !== 'button' || e.text?.type !== 'plain_text' || !e.text.text || e.text.text.length > 75) return 'invalid_blocks';
          if (e.url && e.url.length > 3000) return 'invalid_blocks';
          if (e.style && !['primary', 'danger'].includes(e.style)) return 'invalid_blocks';
        }
        break;
      case 'divider':
        break;
      default:
        return 'invalid_blocks';
    }
  }
  return undefined;
}

export class FakeSlack {
  readonly app: FastifyInstance = createFakeApp();
  url = '';
  readonly received: Array<Record<string, unknown>> = [];
  readonly script = new Script();

  constructor() {
    this.app.post('/services/:team/:bot/:secret', async (req, reply) => {
      if (req.url !== SLACK_PATH) return reply.code(404).type('text/plain').send('no_service');
      const scripted = this.script.next();
      if (scripted && 'status' in scripted) return misbehave(reply, scripted);
      const payload = req.body as Record<string, unknown>;
      const problem = checkSlackPayload(payload);
      if (problem) return reply.code(400).type('text/plain').send(problem);
      this.received.push(payload);
      return reply.type('text/plain').send('ok');
    });
  }

  async start(): Promise<this> {
    this.url = await listen(this.app);
    return this;
  }

  get hook(): string {
    return `${this.url}${SLACK_PATH}`;
  }

  close(): Promise<void> {
    return this.app.close();
  }
}
