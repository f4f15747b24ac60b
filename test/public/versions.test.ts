import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext, dropPrefix } from '../helpers/context.js';
import { storeAlert } from '../helpers/fixtures.js';
import type { Context } from '../../src/context.js';
import { publicFields } from '../../src/domain/public-alert.js';
import { publishAlert } from '../../src/publish/publish.js';
import { createScheduleProcessor, schedulePublish } from '../../src/publish/schedule.js';
import { attemptOf } from '../helpers/attempt.js';
import { backfillVersions } from '../../src/publish/versions.js';
import { jobIds } from '../../src/queue/jobs.js';
import { QUEUE } from '../../src/queue/queues.js';

// The version store on real Redis: append-only, idempotent per (alert, version), version 1 made
// when publishing starts (before the publish job exists), and old published alerts backfilled.

describe('alert versions', () => {
  let ctx: Context;

  beforeAll(async () => {
    ctx = await testContext('versions');
  });
  afterAll(async () => {
    await dropPrefix(ctx);
    await ctx.close();
  });

  it('publishing appends version 1 before the publish job is queued; publishing again adds nothing', async () => {
    const alert = await storeAlert(ctx);
    expect(await ctx.versions.latest(alert.id)).toBeNull();
    await publishAlert(ctx, alert.id, 'alice');
    const v1 = await ctx.versions.latest(alert.id);
    expect(v1).toMatchObject({ version: 1, kind: 'original', by: 'alice', alert: publicFields(alert) });
    expect(await ctx.queues.get(QUEUE.publish).getJob(jobIds.publish(alert.id))).toBeTruthy();
    await publishAlert(ctx, alert.id, 'bob');
    expect(await ctx.versions.all(alert.id)).toEqual([v1]);
    // Workflow fields never become public.
    expect(Object.keys(v1!.alert)).not.toContain('status');
    expect(Object.keys(v1!.alert)).not.toContain('createdBy');
  });

  it('a scheduled alert gets version 1 when its schedule fires, not before', async () => {
    const alert = await storeAlert(ctx);
    const at = new Date(Date.now() + 3600_000);
    await schedulePublish(ctx, alert.id, at, 'alice');
    expect(await ctx.versions.count(alert.id)).toBe(0);
    const process = createScheduleProcessor(ctx);
    const job = await attemptOf<'scheduled-publish'>(ctx, `schedule-${alert.id}-${at.getTime()}`, QUEUE.schedule);
    expect(await process(job)).toBe('published');
    expect((await ctx.versions.latest(alert.id))?.kind).toBe('original');
  });

  it('appending is idempotent per version, refuses gaps and anything after a retraction', async () => {
    const alert = await storeAlert(ctx);
    await publishAlert(ctx, alert.id, 'alice');
    const base = (await ctx.versions.latest(alert.id))!;
    const correction = {
      version: 2,
      kind: 'correction' as const,
      at: new Date().toISOString(),
      note: 'Fixed the date.',
      alert: { ...base.alert, summary: 'Fixed.' },
    };
    expect((await ctx.versions.appendVersion(correction)).appended).toBe(true);
    const again = await ctx.versions.appendVersion({ ...correction, note: 'A different note' });
    expect(again).toMatchObject({ appended: false, version: { note: 'Fixed the date.' } });
    await expect(ctx.versions.appendVersion({ ...correction, version: 4 })).rejects.toThrow(/has 2 versions, so the next one is 3, not 4/);
    await expect(ctx.versions.appendVersion({ ...correction, version: 3, note: undefined })).rejects.toThrow(/note: a correction says what changed/);
    await ctx.versions.appendVersion({ version: 3, kind: 'retraction', at: new Date().toISOString(), reason: 'Wrong source.', alert: base.alert });
    await expect(ctx.versions.appendVersion({ ...correction, version: 4 })).rejects.toThrow(/retracted/);
    expect((await ctx.versions.all(alert.id)).map((v) => v.kind)).toEqual(['original', 'correction', 'retraction']);
    const entry = JSON.parse((await ctx.redis.hget(ctx.keys.publicEntries(), alert.id))!);
    expect(entry).toMatchObject({ version: 3, status: 'retracted', summary: base.alert.summary });
  });

  it('backfill: an alert already published without versions becomes version 1 of its current fields', async () => {
    const alert = await storeAlert(ctx);
    await ctx.alerts.transition(alert.id, ['draft'], 'published', { publishedAt: '2022-01-09T08:00:00.000Z' });
    const draft = await storeAlert(ctx);
    expect(await ctx.versions.count(alert.id)).toBe(0);
    const result = await backfillVersions(ctx);
    expect(result.added).toBeGreaterThanOrEqual(1);
    expect(await ctx.versions.latest(alert.id)).toMatchObject({ version: 1, kind: 'original', at: '2022-01-09T08:00:00.000Z', alert: publicFields(alert) });
    expect(await ctx.versions.count(draft.id)).toBe(0);
    expect(await ctx.redis.hget(ctx.keys.publicSlugs(), draft.slug)).toBeNull();
    expect(await ctx.redis.hget(ctx.keys.publicSlugs(), alert.slug)).toBe(alert.id);
    // A lost index write is redone from the versions.
    await ctx.redis.hdel(ctx.keys.publicEntries(), alert.id);
    expect((await backfillVersions(ctx)).reindexed).toBe(1);
    expect(await ctx.redis.hget(ctx.keys.publicEntries(), alert.id)).toBeTruthy();
  });
});
