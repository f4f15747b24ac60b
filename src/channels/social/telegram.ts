import { z } from 'zod';
import type { Alert } from '../../domain/alert.js';
import type { SocialAccountConfig } from '../../config/schema.js';
import {
  DeliveryError,
  type AccountChannel,
  type DeliverContext,
  type HealthReport,
  type PostedPart,
  type RenderedMessage,
  type RenderedPart,
} from '../types.js';
import { deliveryErrorForStatus } from '../http-errors.js';
import {
  baseOptionsShape,
  composeAlert,
  Credentials,
  httpRequest,
  linkPlacementSchema,
  parseAccountOptions,
  requireCredentialNames,
  shorten,
  withWarning,
  type HttpResult,
} from './common.js';
import { splitThread } from './thread.js';

// A Telegram channel (or group) through the Bot API, with fetch:
//   sendPhoto  the lead image by URL, with the first part as its caption (1024 characters)
//   sendMessage  every other part (4096), each a reply to the one before (reply_parameters)
//   getMe, getChat, getChatMember  health: the token works, the bot may post in the chat
// Text goes in HTML parse mode: only &, < and > are escaped, and the title is bold. Lengths
// count the visible text (after entity parsing), which is how Telegram applies its limits.
// A 429 answers {ok:false, error_code:429, parameters:{retry_after: seconds}}.

export const TELEGRAM_MESSAGE_LIMIT = 4096;
export const TELEGRAM_CAPTION_LIMIT = 1024;

export const telegramOptionsSchema = z
  .object({
    ...baseOptionsShape,
    linkPlacement: linkPlacementSchema.default('first'),
    /** "@channelname" or the numeric id ("-100..."). */
    chatId: z.union([z.string().regex(/^(@[A-Za-z][A-Za-z0-9_]{3,}|-?\d+)$/, 'must be @channelname or a numeric chat id'), z.number().int()]).transform(String),
    /** Deliver silently (no notification sound). */
    disableNotification: z.boolean().default(false),
    /** Show Telegram's preview of the first link in a message. */
    linkPreview: z.boolean().default(true),
    /** Telegram photos have no alt text: describe the image in the text instead (default). */
    describeImage: z.boolean().default(true),
  })
  .strict();
export type TelegramOptions = z.output<typeof telegramOptionsSchema>;

/** Escaping for Telegram's HTML parse mode: &, < and > only ("&quot;" is for attributes). */
export function escapeTelegramHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

interface TelegramMessage {
  message_id: number;
  chat: { id: number; username?: string; type?: string; title?: string };
}

interface BotAnswer<T> {
  ok: boolean;
  result?: T;
  error_code?: number;
  description?: string;
  parameters?: { retry_after?: number; migrate_to_chat_id?: number };
}

/** Bot API answers to the delivery contract. */
export function mapTelegramError(res: HttpResult, doing: string): DeliveryError {
  const body = (res.json ?? {}) as BotAnswer<unknown>;
  const status = body.error_code ?? res.status;
  const description = body.description ?? res.text;
  const reason = shorten(`Telegram answered ${status} ${doing}: ${description}`);
  if (status === 429) {
    const seconds = body.parameters?.retry_after;
    return new DeliveryError('rate-limited', reason, { status, retryAt: Date.now() + (typeof seconds === 'number' ? seconds : 30) * 1000 });
  }
  if (body.parameters?.migrate_to_chat_id) {
    return new DeliveryError('permanent', `${reason}; set chatId to ${body.parameters.migrate_to_chat_id}`, { status, credentials: true });
  }
  // The chat is wrong or the bot may not post there: the account's health must show it.
  if (
    status === 400 &&
    /chat not found|not enough rights|need administrator rights|have no rights|CHAT_WRITE_FORBIDDEN|CHAT_ADMIN_REQUIRED/i.test(description)
  ) {
    return new DeliveryError('permanent', reason, { status, credentials: true });
  }
  return deliveryErrorForStatus(status, reason);
}

export class TelegramChannel implements AccountChannel {
  readonly provider = 'telegram';
  /** The Bot API has no idempotency key and cannot read a channel's history. */
  readonly safeToResend = false;
  readonly id: string;
  private readonly options: TelegramOptions;
  private readonly credentials: Credentials;
  private readonly base: string;

  constructor(account: SocialAccountConfig, env: NodeJS.ProcessEnv) {
    this.id = account.id;
    this.options = parseAccountOptions(account, telegramOptionsSchema);
    this.credentials = new Credentials(account, env);
    requireCredentialNames(account, ['botToken']);
    this.base = (account.baseUrl ?? 'https://api.telegram.org').replace(/\/$/, '');
  }

  render(alert: Alert): RenderedMessage {
    // Telegram photos have no alt text: the description goes right after the summary, so it is
    // in the photo's caption whenever that has room.
    const composed = composeAlert(alert, { ...this.options, describeImage: this.options.describeImage });
    const photo = Boolean(alert.image);
    const limit = (i: number) => (photo && i === 0 ? TELEGRAM_CAPTION_LIMIT : TELEGRAM_MESSAGE_LIMIT);
    const texts = splitThread(composed.paragraphs, {
      length: (t) => t.length,
      limit,
      locale: alert.language,
      firstSuffix: composed.firstSuffix,
      numbering: this.options.numbering,
    });
    const parts: RenderedPart[] = texts.map((plain, i) => {
      const html =
        i === 0 && plain.startsWith(alert.title)
          ? `<b>${escapeTelegramHtml(alert.title)}</b>${escapeTelegramHtml(plain.slice(alert.title.length))}`
          : escapeTelegramHtml(plain);
      return {
        text: html,
        length: plain.length,
        limit: limit(i),
        ...(photo && i === 0 && alert.image ? { media: { url: alert.image.url, alt: alert.image.alt } } : {}),
        extra: { method: photo && i === 0 ? 'sendPhoto' : 'sendMessage', parseMode: 'HTML', ...(i > 0 ? { replyTo: 'previous part' } : {}) },
      };
    });
    return { channel: this.id, provider: this.provider, parts };
  }

  async deliver(message: RenderedMessage, context: DeliverContext): Promise<PostedPart> {
    const done = [...context.posted];
    for (let i = done.length; i < message.parts.length; i++) {
      const part = message.parts[i];
      const previous = done[i - 1];
      const common = {
        chat_id: this.options.chatId,
        parse_mode: 'HTML',
        disable_notification: this.options.disableNotification,
        ...(previous ? { reply_parameters: { message_id: Number(previous.id), allow_sending_without_reply: true } } : {}),
      };
      let warning: string | undefined;
      let sent: TelegramMessage | undefined;
      if (part.media) {
        try {
          // Telegram fetches the URL itself, from its own network: Tocsin never fetches it here,
          // so the guarded fetcher (src/net/guarded-fetch.ts) is not involved.
          sent = await this.call<TelegramMessage>(
            'sendPhoto',
            { ...common, photo: part.media.url, caption: part.text },
            context,
            `sending part ${i + 1} (photo)`,
          );
        } catch (err) {
          // Telegram could not fetch or use the image: send the text alone, unless told not to.
          const e = err as DeliveryError;
          if (!(e instanceof DeliveryError) || e.kind !== 'permanent' || e.options.credentials || this.options.imageRequired) throw err;
          if (!/wrong file|HTTP URL|failed to get|IMAGE_PROCESS_FAILED|PHOTO_INVALID|wrong type/i.test(e.message)) throw err;
          warning = `image left out: ${e.message}`;
        }
      }
      sent ??= await this.call<TelegramMessage>(
        'sendMessage',
        { ...common, text: part.text, link_preview_options: { is_disabled: !this.options.linkPreview } },
        context,
        `sending part ${i + 1}`,
      );
      const posted = withWarning({ id: String(sent.message_id), url: messageUrl(sent) }, warning);
      await context.onPosted(posted);
      done.push(posted);
    }
    return done[0];
  }

  async findExisting(): Promise<PostedPart | null | undefined> {
    // The Bot API offers no way to read a channel's past messages.
    return undefined;
  }

  async checkHealth(): Promise<HealthReport> {
    const checkedAt = new Date().toISOString();
    const unset = this.credentials.unset(['botToken']);
    if (unset.length) return { ok: false, checkedAt, detail: `not set: ${unset.join(', ')}` };
    const none: { signal?: AbortSignal } = {};
    try {
      const me = await this.call<{ id: number; username: string }>('getMe', {}, none, 'checking the bot token');
      const chat = await this.call<{ id: number; title?: string; username?: string; type: string }>(
        'getChat',
        { chat_id: this.options.chatId },
        none,
        'looking up the chat',
      );
      const member = await this.call<{ status: string; can_post_messages?: boolean; can_send_messages?: boolean }>(
        'getChatMember',
        { chat_id: this.options.chatId, user_id: me.id },
        none,
        'checking the bot in the chat',
      );
      const missing: string[] = [];
      if (member.status === 'left' || member.status === 'kicked') missing.push('membership (add the bot to the chat)');
      else if (chat.type === 'channel' && !(member.status === 'creator' || (member.status === 'administrator' && member.can_post_messages !== false))) {
        missing.push('can_post_messages (make the bot an administrator who can post)');
      } else if (member.status === 'restricted' && member.can_send_messages === false) missing.push('can_send_messages');
      return {
        ok: missing.length === 0,
        checkedAt,
        detail: `@${me.username} in ${chat.type} ${chat.title ?? chat.username ?? chat.id} as ${member.status}${missing.length ? `; missing ${missing.join(', ')}` : ''}`,
        ...(missing.length ? { missingPermissions: missing } : {}),
      };
    } catch (err) {
      const e = err instanceof DeliveryError ? err : new DeliveryError('transient', (err as Error).message);
      return { ok: false, checkedAt, detail: `${e.options.credentials ? 'credentials rejected' : e.kind}: ${e.message}` };
    }
  }

  private async call<T>(method: string, body: Record<string, unknown>, context: Pick<DeliverContext, 'signal'>, doing: string): Promise<T> {
    const token = this.credentials.require('botToken');
    // The token is part of the URL: keep it out of every error message.
    const hide = (e: DeliveryError) => new DeliveryError(e.kind, e.message.split(token).join('<token>'), e.options);
    let res: HttpResult;
    try {
      res = await httpRequest({
        url: `${this.base}/bot${token}/${method}`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        timeoutMs: this.options.timeoutMs,
        signal: context.signal,
        mutating: method.startsWith('send'),
      });
    } catch (err) {
      throw err instanceof DeliveryError ? hide(err) : err;
    }
    const answer = res.json as BotAnswer<T> | undefined;
    if (res.status !== 200 || !answer?.ok || answer.result === undefined) throw hide(mapTelegramError(res, doing));
    return answer.result;
  }
}

function messageUrl(message: TelegramMessage): string | undefined {
  if (message.chat.username) return `https://t.me/${message.chat.username}/${message.message_id}`;
  const id = String(message.chat.id);
  return id.startsWith('-100') ? `https://t.me/c/${id.slice(4)}/${message.message_id}` : undefined;
}

export function createTelegramChannel(account: SocialAccountConfig, env: NodeJS.ProcessEnv): TelegramChannel {
  return new TelegramChannel(account, env);
}
