import type { Context } from '../context.js';
import { newAlert, type Alert } from '../domain/alert.js';
import type { ValidAlertInput } from '../domain/parse.js';
import { errors } from '../errors.js';

// Writing drafts from the console. The alert store has no update yet, so the one rewrite a draft
// needs lives here as a script on the alert's own hash: it checks the status and the version the
// editor started from, so an edit never overwrites someone else's, nor an alert already going out.

// KEYS[1] alert hash. ARGV: doc JSON, now, expected updatedAt ('' = any).
const UPDATE_DRAFT_LUA = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing', ''} end
if status ~= 'draft' and status ~= 'approved' then return {'status', status} end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'updatedAt') ~= ARGV[3] then return {'conflict', status} end
redis.call('HSET', KEYS[1], 'doc', ARGV[1], 'status', 'draft', 'updatedAt', ARGV[2])
redis.call('HDEL', KEYS[1], 'approvedBy', 'approvedAt')
return {'ok', status}
`;

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
  const doc = { ...fields, id: current.id, slug: current.slug, createdAt: current.createdAt, ...(current.createdBy ? { createdBy: current.createdBy } : {}) };
  const [result, status] = (await ctx.redis.eval(UPDATE_DRAFT_LUA, 1, ctx.keys.alert(current.id), JSON.stringify(doc), new Date().toISOString(), version)) as [string, string];
  if (result === 'missing') throw errors.ALERT_NOT_FOUND(id);
  if (result === 'status') throw errors.ALERT_NOT_EDITABLE(current.slug, status);
  if (result === 'conflict') throw errors.ALERT_EDIT_CONFLICT(current.slug);
  return { previous: status };
}
