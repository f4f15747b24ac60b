import type { Context } from '../context.js';
import type { Alert } from '../domain/alert.js';
import type { Messenger } from '../channels/messenger.js';

export interface Audience {
  emailEnabled: boolean;
  /** Confirmed subscribers whose preferences match the alert right now. */
  subscribers: number;
  accounts: Array<{ id: string; provider: string }>;
}

/** Who would receive this alert if it were published now: the same matching the fan-out uses. */
export async function audienceOf(ctx: Context, alert: Pick<Alert, 'level' | 'countries'>, accounts: Map<string, Messenger>): Promise<Audience> {
  let subscribers = 0;
  if (ctx.config.email.enabled) {
    let cursor = 0;
    for (;;) {
      const page = await ctx.subscribers.matching(alert, cursor, 10_000, 2000);
      subscribers += page.ids.length;
      cursor = page.lastExamined;
      if (page.done) break;
    }
  }
  return {
    emailEnabled: ctx.config.email.enabled,
    subscribers,
    accounts: [...accounts.values()].map((a) => ({ id: a.id, provider: a.provider })).sort((a, b) => a.id.localeCompare(b.id)),
  };
}
