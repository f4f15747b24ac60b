import type { FastifyInstance } from 'fastify';
import { createFakeApp, listen, misbehave, Script, snowflake } from './server.js';

// A fake Discord webhook (POST /api/webhooks/{id}/{token}). Like Discord: 204 No Content, or 200
// with the message when ?wait=true; 400 {code: 50035, message: "Invalid Form Body"} when an
// embed breaks the limits; 404 {code: 10015, message: "Unknown Webhook"}; 429 with JSON
// {retry_after: seconds, global} and X-RateLimit-* headers.

export const DISCORD_ID = '1200000000000000001';
export const DISCORD_TOKEN = 'discord-webhook-token-abc';

export function checkDiscordPayload(payload: Record<string, any>): string | undefined {
  const embeds = payload.embeds as Array<Record<string, any>> | undefined;
  if (!payload.content && !embeds?.length) return 'Cannot send an empty message';
  if (payload.content && payload.content.length > 2000) return 'content: Must be 2000 or fewer in length.';
  if (payload.username !== undefined && (payload.username.length < 1 || payload.username.length > 80)) return 'username: Must be between 1 and 80 in length.';
  if ((embeds?.length ?? 0) > 10) return 'embeds: Must be 10 or fewer in length.';
  let total = 0;
  for (const e of embeds ?? []) {
    if (e.title && e.title.length > 256) return 'embeds.0.title: Must be 256 or fewer in length.';
    if (e.description && e.description.length > 4096) return 'embeds.0.description: Must be 4096 or fewer in length.';
    if (e.color !== undefined && (!Number.isInteger(e.color) || e.color < 0 || e.color > 0xffffff)) return 'embeds.0.color: Invalid color';
    if ((e.fields?.length ?? 0) > 25) return 'embeds.0.fields: Must be 25 or fewer in length.';
    for (const f of e.fields ?? []) {
      if (!f.name || f.name.length > 256) return 'embeds.0.fields.name: Must be between 1 and 256 in length.';
      if (!f.value || f.value.length > 1024) return 'embeds.0.fields.value: Must be between 1 and 1024 in length.';
      total += f.name.length + f.value.length;
    }
    if (e.footer?.text && e.footer.text.length > 2048) return 'embeds.0.footer.text: Must be 2048 or fewer in length.';
    if (e.timestamp && Number.isNaN(Date.parse(e.timestamp))) return 'embeds.0.timestamp: Could not parse';
    total += (e.title?.length ?? 0) + (e.description?.length ?? 0) + (e.footer?.text?.length ?? 0);
  }
  if (total > 6000) return 'embeds: Embed size exceeds maximum size of 6000';
  return undefined;
}

export class FakeDiscord {
  readonly app: FastifyInstance = createFakeApp();
  url = '';
  readonly received: Array<Record<string, any>> = [];
  readonly script = new Script();

  constructor() {
    this.app.post('/api/webhooks/:id/:token', async (req, reply) => {
      const { id, token } = req.params as { id: string; token: string };
      if (id !== DISCORD_ID || token !== DISCORD_TOKEN) return reply.code(404).send({ message: 'Unknown Webhook', code: 10015 });
      const scripted = this.script.next();
      if (scripted && 'status' in scripted) return misbehave(reply, scripted);
      const payload = req.body as Record<string, any>;
      const problem = checkDiscordPayload(payload);
      if (problem)
        return reply.code(400).send({ code: 50035, message: 'Invalid Form Body', errors: { _errors: [{ code: 'BASE_TYPE_INVALID', message: problem }] } });
      this.received.push(payload);
      const wait = (req.query as Record<string, string>).wait === 'true';
      if (!wait) return reply.code(204).send();
      return {
        id: snowflake(),
        type: 0,
        channel_id: '1200000000000000099',
        webhook_id: DISCORD_ID,
        content: payload.content ?? '',
        embeds: payload.embeds ?? [],
      };
    });
  }

  async start(): Promise<this> {
    this.url = await listen(this.app);
    return this;
  }

  get hook(): string {
    return `${this.url}/api/webhooks/${DISCORD_ID}/${DISCORD_TOKEN}`;
  }

  close(): Promise<void> {
    return this.app.close();
  }
}
