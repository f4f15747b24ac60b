import type { Context } from '../context.js';
import { deliveryChannel } from './delivery-channel.js';
import { EMAIL_CHANNEL } from '../publish/rendered.js';

/**
 * For each subscriber, the earlier versions of the alert their ledger says they got by email
 * (`sent`, or `unknown`: it may have arrived). A follow-up threads to these; someone with none
 * gets the new version as a fresh message.
 */
export async function receivedVersions(ctx: Pick<Context, 'ledger'>, alertId: string, version: number, ids: number[]): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>();
  const targets = ids.map(String);
  for (let v = 1; v < version; v++) {
    const entries = await ctx.ledger.getMany(alertId, deliveryChannel(EMAIL_CHANNEL, v), targets);
    entries.forEach((entry, i) => {
      if (entry && (entry.state === 'sent' || entry.state === 'unknown')) {
        const list = out.get(ids[i]) ?? [];
        list.push(v);
        out.set(ids[i], list);
      }
    });
  }
  return out;
}
