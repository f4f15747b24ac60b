import type { Context } from '../../src/context.js';
import type { MinLevel } from '../../src/domain/subscriber.js';
import type { NewSubscriber } from '../../src/store/subscribers.js';

// Subscribers for the benchmark, created by the real SubscriberStore.createNew (the records
// create() writes, so the Redis memory measured is that of real records), 10,000 at a time with
// every command of a chunk in flight at once, so a million take about a minute.
// The records look like a CSV import: realistic addresses, countries, level and timestamps.
// Every one of them matches the benchmark alert (emergency, KZ).

const COUNTRIES: Array<string[] | '*'> = [['KZ'], '*', ['KZ', 'UA', 'MM']];
const LEVELS: MinLevel[] = ['all', 'warning', 'emergency'];

export const subscriberEmail = (i: number): string => `reader${i}@example.org`;

export async function seedSubscribers(ctx: Context, count: number, inFlight = 10_000): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  for (let start = 0; start < count; start += inFlight) {
    const chunk: NewSubscriber[] = [];
    for (let i = start; i < Math.min(count, start + inFlight); i++) {
      chunk.push({
        email: subscriberEmail(i),
        countries: COUNTRIES[i % COUNTRIES.length],
        minLevel: LEVELS[i % LEVELS.length],
        status: 'confirmed',
        language: 'en',
        createdAt: now,
        confirmedAt: now,
        consentSource: 'import:newsletter-2023',
      });
    }
    await ctx.subscribers.createNew(chunk);
  }
}
