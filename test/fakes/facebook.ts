import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createFakeApp, hang, listen, misbehave, Script } from './server.js';

// A fake of the Graph API calls a Page integration makes, with Graph's shapes:
//   POST /{v}/{page-id}/feed (message, link) -> {id: "<page>_<post>"}
//   POST /{v}/{page-id}/photos (url, caption, alt_text_custom) -> {id, post_id}; the fake fetches url
//   POST /{v}/{post-id}/comments (message) -> {id}
//   GET  /{v}/{page-id}/posts, /{v}/{post-id}/comments, /{v}/me, /{v}/debug_token
// Errors are {error: {message, type, code, error_subcode, is_transient, fbtrace_id}} (HTTP 400);
// code 190 for a bad token, 4/17/32/613 for rate limits (with x-business-use-case-usage).

export const PAGE_ID = '104000000000001';

export interface FakePagePost {
  id: string;
  message: string;
  link?: string;
  photo?: { url: string; bytes: Buffer; alt?: string; photoId: string };
  comments: Array<{ id: string; message: string }>;
  created_time: string;
}

export class FakeFacebook {
  readonly app: FastifyInstance = createFakeApp();
  url = '';
  pageToken = `EAAB${randomBytes(12).toString('hex')}`;
  tokenValid = true;
  scopes = ['pages_show_list', 'pages_manage_posts', 'pages_read_engagement'];
  expiresAt = 0;
  dataAccessExpiresAt = Math.floor(Date.now() / 1000) + 80 * 86400;
  readonly posts: FakePagePost[] = [];
  readonly postScript = new Script();
  private seq = 1000;

  constructor() {
    const app = this.app;
    app.post('/:v/:page/feed', async (req, reply) => this.createPost(req, reply, 'feed'));
    app.post('/:v/:page/photos', async (req, reply) => this.createPost(req, reply, 'photos'));
    app.post('/:v/:post/comments', async (req, reply) => {
      if (!this.authorised(req, reply)) return reply;
      const scripted = this.postScript.next();
      if (scripted && 'status' in scripted) return misbehave(reply, scripted);
      const post = this.posts.find((p) => p.id === (req.params as { post: string }).post);
      if (!post) return reply.code(400).send(graphError(100, 'Unsupported post request. Object does not exist.'));
      const { message } = req.body as { message?: string };
      if (!message) return reply.code(400).send(graphError(100, '(#100) The parameter message is required'));
      const id = `${post.id.split('_')[1]}_${this.seq++}`;
      post.comments.push({ id, message });
      if (scripted && 'hangAfterStore' in scripted) return hang(reply);
      return { id };
    });
    app.get('/:v/:page/posts', async (req, reply) => {
      if (!this.authorised(req, reply)) return reply;
      return { data: [...this.posts].reverse().map((p) => ({ id: p.id, message: p.message, created_time: p.created_time })), paging: {} };
    });
    app.get('/:v/:post/comments', async (req, reply) => {
      if (!this.authorised(req, reply)) return reply;
      const post = this.posts.find((p) => p.id === (req.params as { post: string }).post);
      return { data: post?.comments ?? [] };
    });
    app.get('/:v/me', async (req, reply) => (this.authorised(req, reply) ? { id: PAGE_ID, name: 'Tocsin Test Page' } : reply));
    app.get('/:v/debug_token', async (req) => {
      const q = req.query as Record<string, string>;
      const valid = q.input_token === this.pageToken && this.tokenValid;
      return {
        data: {
          app_id: '1234567890',
          type: 'PAGE',
          application: 'Tocsin',
          data_access_expires_at: this.dataAccessExpiresAt,
          expires_at: this.expiresAt,
          is_valid: valid,
          ...(valid ? {} : { error: { code: 190, message: 'Error validating access token: Session has expired.', subcode: 463 } }),
          profile_id: PAGE_ID,
          scopes: this.scopes,
          user_id: '500000000000001',
        },
      };
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
    const token = (req.body as Record<string, string> | undefined)?.access_token ?? (req.query as Record<string, string>).access_token;
    if (token === this.pageToken && this.tokenValid) return true;
    reply.code(400).send({
      error: {
        message: 'Error validating access token: Session has expired on Sunday, 01-Mar-26 10:00:00 PST.',
        type: 'OAuthException',
        code: 190,
        error_subcode: 463,
        fbtrace_id: 'AbCdEfGh123',
      },
    });
    return false;
  }

  private async createPost(req: FastifyRequest, reply: FastifyReply, kind: 'feed' | 'photos') {
    if (!this.authorised(req, reply)) return reply;
    if ((req.params as { page: string }).page !== PAGE_ID) return reply.code(400).send(graphError(100, 'Unsupported post request.'));
    const scripted = this.postScript.next();
    if (scripted && 'status' in scripted) return misbehave(reply, scripted);
    const body = req.body as Record<string, string>;
    const message = kind === 'feed' ? body.message : body.caption;
    if (!message && !body.link && kind === 'feed') return reply.code(400).send(graphError(100, '(#100) Missing message or attachment'));
    if ((message ?? '').length > 63206) return reply.code(400).send(graphError(100, '(#100) Message is too long'));
    if (this.posts.some((p) => p.message === message)) return reply.code(400).send(graphError(506, '(#506) Duplicate status message'));
    const id = `${PAGE_ID}_${this.seq++}`;
    const post: FakePagePost = { id, message: message ?? '', ...(body.link ? { link: body.link } : {}), comments: [], created_time: new Date().toISOString() };
    if (kind === 'photos') {
      // Facebook fetches the image from the URL it is given.
      const response = await fetch(body.url).catch(() => undefined);
      if (!response?.ok || !(response.headers.get('content-type') ?? '').startsWith('image/')) {
        return reply.code(400).send(graphError(324, '(#324) Missing or invalid image file'));
      }
      post.photo = { url: body.url, bytes: Buffer.from(await response.arrayBuffer()), alt: body.alt_text_custom, photoId: String(this.seq++) };
    }
    this.posts.push(post);
    if (scripted && 'hangAfterStore' in scripted) return hang(reply);
    return kind === 'photos' ? { id: post.photo?.photoId, post_id: id } : { id };
  }
}

export function graphError(code: number, message: string, extra: Record<string, unknown> = {}) {
  return { error: { message, type: code === 190 ? 'OAuthException' : 'GraphMethodException', code, fbtrace_id: 'AbCdEfGh123', ...extra } };
}
