import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext, dropPrefix } from '../helpers/context.js';
import type { Context } from '../../src/context.js';

// Bulk creation (the benchmark's seeding) writes the records create() writes, and an address
// already known keeps its subscriber.

describe('SubscriberStore.createNew', () => {
  let ctx: Context;
  beforeAll(async () => {
    ctx = await testContext('create-new');
  });
  afterAll(async () => {
    await dropPrefix(ctx);
    await ctx.close();
  });

  it('creates what create() creates, and leaves an address already subscribed as it was', async () => {
    const base = {
      countries: ['KZ'],
      minLevel: 'warning' as const,
      status: 'confirmed' as const,
      language: 'en',
      consentSource: 'import:test',
      createdAt: 100,
      confirmedAt: 100,
    };
    const one = await ctx.subscribers.create({ ...base, email: 'one@example.org' });
    const made = await ctx.subscribers.createNew([
      { ...base, email: 'two@example.org' },
      { ...base, email: 'One@Example.org', countries: ['UA'] },
      { ...base, email: 'three@example.org', minLevel: 'all' },
    ]);
    expect(made.map((m) => m.created)).toEqual([true, false, true]);
    expect(made[1].id).toBe(one.id);
    expect((await ctx.subscribers.get(one.id))?.countries).toEqual(['KZ']);
    const viaCreate = await ctx.subscribers.create({ ...base, email: 'four@example.org', minLevel: 'all' });
    const [a, b] = await Promise.all([ctx.redis.hgetall(ctx.keys.subscriber(made[2].id)), ctx.redis.hgetall(ctx.keys.subscriber(viaCreate.id))]);
    expect({ ...a, e: '' }).toEqual({ ...b, e: '' });
    expect(await ctx.subscribers.idByEmail('two@example.org')).toBe(made[0].id);
  });
});
