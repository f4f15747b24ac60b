import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createFakeApp, hang, listen, misbehave, multipartObject, Script, snowflake, type MultipartField } from './server.js';

// A fake Mastodon instance with the documented shapes of:
//   GET  /api/v2/instance (configuration.statuses.max_characters, characters_reserved_per_url)
//   GET  /api/v1/accounts/verify_credentials, /api/v1/apps/verify_credentials (scopes, 4.3+)
//   POST /api/v2/media (multipart file + description; 200, or 202 while processing)
//   GET  /api/v1/media/:id (206 while processing, then 200)
//   POST /api/v1/statuses (Idempotency-Key honoured; 422 over the limit; 429 with X-RateLimit-Reset)
//   GET  /api/v1/accounts/:id/statuses
// Status content comes back as HTML, as Mastodon renders it.

export interface FakeStatus {
  id: string;
  text: string;
  content: string;
  in_reply_to_id: string | null;
  media_ids: string[];
  visibility: string;
  spoiler_text: string;
  language: string | null;
  idempotencyKey?: string;
  url: string;
  created_at: string;
}

export interface FakeAttachment {
  id: string;
  bytes: Buffer;
  contentType?: string;
  description?: string;
  pollsLeft: number;
}

export const MASTODON_ACCOUNT = { id: '109000000000000001', username: 'tocsin', acct: 'tocsin', display_name: 'Tocsin Test' };

const graphemes = (s: string) => [...new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(s)].length;

export class FakeMastodon {
  readonly app: FastifyInstance = createFakeApp();
  url = '';
  token = 'mastodon-token-1';
  maxCharacters = 500;
  scopes = ['read', 'write'];
  /** Polls of GET /api/v1/media/:id that answer 206 before the image is ready. */
  processingPolls = 0;
  readonly statuses: FakeStatus[] = [];
  readonly media = new Map<string, FakeAttachment>();
  readonly statusScript = new Script();
  readonly idempotencyHits: string[] = [];
  readonly requests: string[] = [];

  constructor() {
    const app = this.app;
    app.addHook('onRequest', async (req) => {
      this.requests.push(`${req.method} ${req.url.split('?')[0]}`);
    });
    app.addHook('onSend', async (_req, reply) => {
      reply.header('x-ratelimit-limit', '300');
      if (!reply.hasHeader('x-ratelimit-remaining')) reply.header('x-ratelimit-remaining', '299');
      if (!reply.hasHeader('x-ratelimit-reset')) reply.header('x-ratelimit-reset', new Date(Date.now() + 300_000).toISOString());
    });

    app.get('/api/v2/instance', async () => ({
      domain: 'fake.social',
      title: 'Fake Social',
      version: '4.3.0',
      configuration: {
        urls: { streaming: 'wss://fake.social' },
        accounts: { max_featured_tags: 10, max_pinned_statuses: 5 },
        statuses: { max_characters: this.maxCharacters, max_media_attachments: 4, characters_reserved_per_url: 23 },
        media_attachments: {
          supported_mime_types: ['image/jpeg', 'image/png', 'image/gif', 'image/webp'],
          description_limit: 1500,
          image_size_limit: 16777216,
          image_matrix_limit: 33177600,
        },
        polls: { max_options: 4, max_characters_per_option: 50 },
      },
    }));
    app.get('/api/v1/accounts/verify_credentials', async (req, reply) =>
      this.authorised(req, reply) ? { ...MASTODON_ACCOUNT, url: `${this.url}/@tocsin` } : reply,
    );
    app.get('/api/v1/apps/verify_credentials', async (req, reply) =>
      this.authorised(req, reply) ? { name: 'Tocsin', website: null, scopes: this.scopes } : reply,
    );

    app.post('/api/v2/media', async (req, reply) => {
      if (!this.authorised(req, reply)) return reply;
      const fields = multipartObject(req.body as MultipartField[]);
      if (!fields.file?.filename) return reply.code(422).send({ error: 'Validation failed: File must be present' });
      const id = snowflake();
      const item: FakeAttachment = {
        id,
        bytes: fields.file.data,
        contentType: fields.file.contentType,
        description: fields.description?.data.toString('utf8'),
        pollsLeft: this.processingPolls,
      };
      this.media.set(id, item);
      const ready = item.pollsLeft === 0;
      return reply.code(ready ? 200 : 202).send(this.attachmentJson(item, ready));
    });
    app.get('/api/v1/media/:id', async (req, reply) => {
      if (!this.authorised(req, reply)) return reply;
      const item = this.media.get((req.params as { id: string }).id);
      if (!item) return reply.code(404).send({ error: 'Record not found' });
      if (item.pollsLeft > 0) {
        item.pollsLeft--;
        return reply.code(206).send(this.attachmentJson(item, false));
      }
      return this.attachmentJson(item, true);
    });

    app.post('/api/v1/statuses', async (req, reply) => this.postStatus(req, reply));
    app.get('/api/v1/accounts/:id/statuses', async (req, reply) => {
      if (!this.authorised(req, reply)) return reply;
      const q = req.query as Record<string, string>;
      let list = [...this.statuses].reverse();
      if (q.since_id) list = list.filter((s) => BigInt(s.id) > BigInt(q.since_id));
      return list.slice(0, Number(q.limit ?? 20)).map((s) => this.statusJson(s));
    });
  }

  async start(): Promise<this> {
    this.url = await listen(this.app);
    return this;
  }

  close(): Promise<void> {
    return this.app.close();
  }

  private authorised(req: FastifyRequest, reply: FastifyReply): boolean {
    if (req.headers.authorization === `Bearer ${this.token}`) return true;
    reply.code(401).send({ error: 'The access token is invalid' });
    return false;
  }

  private attachmentJson(item: FakeAttachment, ready: boolean) {
    return {
      id: item.id,
      type: 'image',
      url: ready ? `${this.url}/system/media/${item.id}.png` : null,
      preview_url: `${this.url}/system/media/${item.id}-small.png`,
      description: item.description ?? null,
      blurhash: 'UFAo?=of00ay~qj[M{ay00j[?bj[IUj[%Mf6',
    };
  }

  private statusJson(s: FakeStatus) {
    return {
      id: s.id,
      created_at: s.created_at,
      in_reply_to_id: s.in_reply_to_id,
      sensitive: false,
      spoiler_text: s.spoiler_text,
      visibility: s.visibility,
      language: s.language,
      uri: `${this.url}/users/tocsin/statuses/${s.id}`,
      url: s.url,
      content: s.content,
      account: { ...MASTODON_ACCOUNT, url: `${this.url}/@tocsin` },
      media_attachments: s.media_ids.map((id) => this.attachmentJson(this.media.get(id) as FakeAttachment, true)),
    };
  }

  private async postStatus(req: FastifyRequest, reply: FastifyReply) {
    if (!this.authorised(req, reply)) return reply;
    const key = req.headers['idempotency-key'] as string | undefined;
    if (key) {
      const earlier = this.statuses.find((s) => s.idempotencyKey === key);
      if (earlier) {
        this.idempotencyHits.push(key);
        return this.statusJson(earlier);
      }
    }
    const scripted = this.statusScript.next();
    if (scripted && 'status' in scripted) return misbehave(reply, scripted);
    const body = req.body as { status?: string; in_reply_to_id?: string; media_ids?: string[]; visibility?: string; spoiler_text?: string; language?: string };
    const text = body.status ?? '';
    const media = body.media_ids ?? [];
    if (!text && !media.length) return reply.code(422).send({ error: "Validation failed: Text can't be blank" });
    const counted = graphemes(text.replace(/https?:\/\/\S+/g, 'x'.repeat(23))) + graphemes(body.spoiler_text ?? '');
    if (counted > this.maxCharacters) return reply.code(422).send({ error: `Validation failed: Text character limit of ${this.maxCharacters} exceeded` });
    if (body.in_reply_to_id && !this.statuses.some((s) => s.id === body.in_reply_to_id)) return reply.code(404).send({ error: 'Record not found' });
    for (const id of media) {
      const item = this.media.get(id);
      if (!item) return reply.code(422).send({ error: 'Validation failed: Media attachments are invalid' });
      if (item.pollsLeft > 0) return reply.code(422).send({ error: 'Cannot attach files that have not finished processing. Try again in a moment!' });
    }
    const id = snowflake();
    const status: FakeStatus = {
      id,
      text,
      content: toHtml(text),
      in_reply_to_id: body.in_reply_to_id ?? null,
      media_ids: media,
      visibility: body.visibility ?? 'public',
      spoiler_text: body.spoiler_text ?? '',
      language: body.language ?? null,
      idempotencyKey: key,
      url: `${this.url}/@tocsin/${id}`,
      created_at: new Date().toISOString(),
    };
    this.statuses.push(status);
    if (scripted && 'hangAfterStore' in scripted) return hang(reply);
    return this.statusJson(status);
  }
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** Mastodon's rendering: paragraphs, <br />, and links with the long middle hidden. */
function toHtml(text: string): string {
  const link = (url: string) => {
    const [, scheme, rest] = /^(https?:\/\/)(.*)$/.exec(url) as RegExpExecArray;
    return `<a href="${escapeHtml(url)}" target="_blank" rel="nofollow noopener" translate="no"><span class="invisible">${scheme}</span><span class="ellipsis">${escapeHtml(rest.slice(0, 30))}</span><span class="invisible">${escapeHtml(rest.slice(30))}</span></a>`;
  };
  return text
    .split(/\n{2,}/)
    .map((para) => {
      const pieces = para.split(/(https?:\/\/\S+)/);
      const html = pieces.map((p, i) => (i % 2 ? link(p) : escapeHtml(p))).join('');
      return `<p>${html.replace(/\n/g, '<br />')}</p>`;
    })
    .join('');
}
