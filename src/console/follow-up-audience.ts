import type { Context } from '../context.js';
import type { Alert } from '../domain/alert.js';
import { matchesPreferences } from '../domain/alert.js';
import type { Messenger } from '../channels/messenger.js';
import { deliveryChannel } from '../delivery/delivery-channel.js';
import { receivedVersions } from '../delivery/received.js';
import { ThreadParts } from '../store/thread-parts.js';

// Who a correction or retraction would reach if it went out now, counted by the rules the
// follow-up fan-out uses (workers/follow-up.ts): by email, everyone still subscribed whose ledger
// says an earlier version reached them (as a reply to it) and, for a correction, every confirmed
// subscriber it is for who got nothing yet (the corrected alert, whole); on each account, a reply
// where the account posted an earlier version, otherwise the corrected alert whole (a retraction:
// nothing).

export interface FollowUpAudience {
  emailEnabled: boolean;
  /** Still subscribed, and got an earlier version: they get a reply threaded to it. */
  replies: number;
  /** Correction only: confirmed subscribers it is for who got nothing yet. */
  fresh: number;
  accounts: Array<{ id: string; provider: string; posted: boolean }>;
  /** Accounts that will receive something. */
  accountsReached: number;
}

export async function followUpAudience(
  ctx: Context,
  alert: Alert,
  kind: 'correction' | 'retraction',
  accounts: Map<string, Messenger>,
): Promise<FollowUpAudience> {
  const next = ((await ctx.versions.latest(alert.id))?.version ?? 1) + 1;
  let replies = 0;
  let fresh = 0;
  if (ctx.config.email.enabled) {
    // Every row is examined and none is "chosen": this only counts.
    await ctx.subscribers.select(
      0,
      Number.MAX_SAFE_INTEGER,
      async (rows) => {
        const received = await receivedVersions(
          ctx,
          alert.id,
          next,
          rows.map((r) => r.id),
        );
        for (const r of rows) {
          if (r.status !== 'confirmed') continue;
          if (received.has(r.id)) replies++;
          else if (kind === 'correction' && matchesPreferences(alert, r.prefs)) fresh++;
        }
        return rows.map(() => false);
      },
      2000,
    );
  }
  const threads = new ThreadParts(ctx.redis, ctx.keys);
  const list = await Promise.all(
    [...accounts.values()].map(async (a) => {
      let posted = false;
      for (let v = 1; v < next && !posted; v++) posted = (await threads.read(alert.id, deliveryChannel(a.id, v))).posted.length > 0;
      return { id: a.id, provider: a.provider, posted };
    }),
  );
  list.sort((a, b) => a.id.localeCompare(b.id));
  return {
    emailEnabled: ctx.config.email.enabled,
    replies,
    fresh,
    accounts: list,
    accountsReached: kind === 'correction' ? list.length : list.filter((a) => a.posted).length,
  };
}
