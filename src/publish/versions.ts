import type { Context } from '../context.js';
import type { Alert, AlertStatus } from '../domain/alert.js';
import { publicFields } from '../domain/public-alert.js';
import type { AlertVersion } from '../store/versions.js';
import type { WorkflowAlert } from './approval.js';

// Version 1 of an alert is its text at the moment publishing starts. It is appended before the
// publish job is queued (and again, as a no-op, by the job itself), so no email or post can link
// to a page that does not exist yet.

/** Statuses whose alert is public: from the moment publishing starts. */
export const PUBLIC_STATUSES: readonly AlertStatus[] = ['publishing', 'halted', 'published', 'corrected', 'retracted'];

/** Appends version 1 from the alert's current fields if it has no version yet; returns the latest. */
export async function ensureOriginalVersion(ctx: Pick<Context, 'versions'>, alert: Alert, by?: string, at = new Date()): Promise<AlertVersion> {
  const latest = await ctx.versions.latest(alert.id);
  if (latest) return latest;
  const { version } = await ctx.versions.appendVersion({
    version: 1,
    kind: 'original',
    at: at.toISOString(),
    ...(by ? { by } : {}),
    alert: publicFields(alert),
  });
  return version;
}

/**
 * Alerts published before versions existed become version 1 of their current fields, and an
 * index entry lost to a crash between writes is rewritten. Safe to run at every start.
 */
export async function backfillVersions(ctx: Pick<Context, 'alerts' | 'versions' | 'redis' | 'keys'>): Promise<{ added: number; reindexed: number }> {
  let added = 0;
  let reindexed = 0;
  let before: string | undefined;
  for (;;) {
    const page = await ctx.alerts.list({ limit: 200, before });
    if (!page.length) break;
    for (const alert of page) {
      if (!PUBLIC_STATUSES.includes(alert.status)) continue;
      const count = await ctx.versions.count(alert.id);
      if (count === 0) {
        await ensureOriginalVersion(ctx, alert, (alert as WorkflowAlert).publishRequestedBy, new Date(alert.publishedAt ?? alert.updatedAt));
        added++;
        continue;
      }
      const raw = await ctx.redis.hget(ctx.keys.publicEntries(), alert.id);
      if (!raw || (JSON.parse(raw) as { version: number }).version !== count) {
        await ctx.versions.reindex(alert.id);
        reindexed++;
      }
    }
    before = page[page.length - 1].id;
  }
  return { added, reindexed };
}
