import { z } from 'zod';
import type { Alert } from '../../domain/alert.js';
import type { SocialAccountConfig } from '../../config/schema.js';
import { DeliveryError } from '../messenger.js';
import type { FollowUp, HealthReport, Messenger, PostedPart, RenderedMessage, RenderedPart, ThreadPosition } from '../messenger.js';
import { deliveryErrorForStatus } from '../http-errors.js';
import { baseOptionsShape, httpRequest, linkPlacementSchema, shorten, type HttpResult } from './common.js';
import { SocialAccount } from './account.js';
import { followUpAlert } from '../../domain/follow-up.js';

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

export class TelegramChannel extends SocialAccount<TelegramOptions> implements Messenger {
  readonly provider = 'telegram';
  /** The Bot API has no idempotency key and cannot read a channel's history: no look-up either. */
  readonly safeToResend = false;

  constructor(account: SocialAccountConfig, env: NodeJS.ProcessEnv) {
    super(account, env, telegramOptionsSchema, () => ['botToken'], {}, 'https://api.telegram.org');
  }

  render(alert: Alert, followUp?: FollowUp): RenderedMessage {
    // Telegram photos have no alt text: the description goes right after the summary, so it is
    // in the photo's caption whenever that has room.
    const shown = followUp ? followUpAlert(alert, followUp) : alert;
    const photo = Boolean(shown.image);
    const limit = (i: number) => (photo && i === 0 ? TELEGRAM_CAPTION_LIMIT : TELEGRAM_MESSAGE_LIMIT);
    const parts = this.splitAlert(alert, { length: (t) => t.length, limit }, { describeImage: this.options.describeImage }, followUp).map((part, i) => {
      const plain = part.text;
      const html =
        i === 0 && plain.startsWith(shown.title)
          ? `<b>${escapeTelegramHtml(shown.title)}</b>${escapeTelegramHtml(plain.slice(shown.title.length))}`
          : escapeTelegramHtml(plain);
      return {
        ...part,
        text: html,
        length: plain.length,
        limit: limit(i),
        extra: { method: part.media ? 'sendPhoto' : 'sendMessage', parseMode: 'HTML', ...(i > 0 ? { replyTo: 'previous part' } : {}) },
      };
    });
    return this.message(parts);
  }

  async postPart(part: RenderedPart, position: ThreadPosition, signal: AbortSignal): Promise<PostedPart> {
    const common = {
      chat_id: this.options.chatId,
      parse_mode: 'HTML',
      disable_notification: this.options.disableNotification,
      ...(position.replyTo ? { reply_parameters: { message_id: Number(position.replyTo.id), allow_sending_without_reply: true } } : {}),
    };
    const doing = `sending part ${position.index + 1}`;
    let warning: string | undefined;
    let sent: TelegramMessage | undefined;
    if (part.media) {
      try {
        sent = await this.call<TelegramMessage>('sendPhoto', { ...common, photo: part.media.url, caption: part.text }, `${doing} (photo)`, signal);
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
      doing,
      signal,
    );
    return this.noted({ id: String(sent.message_id), url: messageUrl(sent) }, warning);
  }

  async deletePart(part: PostedPart, signal: AbortSignal): Promise<void> {
    await this.call<boolean>('deleteMessage', { chat_id: this.options.chatId, message_id: Number(part.id) }, 'deleting the message', signal);
  }

  protected async inspect(signal?: AbortSignal): Promise<Omit<HealthReport, 'checkedAt'>> {
    const me = await this.call<{ id: number; username: string }>('getMe', {}, 'checking the bot token', signal);
    const chat = await this.call<{ id: number; title?: string; username?: string; type: string }>(
      'getChat',
      { chat_id: this.options.chatId },
      'looking up the chat',
      signal,
    );
    const member = await this.call<{ status: string; can_post_messages?: boolean; can_send_messages?: boolean }>(
      'getChatMember',
      { chat_id: this.options.chatId, user_id: me.id },
      'checking the bot in the chat',
      signal,
    );
    const missing: string[] = [];
    if (member.status === 'left' || member.status === 'kicked') missing.push('membership (add the bot to the chat)');
    else if (chat.type === 'channel' && !(member.status === 'creator' || (member.status === 'administrator' && member.can_post_messages !== false))) {
      missing.push('can_post_messages (make the bot an administrator who can post)');
    } else if (member.status === 'restricted' && member.can_send_messages === false) missing.push('can_send_messages');
    return {
      ok: missing.length === 0,
      detail: `@${me.username} in ${chat.type} ${chat.title ?? chat.username ?? chat.id} as ${member.status}${missing.length ? `; missing ${missing.join(', ')}` : ''}`,
      ...(missing.length ? { missingPermissions: missing } : {}),
    };
  }

  private async call<T>(method: string, body: Record<string, unknown>, doing: string, signal?: AbortSignal): Promise<T> {
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
        signal,
        mutating: method.startsWith('send') || method.startsWith('delete'),
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
