import type { Context } from '../context.js';
import type { Messenger, PostedPart } from '../channels/messenger.js';
import { deletionTarget } from './account-target.js';
import { errorText } from '../channels/http-errors.js';
import { withDeadline } from '../net/deadline.js';

/**
 * A retraction with `deleteOriginals`: deletes each part of the original thread where the
 * provider allows it, after the retraction itself went out. Each deletion is a ledger target of
 * its own ("delete-0", "delete-1", ...), claimed and settled like any delivery, so a retry deletes
 * only what is left and the status shows what was deleted.
 */
export async function deleteOriginals(
  ctx: Context,
  messenger: Messenger,
  alertId: string,
  ledgerChannel: string,
  token: string,
  parts: PostedPart[] | undefined,
): Promise<void> {
  if (!parts?.length) return;
  const targets = parts.map((_, i) => deletionTarget(i));
  const claimed = await ctx.ledger.claim(alertId, ledgerChannel, token, targets);
  for (const claim of claimed) {
    const part = parts[Number(claim.target.slice('delete-'.length))];
    if (!messenger.deletePart) {
      await ctx.ledger.settle(alertId, ledgerChannel, token, [
        { target: claim.target, state: 'skipped', error: `${messenger.provider} does not allow deleting posts` },
      ]);
      continue;
    }
    try {
      await withDeadline(messenger.partDeadlineMs, (signal) => messenger.deletePart!(part, signal), { what: `deleting ${part.id}` });
      await ctx.ledger.settle(alertId, ledgerChannel, token, [
        { target: claim.target, state: 'sent', providerId: `deleted ${part.id}`, ...(part.url ? { url: part.url } : {}) },
      ]);
    } catch (err) {
      await ctx.ledger.settle(alertId, ledgerChannel, token, [
        { target: claim.target, state: 'failed', error: `could not delete ${part.id}: ${errorText(err)}` },
      ]);
    }
  }
}
