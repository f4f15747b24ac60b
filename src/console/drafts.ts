import type { Context } from '../context.js';
import { newAlert, type Alert } from '../domain/alert.js';
import type { ValidAlertInput } from '../domain/parse.js';
import { errors } from '../errors.js';

// Writing drafts from the console. An edit never overwrites someone else's (version check), nor
// an alert already going out (status check); both are enforced in AlertStore.updateDraft.

export async function createDraft(ctx: Context, input: ValidAlertInput, actor: string): Promise<Alert> {
  return ctx.alerts.create(newAlert(input, new Date(), actor));
}

/**
 * Replaces a draft's content (the slug stays: it is claimed). Editing an approved alert takes it
 * back to draft, so it must be approved again. Returns the status it had before.
 */
export async function updateDraft(ctx: Context, id: string, input: ValidAlertInput, version: string): Promise<{ previous: string }> {
  const current = await ctx.alerts.require(id);
  const { slug: _ignored, ...fields } = input;
  const { result, status } = await ctx.alerts.updateDraft(current, fields, version);
  if (result === 'missing') throw errors.ALERT_NOT_FOUND(id);
  if (result === 'status') throw errors.ALERT_NOT_EDITABLE(current.slug, status);
  if (result === 'conflict') throw errors.ALERT_EDIT_CONFLICT(current.slug);
  return { previous: status };
}
