import { LEVEL_NAMES, type Alert } from '../../domain/alert.js';
import { countryName } from '../../domain/countries.js';
import { markdownToText } from '../../render/markdown.js';
import { DeliveryError, type PostedPart } from '../messenger.js';
import { withDeadline } from '../../net/deadline.js';
import { deliveryErrorForNetwork, deliveryErrorForStatus, retryAfterToEpochMs } from '../http-errors.js';
import { stagesLine } from './common.js';
import { linkOf } from '../../domain/alert-link.js';

// Slack and Discord incoming webhooks: the payloads (Block Kit blocks; embeds coloured by level)
// and the meaning of their answers. Neither deduplicates, so a webhook in these formats is not
// safe to resend blindly (unlike the signed JSON webhook, whose receivers deduplicate).
//
// Nothing is cut silently: where a platform limit forces it (Slack 3000 characters per section,
// Discord 6000 characters per message), the message says so and points to the full alert.

export interface ChatFormatOptions {
  /** Shown as the sender (Discord username) and in the footer. */
  organisationName?: string;
  /** Colours by level (config organisation.colours); `primary` for reports without a level. */
  colours?: Partial<Record<'primary' | 'watch' | 'warning' | 'emergency', string>>;
  /** Where readers find the alert if it has no canonical URL (the public page). */
  alertUrl?: string;
}

const DEFAULT_COLOURS = { primary: '#1d3557', watch: '#b08900', warning: '#c2410c', emergency: '#b91c1c' };

function levelLabel(alert: Alert): string {
  return alert.level ? LEVEL_NAMES[alert.level] : 'Report';
}

function countriesText(alert: Alert): string {
  return alert.countries.map((c) => countryName(c, alert.language)).join(', ');
}

function issued(alert: Alert): string {
  const when = alert.issuedAt ?? alert.publishedAt ?? alert.createdAt;
  return new Date(when).toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function plain(markdown: string): string {
  return markdownToText(markdown)
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * Packs lines into chunks of at most `max` characters, filling each chunk: a line that does not
 * fit in what is left is split between words (a line longer than a chunk, too).
 */
function chunkLines(lines: string[], max: number): string[] {
  const chunks: string[] = [];
  let current = '';
  for (const line of lines) {
    let rest = line;
    while (rest) {
      const sep = current ? '\n' : '';
      const room = max - current.length - sep.length;
      if (rest.length <= room) {
        current += sep + rest;
        break;
      }
      // Too little room left to be worth a split: start the next chunk.
      if (current && room < 200) {
        chunks.push(current);
        current = '';
        continue;
      }
      const space = rest.lastIndexOf(' ', room);
      const cut = space > room / 2 ? space : room;
      chunks.push(current + sep + rest.slice(0, cut));
      current = '';
      rest = rest.slice(cut).trimStart();
    }
  }
  if (current) chunks.push(current);
  return chunks;
}

// ---------------------------------------------------------------------------------------------
// Slack

/** Slack mrkdwn escaping: &, < and > only. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface SlackPayload {
  text: string;
  blocks: Array<Record<string, unknown>>;
  unfurl_links: boolean;
  unfurl_media: boolean;
}

/** An incoming-webhook message: fallback text for notifications plus Block Kit blocks. */
export function slackPayload(alert: Alert, opts: ChatFormatOptions = {}): SlackPayload {
  const url = linkOf(alert) ?? opts.alertUrl;
  const blocks: Array<Record<string, unknown>> = [];
  blocks.push({ type: 'header', text: { type: 'plain_text', text: clip(alert.title, 150), emoji: true } });
  const context = [`*${levelLabel(alert)}*`, escapeSlack(countriesText(alert)), ...(alert.region ? [escapeSlack(alert.region)] : []), issued(alert)].join(
    '  ·  ',
  );
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: context }] });
  // A title longer than a header holds is given in full here.
  const intro = `${alert.title.length > 150 ? `*${escapeSlack(alert.title)}*\n` : ''}${escapeSlack(plain(alert.summary))}`;
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: intro } });
  if (alert.image) {
    blocks.push({
      type: 'image',
      image_url: alert.image.url,
      alt_text: clip(alert.image.alt, 2000),
      ...(alert.image.caption || alert.image.credit
        ? {
            title: {
              type: 'plain_text',
              text: clip([alert.image.caption, alert.image.credit ? `Photo: ${alert.image.credit}` : ''].filter(Boolean).join(' — '), 2000),
            },
          }
        : {}),
    });
  }
  const stages = stagesLine(alert);
  if (stages) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Stages*\n${escapeSlack(stages.replace(/^Ten Stages of Genocide: /, ''))}` } });
  if (alert.recommendations.length) {
    const lines = alert.recommendations.map((r) => `• ${escapeSlack(plain(r).replace(/\n+/g, ' '))}`);
    const chunks = chunkLines(lines, 3000 - 40);
    // Slack takes 50 blocks: leave room for the button and a "more" note.
    const room = 50 - blocks.length - 3;
    chunks
      .slice(0, room)
      .forEach((chunk, i) => blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `${i === 0 ? '*Recommendations*\n' : ''}${chunk}` } }));
    if (chunks.length > room) {
      blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `_More recommendations in the full alert${url ? `: <${url}|read it here>` : ''}._` } });
    }
  }
  if (url) {
    blocks.push({
      type: 'actions',
      elements: [
        { type: 'button', text: { type: 'plain_text', text: 'Read the full alert' }, url, ...(alert.level === 'emergency' ? { style: 'danger' } : {}) },
      ],
    });
  }
  const text = clip(`${levelLabel(alert)}: ${escapeSlack(alert.title)}${url ? ` ${url}` : ''}`, 3000);
  return { text, blocks, unfurl_links: false, unfurl_media: false };
}

// ---------------------------------------------------------------------------------------------
// Discord

export interface DiscordEmbed {
  title: string;
  url?: string;
  description: string;
  color: number;
  fields: Array<{ name: string; value: string; inline?: boolean }>;
  image?: { url: string };
  footer?: { text: string };
  timestamp?: string;
}

export interface DiscordPayload {
  username?: string;
  content?: string;
  embeds: DiscordEmbed[];
  allowed_mentions: { parse: string[] };
}

const DISCORD_TOTAL = 6000;

/** Discord's embed text total: title, description, field names and values, footer. */
export function discordEmbedLength(embed: DiscordEmbed): number {
  return (
    embed.title.length + embed.description.length + (embed.footer?.text.length ?? 0) + embed.fields.reduce((n, f) => n + f.name.length + f.value.length, 0)
  );
}

/** An embed coloured by level, with stages and recommendations as fields. Mentions are disabled. */
export function discordPayload(alert: Alert, opts: ChatFormatOptions = {}): DiscordPayload {
  const url = linkOf(alert) ?? opts.alertUrl;
  const colours = { ...DEFAULT_COLOURS, ...(opts.colours ?? {}) };
  const colour = parseInt((alert.level ? colours[alert.level] : colours.primary).replace('#', ''), 16);
  const embed: DiscordEmbed = {
    title: clip(alert.title, 256),
    ...(url ? { url } : {}),
    description: clip(plain(alert.summary), 4096),
    color: colour,
    fields: [
      { name: 'Level', value: levelLabel(alert), inline: true },
      {
        name: alert.countries.length > 1 ? 'Countries' : 'Country',
        value: clip(countriesText(alert) + (alert.region ? ` (${alert.region})` : ''), 1024),
        inline: true,
      },
    ],
    footer: { text: clip([opts.organisationName, alert.image?.credit ? `Photo: ${alert.image.credit}` : ''].filter(Boolean).join(' · ') || 'Tocsin', 2048) },
    timestamp: new Date(alert.issuedAt ?? alert.publishedAt ?? alert.createdAt).toISOString(),
  };
  if (alert.image) embed.image = { url: alert.image.url };
  const stages = stagesLine(alert);
  if (stages) embed.fields.push({ name: 'Stages', value: clip(stages.replace(/^Ten Stages of Genocide: /, ''), 1024) });
  const recs = chunkLines(
    alert.recommendations.map((r) => `• ${plain(r).replace(/\n+/g, ' ')}`),
    1024,
  );
  const more = (left: number) => ({
    name: 'More',
    value: `${left} more recommendation section${left > 1 ? 's' : ''} in the full alert${url ? `: ${url}` : '.'}`,
  });
  for (let i = 0; i < recs.length; i++) {
    const field = { name: i === 0 ? 'Recommendations' : 'Recommendations (continued)', value: recs[i] };
    const reserve = i < recs.length - 1 ? more(recs.length - i).name.length + more(recs.length - i).value.length : 0;
    if (embed.fields.length + 2 > 25 || discordEmbedLength(embed) + field.name.length + field.value.length + reserve > DISCORD_TOTAL) {
      embed.fields.push(more(recs.length - i));
      break;
    }
    embed.fields.push(field);
  }
  return { ...(opts.organisationName ? { username: clip(opts.organisationName, 80) } : {}), embeds: [embed], allowed_mentions: { parse: [] } };
}

// ---------------------------------------------------------------------------------------------
// Sending, and what the answers mean

export type ChatFormat = 'slack' | 'discord';

/** What a Slack or Discord webhook answer means for the delivery. */
export function chatWebhookError(format: ChatFormat, status: number, headers: Headers, body: string): DeliveryError {
  let reason = `${format === 'slack' ? 'Slack' : 'Discord'} answered HTTP ${status}${body ? `: ${body.slice(0, 300)}` : ''}`;
  if (format === 'discord') {
    let json: { retry_after?: number; message?: string; code?: number; global?: boolean } = {};
    try {
      json = JSON.parse(body) as typeof json;
    } catch {
      // not JSON
    }
    if (status === 429) {
      const seconds =
        typeof json.retry_after === 'number' ? json.retry_after : Number(headers.get('x-ratelimit-reset-after') ?? headers.get('retry-after') ?? 60);
      return new DeliveryError('rate-limited', reason, { status, retryAt: Date.now() + Math.ceil(seconds * 1000) });
    }
    // 10015 Unknown Webhook: deleted, or a wrong URL.
    if (status === 404 || json.code === 10015) return new DeliveryError('permanent', reason, { status, code: json.code, credentials: true });
    return deliveryErrorForStatus(status, reason);
  }
  if (status === 429) return deliveryErrorForStatus(429, reason, retryAfterToEpochMs(headers.get('retry-after')));
  // Slack: 403 invalid_token / action_prohibited, 404 no_service / no_team, 410 channel_is_archived.
  if ([403, 404, 410].includes(status) || /invalid_token|no_service|no_team|channel_is_archived|action_prohibited/.test(body)) {
    reason += ' (the webhook is gone or not allowed: create a new one)';
    return new DeliveryError('permanent', reason, { status, credentials: true });
  }
  return deliveryErrorForStatus(status, reason);
}

/**
 * Posts a Slack or Discord payload. Discord is asked to wait (?wait=true) so the answer carries
 * the message id for the ledger. A timeout after sending is an unknown outcome: neither
 * platform deduplicates, so it must not be re-sent blindly.
 */
export async function postChatWebhook(
  format: ChatFormat,
  url: string,
  payload: SlackPayload | DiscordPayload,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<PostedPart> {
  const target = new URL(url);
  if (format === 'discord') target.searchParams.set('wait', 'true');
  let response: Response;
  let body: string;
  try {
    [response, body] = await withDeadline(
      opts.timeoutMs,
      async (signal) => {
        const res = await fetch(target, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'Tocsin-Webhook/1' },
          body: JSON.stringify(payload),
          signal,
        });
        return [res, await res.text()] as const;
      },
      { signal: opts.signal, what: `POST ${target.origin}` },
    );
  } catch (err) {
    throw deliveryErrorForNetwork(err, true);
  }
  if (!response.ok) throw chatWebhookError(format, response.status, response.headers, body);
  if (format === 'slack') return { id: `slack ${response.status} ${body.slice(0, 20)}`.trim() };
  try {
    const message = JSON.parse(body) as { id?: string; channel_id?: string };
    if (message.id) return { id: message.id, ...(message.channel_id ? { ref: { channelId: message.channel_id } } : {}) };
  } catch {
    // 204 without a body (a receiver that ignores ?wait)
  }
  return { id: `discord ${response.status}` };
}
