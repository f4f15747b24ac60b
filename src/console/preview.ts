import type { Config } from '../config/schema.js';
import type { Alert } from '../domain/alert.js';
import type { FollowUp, Messenger } from '../channels/messenger.js';
import { personalise, renderAlertEmail } from '../render/email.js';

// Previews use the very renderers delivery uses: renderAlertEmail + personalise for email (what
// storeRenderedOnce stores and the MIME template fills), and each account's own render().

export interface EmailPreview {
  subject: string;
  /** Goes into a sandboxed iframe's srcdoc (escaped by the template), so it cannot run script. */
  html: string;
  text: string;
  error?: string;
}

export interface PartPreview {
  number: number;
  text: string;
  length: number;
  limit: number;
  over: boolean;
  media?: { url: string; alt: string };
}

export interface ChannelPreview {
  channel: string;
  provider: string;
  parts: PartPreview[];
  error?: string;
}

export interface AlertPreview {
  email?: EmailPreview;
  channels: ChannelPreview[];
}

/**
 * With `followUp`, a correction or retraction as the follow-up worker (workers/follow-up.ts) sends
 * it to those who got an earlier version: the email with its notice ("Correction: …", "What
 * changed: …"), and each account's reply.
 */
export async function previewAlert(config: Config, accounts: Map<string, Messenger>, alert: Alert, followUp?: FollowUp): Promise<AlertPreview> {
  const base = config.http.publicUrl.replace(/\/+$/, '');
  // Sample personal links, so the preview shows where they go without minting real tokens.
  const links = { unsubscribeUrl: `${base}/unsubscribe/PREVIEW`, preferencesUrl: `${base}/preferences/PREVIEW` };
  let email: EmailPreview | undefined;
  if (config.email.enabled) {
    try {
      const rendered = await renderAlertEmail(alert, config, followUp && { kind: followUp.kind, at: followUp.at, note: followUp.note });
      email = { subject: rendered.subject, html: personalise(rendered.html, links), text: personalise(rendered.text, links) };
    } catch (err) {
      email = { subject: alert.title, html: '', text: '', error: (err as Error).message };
    }
  }
  const channels = [...accounts.values()]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((account): ChannelPreview => {
      try {
        const message = account.render(alert, followUp);
        return {
          channel: account.id,
          provider: account.provider,
          parts: message.parts.map((p, i) => ({
            number: i + 1,
            text: p.text,
            length: p.length,
            limit: p.limit,
            over: p.length > p.limit,
            ...(p.media ? { media: p.media } : {}),
          })),
        };
      } catch (err) {
        return { channel: account.id, provider: account.provider, parts: [], error: (err as Error).message };
      }
    });
  return { email, channels };
}
