import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createFakeApp, hang, listen, misbehave, Script } from './server.js';

// A fake Telegram Bot API (https://api.telegram.org/bot<token>/<method>) for a channel:
//   getMe, getChat, getChatMember, sendMessage, sendPhoto (photo by URL: the fake fetches it)
// Answers are {ok:true, result} or {ok:false, error_code, description, parameters?}. Text in
// parse_mode HTML is parsed as Telegram does: only the supported tags, and &, <, > must be
// escaped; limits apply to the visible text (4096 for messages, 1024 for captions).

export const CHANNEL = { id: -1001234567890, title: 'Tocsin Test Channel', username: 'tocsin_test', type: 'channel' };
export const BOT = { id: 7000000001, is_bot: true, first_name: 'Tocsin', username: 'tocsin_test_bot' };

const TAGS = new Set(['b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'a', 'code', 'pre', 'tg-spoiler', 'span', 'blockquote', 'tg-emoji']);
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"' };

/** Telegram's HTML parse mode: the visible text, or the error Telegram would give. */
export function parseTelegramHtml(html: string): { text: string } | { error: string } {
  let text = '';
  const open: string[] = [];
  for (let i = 0; i < html.length;) {
    const c = html[i];
    if (c === '<') {
      const m = /^<(\/?)([a-z-]+)(\s[^<>]*)?>/i.exec(html.slice(i));
      if (!m || !TAGS.has(m[2].toLowerCase()))
        return {
          error: `Bad Request: can't parse entities: Unsupported start tag "${m?.[2] ?? html.slice(i + 1, i + 8)}" at byte offset ${Buffer.byteLength(html.slice(0, i))}`,
        };
      if (m[1]) {
        if (open.pop() !== m[2].toLowerCase())
          return { error: `Bad Request: can't parse entities: Unmatched end tag at byte offset ${Buffer.byteLength(html.slice(0, i))}` };
      } else open.push(m[2].toLowerCase());
      i += m[0].length;
    } else if (c === '&') {
      const m = /^&(lt|gt|amp|quot|#\d+|#x[0-9a-f]+);/i.exec(html.slice(i));
      if (!m) return { error: `Bad Request: can't parse entities: Character entity expected at byte offset ${Buffer.byteLength(html.slice(0, i))}` };
      const name = m[1].toLowerCase();
      text += ENTITIES[name] ?? String.fromCodePoint(name.startsWith('#x') ? parseInt(name.slice(2), 16) : Number(name.slice(1)));
      i += m[0].length;
    } else if (c === '>') {
      return { error: `Bad Request: can't parse entities: Unexpected end tag at byte offset ${Buffer.byteLength(html.slice(0, i))}` };
    } else {
      text += c;
      i++;
    }
  }
  if (open.length) return { error: `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "${open.at(-1)}"` };
  return { text };
}

export interface FakeTelegramMessage {
  message_id: number;
  html: string;
  text: string;
  reply_to?: number;
  photo?: { url: string; bytes: Buffer };
  disable_notification?: boolean;
}

export class FakeTelegram {
  readonly app: FastifyInstance = createFakeApp();
  url = '';
  token = '7000000001:AAE-test-token-abcdefghijklmnopqrstu';
  memberStatus: { status: string; can_post_messages?: boolean } = { status: 'administrator', can_post_messages: true };
  readonly messages: FakeTelegramMessage[] = [];
  readonly sendScript = new Script();
  private nextId = 100;

  constructor() {
    this.app.post('/:bot/:method', async (req, reply) => this.handle(req, reply));
  }

  async start(): Promise<this> {
    this.url = await listen(this.app);
    return this;
  }

  close(): Promise<void> {
    return this.app.close();
  }

  private fail(reply: FastifyReply, code: number, description: string, parameters?: Record<string, unknown>) {
    return reply.code(code).send({ ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) });
  }

  private async handle(req: FastifyRequest, reply: FastifyReply) {
    const { bot, method } = req.params as { bot: string; method: string };
    if (bot !== `bot${this.token}`) return this.fail(reply, 401, 'Unauthorized');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const chatOk = body.chat_id === undefined || body.chat_id === `@${CHANNEL.username}` || String(body.chat_id) === String(CHANNEL.id);
    switch (method) {
      case 'getMe':
        return { ok: true, result: { ...BOT, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false } };
      case 'getChat':
        return chatOk ? { ok: true, result: CHANNEL } : this.fail(reply, 400, 'Bad Request: chat not found');
      case 'getChatMember':
        return chatOk ? { ok: true, result: { user: BOT, ...this.memberStatus } } : this.fail(reply, 400, 'Bad Request: chat not found');
      case 'sendMessage':
      case 'sendPhoto': {
        if (!chatOk) return this.fail(reply, 400, 'Bad Request: chat not found');
        if (this.memberStatus.status !== 'administrator' || !this.memberStatus.can_post_messages)
          return this.fail(reply, 403, 'Forbidden: bot is not a member of the channel chat');
        const scripted = this.sendScript.next();
        if (scripted && 'status' in scripted) return misbehave(reply, scripted);
        const html = String((method === 'sendPhoto' ? body.caption : body.text) ?? '');
        const parsed = body.parse_mode === 'HTML' ? parseTelegramHtml(html) : { text: html };
        if ('error' in parsed) return this.fail(reply, 400, parsed.error);
        if (method === 'sendMessage' && !parsed.text.trim()) return this.fail(reply, 400, 'Bad Request: message text is empty');
        if (method === 'sendMessage' && parsed.text.length > 4096) return this.fail(reply, 400, 'Bad Request: message is too long');
        if (method === 'sendPhoto' && parsed.text.length > 1024) return this.fail(reply, 400, 'Bad Request: message caption is too long');
        const replyTo = (body.reply_parameters as { message_id?: number } | undefined)?.message_id;
        if (replyTo !== undefined && !this.messages.some((m) => m.message_id === replyTo))
          return this.fail(reply, 400, 'Bad Request: message to be replied not found');
        const message: FakeTelegramMessage = {
          message_id: this.nextId++,
          html,
          text: parsed.text,
          ...(replyTo !== undefined ? { reply_to: replyTo } : {}),
          disable_notification: Boolean(body.disable_notification),
        };
        if (method === 'sendPhoto') {
          const response = await fetch(String(body.photo)).catch(() => undefined);
          if (!response?.ok || !(response.headers.get('content-type') ?? '').startsWith('image/')) {
            return this.fail(reply, 400, 'Bad Request: wrong file identifier/HTTP URL specified');
          }
          message.photo = { url: String(body.photo), bytes: Buffer.from(await response.arrayBuffer()) };
        }
        this.messages.push(message);
        if (scripted && 'hangAfterStore' in scripted) return hang(reply);
        const result = {
          message_id: message.message_id,
          sender_chat: CHANNEL,
          chat: CHANNEL,
          date: Math.floor(Date.now() / 1000),
          ...(method === 'sendPhoto'
            ? { caption: parsed.text, photo: [{ file_id: 'AgAC-photo', file_unique_id: 'AQAD', width: 1, height: 1 }] }
            : { text: parsed.text }),
        };
        return { ok: true, result };
      }
      default:
        return this.fail(reply, 404, 'Not Found');
    }
  }
}
