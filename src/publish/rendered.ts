import type { Alert } from '../domain/alert.js';
import type { Context } from '../context.js';
import type { RenderedMessage } from '../channels/messenger.js';
import { renderAlertEmail } from '../render/email.js';

export const EMAIL_CHANNEL = 'email';

/**
 * Stores a channel's rendered message the first time and never again, so every worker and every
 * retry sends exactly what was rendered when the alert was published.
 */
export async function storeRenderedOnce(ctx: Context, alert: Alert, channel: string, render?: () => RenderedMessage): Promise<void> {
  const key = ctx.keys.rendered(alert.id, channel);
  if (await ctx.redis.exists(key)) return;
  const value = channel === EMAIL_CHANNEL ? await renderAlertEmail(alert, ctx.config) : render?.();
  if (!value) throw new Error(`no renderer for channel ${channel}`);
  await ctx.redis.set(key, JSON.stringify(value), 'NX');
}

export async function loadRendered<T>(ctx: Pick<Context, 'redis' | 'keys'>, alertId: string, channel: string): Promise<T | null> {
  const raw = await ctx.redis.get(ctx.keys.rendered(alertId, channel));
  return raw ? (JSON.parse(raw) as T) : null;
}
