import { createHmac, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import twitterText from 'twitter-text';
import { createFakeApp, hang, listen, misbehave, multipartObject, Script, snowflake, type MultipartField } from './server.js';

// A fake of the X API v2 endpoints Tocsin uses, with X's documented shapes:
//   POST /2/oauth2/token (refresh_token grant; refresh tokens are single-use)
//   GET  /2/users/me, GET /2/users/:id/tweets
//   POST /2/tweets (201 {data:{id,text}}; 400 too long; 403 duplicate content; 429 with
//        x-rate-limit-* headers; 402 credits exhausted)
//   POST /2/media/upload/initialize, /2/media/upload/:id/append (multipart), /:id/finalize,
//        POST /2/media/metadata (alt text)
// OAuth 1.0a signatures are checked for real (HMAC-SHA1 over the URL the client signed).
// Like X, returned tweet text has URLs replaced by t.co links and & < > escaped.

export interface FakeTweet {
  id: string;
  text: string;
  /** Exactly what the client sent. */
  sentText: string;
  replyTo?: string;
  mediaIds: string[];
  createdAt: string;
}

export interface FakeMedia {
  id: string;
  mediaType: string;
  totalBytes: number;
  segments: Buffer[];
  finalized: boolean;
  alt?: string;
}

export const X_USER = { id: '1490000000000000001', username: 'tocsin_alerts', name: 'Tocsin Test' };

export interface OAuth1Keys {
  appKey: string;
  appSecret: string;
  accessToken: string;
  accessSecret: string;
}

const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export class FakeX {
  readonly app: FastifyInstance = createFakeApp();
  url = '';
  readonly tweets: FakeTweet[] = [];
  readonly media = new Map<string, FakeMedia>();
  readonly tweetScript = new Script();
  readonly requests: string[] = [];
  oauth1?: OAuth1Keys;
  oauth2?: { clientId: string; clientSecret?: string; refreshTokens: Set<string>; accessTokens: Map<string, number> };
  accessLevel = 'read-write';
  rateRemaining = 200;
  refreshCount = 0;

  constructor() {
    const app = this.app;
    app.addHook('onRequest', async (req) => {
      this.requests.push(`${req.method} ${req.url.split('?')[0]}`);
    });
    app.addHook('onSend', async (_req, reply) => {
      reply.header('x-rate-limit-limit', '200');
      if (!reply.hasHeader('x-rate-limit-remaining')) reply.header('x-rate-limit-remaining', String(this.rateRemaining));
      if (!reply.hasHeader('x-rate-limit-reset')) reply.header('x-rate-limit-reset', String(Math.floor(Date.now() / 1000) + 900));
    });

    app.post('/2/oauth2/token', async (req, reply) => this.token(req, reply));
    app.get('/2/users/me', async (req, reply) => {
      if (!this.authorised(req, reply)) return reply;
      if (this.oauth1 && /^OAuth /.test(String(req.headers.authorization))) reply.header('x-access-level', this.accessLevel);
      return { data: X_USER };
    });
    app.get('/2/users/:id/tweets', async (req, reply) => {
      if (!this.authorised(req, reply)) return reply;
      const q = req.query as Record<string, string>;
      const max = Math.min(Number(q.max_results ?? 10), 100);
      let list = [...this.tweets].reverse();
      if (q.since_id) list = list.filter((t) => BigInt(t.id) > BigInt(q.since_id));
      list = list.slice(0, max);
      if (!list.length) return { meta: { result_count: 0 } };
      return {
        data: list.map((t) => ({
          id: t.id,
          text: t.text,
          edit_history_tweet_ids: [t.id],
          created_at: t.createdAt,
          ...(t.replyTo ? { referenced_tweets: [{ type: 'replied_to', id: t.replyTo }] } : {}),
        })),
        meta: { result_count: list.length, newest_id: list[0].id, oldest_id: list[list.length - 1].id },
      };
    });
    app.post('/2/tweets', async (req, reply) => this.postTweet(req, reply));

    app.post('/2/media/upload/initialize', async (req, reply) => {
      if (!this.authorised(req, reply)) return reply;
      const body = req.body as { media_type?: string; total_bytes?: number; media_category?: string };
      if (!body.media_type || !body.total_bytes) return reply.code(400).send(problem('Invalid Request', 'media_type and total_bytes are required'));
      const id = snowflake();
      this.media.set(id, { id, mediaType: body.media_type, totalBytes: body.total_bytes, segments: [], finalized: false });
      return { data: { id, media_key: `3_${id}`, expires_after_secs: 86400 } };
    });
    app.post('/2/media/upload/:id/append', async (req, reply) => {
      if (!this.authorised(req, reply)) return reply;
      const item = this.media.get((req.params as { id: string }).id);
      if (!item) return reply.code(400).send(problem('Invalid Request', 'unknown media id'));
      const fields = multipartObject(req.body as MultipartField[]);
      const index = Number(fields.segment_index?.data.toString());
      if (!fields.media || !Number.isInteger(index)) return reply.code(400).send(problem('Invalid Request', 'segment_index and media are required'));
      item.segments[index] = fields.media.data;
      return { data: { expires_at: Math.floor(Date.now() / 1000) + 86400 } };
    });
    app.post('/2/media/upload/:id/finalize', async (req, reply) => {
      if (!this.authorised(req, reply)) return reply;
      const item = this.media.get((req.params as { id: string }).id);
      if (!item) return reply.code(400).send(problem('Invalid Request', 'unknown media id'));
      const size = Buffer.concat(item.segments).length;
      if (size !== item.totalBytes) return reply.code(400).send(problem('Invalid Request', `received ${size} of ${item.totalBytes} bytes`));
      item.finalized = true;
      return { data: { id: item.id, media_key: `3_${item.id}`, size, expires_after_secs: 86400 } };
    });
    app.post('/2/media/metadata', async (req, reply) => {
      if (!this.authorised(req, reply)) return reply;
      const body = req.body as { id?: string; metadata?: { alt_text?: { text?: string } } };
      const item = body.id ? this.media.get(body.id) : undefined;
      const alt = body.metadata?.alt_text?.text;
      if (!item || !alt) return reply.code(400).send(problem('Invalid Request', 'id and metadata.alt_text.text are required'));
      if (alt.length > 1000) return reply.code(400).send(problem('Invalid Request', 'alt text is longer than 1000 characters'));
      item.alt = alt;
      return { data: { id: item.id, associated_metadata: { alt_text: { text: alt } } } };
    });
  }

  async start(): Promise<this> {
    this.url = await listen(this.app);
    return this;
  }

  close(): Promise<void> {
    return this.app.close();
  }

  /** Registers an OAuth 2.0 app and returns a refresh token for it. */
  enableOAuth2(clientId: string, clientSecret?: string): string {
    const refresh = `rt-${randomBytes(6).toString('hex')}`;
    this.oauth2 = { clientId, clientSecret, refreshTokens: new Set([refresh]), accessTokens: new Map() };
    return refresh;
  }

  expireAccessTokens(): void {
    this.oauth2?.accessTokens.clear();
  }

  private token(req: FastifyRequest, reply: FastifyReply) {
    const body = req.body as Record<string, string>;
    const o = this.oauth2;
    if (!o) return reply.code(400).send({ error: 'invalid_client', error_description: 'OAuth 2.0 is not set up' });
    if (o.clientSecret) {
      const expected = `Basic ${Buffer.from(`${encodeURIComponent(o.clientId)}:${encodeURIComponent(o.clientSecret)}`).toString('base64')}`;
      if (req.headers.authorization !== expected)
        return reply.code(401).send({ error: 'unauthorized_client', error_description: 'Missing valid authorization header' });
    } else if (body.client_id !== o.clientId) {
      return reply.code(400).send({ error: 'invalid_request', error_description: 'Missing required parameter [client_id].' });
    }
    if (body.grant_type !== 'refresh_token' || !o.refreshTokens.has(body.refresh_token)) {
      return reply.code(400).send({ error: 'invalid_request', error_description: 'Value passed for the token was invalid.' });
    }
    o.refreshTokens.delete(body.refresh_token); // single use, as on X
    this.refreshCount++;
    const access = `at-${randomBytes(8).toString('hex')}`;
    const refresh = `rt-${randomBytes(8).toString('hex')}`;
    o.accessTokens.set(access, Date.now() + 7200_000);
    o.refreshTokens.add(refresh);
    return {
      token_type: 'bearer',
      expires_in: 7200,
      access_token: access,
      scope: 'tweet.read tweet.write users.read offline.access media.write',
      refresh_token: refresh,
    };
  }

  /** Checks OAuth 1.0a signatures or OAuth 2.0 bearer tokens; answers 401 like X if wrong. */
  private authorised(req: FastifyRequest, reply: FastifyReply): boolean {
    const header = String(req.headers.authorization ?? '');
    let ok = false;
    if (header.startsWith('OAuth ') && this.oauth1) ok = this.checkOAuth1(req, header);
    else if (header.startsWith('Bearer ') && this.oauth2) {
      const expires = this.oauth2.accessTokens.get(header.slice(7));
      ok = expires !== undefined && expires > Date.now();
    }
    if (!ok) {
      reply.code(401).send({ title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' });
    }
    return ok;
  }

  private checkOAuth1(req: FastifyRequest, header: string): boolean {
    const keys = this.oauth1 as OAuth1Keys;
    const oauth: Record<string, string> = {};
    for (const m of header.slice(6).matchAll(/([a-z_]+)="([^"]*)"/g)) oauth[m[1]] = decodeURIComponent(m[2]);
    if (oauth.oauth_consumer_key !== keys.appKey || oauth.oauth_token !== keys.accessToken) return false;
    const params: Array<[string, string]> = [];
    const url = new URL(req.url, `http://${req.headers.host}`);
    for (const [k, v] of url.searchParams) params.push([k, v]);
    for (const [k, v] of Object.entries(oauth)) if (k !== 'oauth_signature') params.push([k, v]);
    if (String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      for (const [k, v] of Object.entries(req.body as Record<string, string>)) params.push([k, v]);
    }
    const normalized = params
      .map(([k, v]) => [enc(k), enc(v)])
      .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const base = [req.method.toUpperCase(), enc(`${url.protocol}//${url.host}${url.pathname}`), enc(normalized)].join('&');
    const signature = createHmac('sha1', `${enc(keys.appSecret)}&${enc(keys.accessSecret)}`)
      .update(base)
      .digest('base64');
    return signature === oauth.oauth_signature;
  }

  private async postTweet(req: FastifyRequest, reply: FastifyReply) {
    if (!this.authorised(req, reply)) return reply;
    const body = req.body as { text?: string; reply?: { in_reply_to_tweet_id?: string }; media?: { media_ids?: string[] } };
    const scripted = this.tweetScript.next();
    if (scripted && 'status' in scripted) return misbehave(reply, scripted);
    const text = body.text ?? '';
    const parsed = twitterText.parseTweet(text);
    if (!text || parsed.weightedLength > 280) {
      return reply.code(400).send({
        errors: [{ parameters: { text: [text] }, message: `Your Tweet text is too long (weighted length ${parsed.weightedLength}).` }],
        title: 'Invalid Request',
        detail: 'One or more parameters to your request was invalid.',
        type: 'https://api.twitter.com/2/problems/invalid-request',
      });
    }
    const replyTo = body.reply?.in_reply_to_tweet_id;
    if (replyTo && !this.tweets.some((t) => t.id === replyTo)) {
      return reply.code(400).send(problem('Invalid Request', 'The tweet you are replying to does not exist.'));
    }
    const mediaIds = body.media?.media_ids ?? [];
    for (const id of mediaIds) {
      if (!this.media.get(id)?.finalized) return reply.code(400).send(problem('Invalid Request', `Your media IDs are invalid: ${id}`));
    }
    if (this.tweets.some((t) => t.sentText === text)) {
      return reply
        .code(403)
        .send({ detail: 'You are not allowed to create a Tweet with duplicate content.', type: 'about:blank', title: 'Forbidden', status: 403 });
    }
    const id = snowflake();
    const tweet: FakeTweet = { id, text: asReturnedByX(text), sentText: text, replyTo, mediaIds, createdAt: new Date().toISOString() };
    this.tweets.push(tweet);
    if (scripted && 'hangAfterStore' in scripted) return hang(reply);
    return reply.code(201).send({ data: { id, text: tweet.text, edit_history_tweet_ids: [id] } });
  }
}

function problem(title: string, detail: string) {
  return { title, detail, type: 'https://api.twitter.com/2/problems/invalid-request', errors: [{ message: detail }] };
}

/** X returns text with every URL wrapped as https://t.co/... and & < > escaped. */
function asReturnedByX(text: string): string {
  let out = '';
  let last = 0;
  for (const entity of twitterText.extractUrlsWithIndices(text)) {
    out += text.slice(last, entity.indices[0]) + `https://t.co/${randomBytes(5).toString('hex')}`;
    last = entity.indices[1];
  }
  out += text.slice(last);
  return out.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
