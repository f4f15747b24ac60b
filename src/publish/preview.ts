import type { Context } from '../context.js';
import type { Alert } from '../domain/alert.js';
import type { Messenger, RenderedMessage } from '../channels/messenger.js';
import { renderAlertEmail, personalise, type RenderedEmail } from '../render/email.js';
import { errors } from '../errors.js';
import { EMAIL_CHANNEL } from './rendered.js';
import { withLink } from '../domain/alert-link.js';

export type Preview = { kind: 'email'; email: RenderedEmail } | { kind: 'account'; message: RenderedMessage };

/** What a channel would send, from the same renderers delivery uses. Personal links are samples. */
export async function renderPreview(ctx: Pick<Context, 'config'>, accounts: Map<string, Messenger>, alert: Alert, channel: string): Promise<Preview> {
  if (channel === EMAIL_CHANNEL) {
    const email = await renderAlertEmail(alert, ctx.config);
    const base = ctx.config.http.publicUrl.replace(/\/+$/, '');
    const links = { unsubscribeUrl: `${base}/unsubscribe/PREVIEW`, preferencesUrl: `${base}/preferences/PREVIEW` };
    return { kind: 'email', email: { ...email, html: personalise(email.html, links), text: personalise(email.text, links) } };
  }
  const adapter = accounts.get(channel);
  if (!adapter) throw errors.CHANNEL_UNKNOWN(channel);
  return { kind: 'account', message: adapter.render(withLink(alert, ctx.config)) };
}
