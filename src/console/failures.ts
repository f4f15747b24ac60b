import type { Context } from '../context.js';
import { maskEmail } from '../domain/subscriber.js';
import { EMAIL_CHANNEL } from '../publish/rendered.js';
import { parseDeliveryChannel } from '../delivery/delivery-channel.js';

// The failures table: failed and unknown deliveries grouped by (channel, outcome, reason), with a
// few masked examples per group. Reasons are shown as the provider gave them, except that any
// address inside one (some SMTP servers quote the recipient) is masked too.

export interface FailureGroup {
  channel: string;
  state: string;
  reason: string;
  count: number;
  /** Ledger targets (subscriber ids, or `post`) for the group's resolve/retry forms. */
  targets: string[];
  /** Up to five masked recipients. */
  examples: string[];
  more: number;
}

const ADDRESS_RE = /[^\s<>"'(),;:@]+@[^\s<>"'(),;:@]+\.[A-Za-z]{2,}/g;
export const maskAddresses = (text: string): string => text.replace(ADDRESS_RE, (m) => maskEmail(m));

export async function failureGroups(ctx: Context, alertId: string, limit = 2000): Promise<FailureGroup[]> {
  const problems = await ctx.ledger.problems(alertId, limit);
  // Email deliveries of every version ("email", "email@v2") are to subscribers, shown masked.
  const isEmail = (channel: string) => parseDeliveryChannel(channel).channel === EMAIL_CHANNEL;
  const ids = problems.filter((p) => isEmail(p.channel)).map((p) => Number(p.target));
  const subs = await Promise.all(ids.map((id) => ctx.subscribers.get(id)));
  const labels = new Map(ids.map((id, i) => [String(id), subs[i] ? maskEmail(subs[i]!.email) : `subscriber #${id} (erased)`]));
  const groups = new Map<string, FailureGroup>();
  for (const p of problems) {
    const reason = maskAddresses(p.entry.error ?? '') || '(no reason recorded)';
    const key = `${p.channel}\u0000${p.entry.state}\u0000${reason}`;
    let g = groups.get(key);
    if (!g) {
      g = { channel: p.channel, state: p.entry.state, reason, count: 0, targets: [], examples: [], more: 0 };
      groups.set(key, g);
    }
    g.count++;
    g.targets.push(p.target);
    if (g.examples.length < 5) g.examples.push(isEmail(p.channel) ? (labels.get(p.target) ?? p.target) : p.channel);
    else g.more++;
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || a.channel.localeCompare(b.channel));
}
