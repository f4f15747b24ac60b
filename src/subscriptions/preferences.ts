import type { Context } from '../context.js';
import type { Subscriber } from '../domain/subscriber.js';
import type { Choices } from './input.js';

/** Changes what a confirmed subscriber receives. Anyone else must subscribe (and confirm) again. */
export async function updatePreferences(ctx: Context, id: number, choices: Choices): Promise<Subscriber | null> {
  const sub = await ctx.subscribers.get(id);
  if (!sub || sub.status !== 'confirmed') return null;
  await ctx.subscribers.update(id, { countries: choices.countries, minLevel: choices.minLevel, language: choices.language });
  return { ...sub, ...choices };
}
