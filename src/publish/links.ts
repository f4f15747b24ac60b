import type { Context } from '../context.js';
import { tokenFor } from '../tokens.js';

/** The personal links every alert email carries (RFC 8058 one-click unsubscribe and preferences). */
export function personalLinks(ctx: Pick<Context, 'config' | 'secret'>, subscriberId: number, now = Date.now()) {
  const base = ctx.config.http.publicUrl.replace(/\/+$/, '');
  return {
    unsubscribeUrl: `${base}/unsubscribe/${tokenFor(ctx.secret, 'unsubscribe', subscriberId, now)}`,
    preferencesUrl: `${base}/preferences/${tokenFor(ctx.secret, 'preferences', subscriberId, now)}`,
  };
}
