import { readFileSync } from 'node:fs';
import { parseAlertMarkdown } from '../../src/domain/parse.js';
import { newAlert, type Alert, type AlertInput } from '../../src/domain/alert.js';
import type { Context } from '../../src/context.js';
import type { MinLevel } from '../../src/domain/subscriber.js';

export const exampleAlertSource = (): string => readFileSync(new URL('../../examples/kazakhstan-2022-01.md', import.meta.url), 'utf8');

/** Stores a draft built from the example alert with fields overridden. */
export async function storeAlert(ctx: Context, overrides: Partial<AlertInput> = {}): Promise<Alert> {
  const input = parseAlertMarkdown(exampleAlertSource());
  const merged = { ...input, slug: `${input.slug}-${Math.random().toString(36).slice(2, 8)}`, ...overrides } as typeof input;
  return ctx.alerts.create(newAlert(merged));
}

/** Adds confirmed subscribers quickly (pipelined) for fan-out tests. */
export async function seedSubscribers(
  ctx: Context,
  count: number,
  prefs: (i: number) => { countries: string[] | '*'; minLevel: MinLevel } = () => ({ countries: ['KZ'], minLevel: 'warning' }),
  emailFor: (i: number) => string = (i) => `reader${i}@example.org`,
): Promise<number[]> {
  const ids: number[] = [];
  const chunk = 500;
  for (let start = 0; start < count; start += chunk) {
    const results = await Promise.all(
      Array.from({ length: Math.min(chunk, count - start) }, (_, j) => {
        const i = start + j;
        return ctx.subscribers.create({ email: emailFor(i), ...prefs(i), status: 'confirmed', language: 'en', consentSource: 'import:test', confirmedAt: 1 });
      }),
    );
    ids.push(...results.map((r) => r.id));
  }
  return ids;
}
