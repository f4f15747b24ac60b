import { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPrefix, testContext } from '../helpers/context.js';
import { seedSubscribers } from '../helpers/fixtures.js';
import { importSubscribers } from '../../src/subscriptions/import.js';
import { suppress } from '../../src/subscriptions/suppression.js';
import { eraseSubscriber } from '../../src/subscriptions/erase.js';
import { recordBounce } from '../../src/subscriptions/bounces/policy.js';
import type { Context } from '../../src/context.js';

// The CSV import streams: rows go to Redis in batches, a bad row (an oversized field included)
// is reported with its line number and the others are kept, duplicates merge in the store, and
// memory does not grow with the file.

const csv = (lines: string[]) => Readable.from([lines.join('\n') + '\n']);

describe('subscriber import', () => {
  let ctx: Context;

  beforeAll(async () => {
    ctx = await testContext('import');
  });
  afterAll(async () => {
    await dropPrefix(ctx);
    await ctx.close();
  });

  it('rejects only the row with a 10,000-byte field, with its line number, and keeps the rest', async () => {
    const report = await importSubscribers(
      ctx,
      csv([
        'email,countries,level',
        'before@example.org,KZ,watch',
        `${'x'.repeat(10_000)}@example.org,KZ,watch`,
        `huge.countries@example.org,${'KZ;'.repeat(3400)},all`,
        'after@example.org,UA,warning',
        'after2@example.org,*,all',
      ]),
      'oversize-test',
    );
    expect(report).toMatchObject({ rows: 5, added: 3, rejected: 2 });
    expect(report.errors).toEqual([
      { line: 3, message: 'email: is longer than 1000 characters' },
      { line: 4, message: 'countries: is longer than 1000 characters' },
    ]);
    expect(await ctx.subscribers.getByEmail('before@example.org')).toMatchObject({ countries: ['KZ'], minLevel: 'watch', status: 'confirmed' });
    expect(await ctx.subscribers.getByEmail('after@example.org')).toMatchObject({ countries: ['UA'], minLevel: 'warning' });
    expect(await ctx.subscribers.getByEmail('after2@example.org')).toMatchObject({ countries: '*', minLevel: 'all' });
  });

  it('reports bad rows with the line they start on, counting lines inside quoted fields', async () => {
    const report = await importSubscribers(
      ctx,
      csv([
        'email,countries,level',
        'lines.ok@example.org,"KZ',
        'UA",all', // one record on lines 2-3
        'not-an-email,KZ,watch', // line 4
        '',
        'lines.bad.country@example.org,ZZ,watch', // line 6 (the blank line 5 is skipped)
        'lines.bad.level@example.org,KZ,severe', // line 7
      ]),
      'lines-test',
    );
    expect(report.errors).toEqual([
      { line: 4, message: 'email: is not a valid email address' },
      { line: 6, message: 'countries.0: must be an ISO 3166-1 alpha-2 code such as KZ' },
      { line: 7, message: 'level: must be one of all, watch, warning, emergency' },
    ]);
    expect(await ctx.subscribers.getByEmail('lines.ok@example.org')).toMatchObject({ countries: ['KZ', 'UA'] });
  });

  it('merges duplicates, within a batch, across batches and into stored records: countries joined, the lower level kept', async () => {
    const [stored] = await seedSubscribers(
      ctx,
      1,
      () => ({ countries: ['SD'], minLevel: 'emergency' }),
      () => 'stored.person@example.org',
    );
    const [same] = await seedSubscribers(
      ctx,
      1,
      () => ({ countries: ['KZ'], minLevel: 'warning' }),
      () => 'already.same@example.org',
    );
    const filler = Array.from({ length: 1200 }, (_, i) => `filler${i}@example.org,KZ,all`);
    const report = await importSubscribers(
      ctx,
      csv([
        'email,countries,level',
        'dup@example.org,KZ,emergency',
        'DUP@example.org,UA,warning', // same batch
        ...filler, // pushes the next rows into later batches
        ' dup@Example.org ,SD,emergency',
        'Stored.Person@example.org,KZ,watch', // merges into the stored record
        'already.same@example.org,KZ,warning', // unchanged ...
        ...filler.slice(0, 600).map((l) => l.replace('filler', 'more')),
        'already.same@example.org,UA,emergency', // ... until a later row adds UA: updated after all
      ]),
      'merge-test',
    );
    expect(report).toMatchObject({ rows: 1806, added: 1801, updated: 2, unchanged: 0, merged: 3, suppressed: 0, rejected: 0 });
    expect(await ctx.subscribers.getByEmail('dup@example.org')).toMatchObject({ countries: ['KZ', 'SD', 'UA'], minLevel: 'warning' });
    expect(await ctx.subscribers.get(stored)).toMatchObject({ countries: ['KZ', 'SD'], minLevel: 'watch', status: 'confirmed', consentSource: 'import:test' });
    expect(await ctx.subscribers.get(same)).toMatchObject({ countries: ['KZ', 'UA'], minLevel: 'warning' });
    // The run's bookkeeping is gone.
    expect(await ctx.redis.keys(`${ctx.keys.prefix}:import-run:*`)).toEqual([]);

    // The same file again changes nothing.
    const again = await importSubscribers(ctx, csv(['email,countries,level', 'dup@example.org,KZ,emergency', 'DUP@example.org,UA,warning']), 'merge-test');
    expect(again).toMatchObject({ rows: 2, added: 0, updated: 0, unchanged: 1, merged: 1 });
  });

  it('never re-adds an erased, unsubscribed, bounced or complained address', async () => {
    const seed = async (email: string) =>
      (
        await seedSubscribers(
          ctx,
          1,
          () => ({ countries: ['KZ'], minLevel: 'all' }),
          () => email,
        )
      )[0];
    await seed('erased@example.org');
    await eraseSubscriber(ctx, 'erased@example.org');
    const left = await seed('left@example.org');
    await ctx.subscribers.update(left, { status: 'unsubscribed' });
    await suppress(ctx, 'left@example.org');
    const bounced = await seed('bounced@example.org');
    await recordBounce(ctx, { email: 'bounced@example.org', kind: 'hard' }, 'test');
    const spam = await seed('spam@example.org');
    await recordBounce(ctx, { email: 'spam@example.org', kind: 'complaint' }, 'test');
    await recordBounce(ctx, { email: 'stranger.bounced@example.org', kind: 'hard' }, 'test');

    const report = await importSubscribers(
      ctx,
      csv([
        'email,countries,level',
        'Erased@example.org,UA,all',
        'left@example.org,UA,all',
        'bounced@example.org,UA,all',
        'spam@example.org,UA,all',
        'stranger.bounced@example.org,UA,all',
        'welcome@example.org,UA,all',
      ]),
      'suppression-test',
    );
    expect(report).toMatchObject({ rows: 6, added: 1, suppressed: 5 });
    expect(await ctx.subscribers.getByEmail('erased@example.org')).toBeNull();
    expect(await ctx.subscribers.getByEmail('stranger.bounced@example.org')).toBeNull();
    expect(await ctx.subscribers.get(left)).toMatchObject({ status: 'unsubscribed', countries: ['KZ'] });
    expect(await ctx.subscribers.get(bounced)).toMatchObject({ status: 'bounced', countries: ['KZ'] });
    expect(await ctx.subscribers.get(spam)).toMatchObject({ status: 'complained', countries: ['KZ'] });
  });

  it('stops at a record over 1 MiB (an unclosed quote), keeping and reporting the rows before it', async () => {
    const broken = Readable.from([`email,countries,level\nkept@example.org,KZ,all\n"open@example.org,KZ,all\n${'y'.repeat(1100 * 1024)}\n`]);
    const err = (await importSubscribers(ctx, broken, 'broken-test').catch((e: unknown) => e)) as Error & { code: string; report: { added: number } };
    expect(err.code).toBe('TOCSIN_ERR_CSV_INVALID');
    expect(err.message).toMatch(/^Invalid CSV: line 3: .*maximum number of tolerated bytes/);
    expect(err.message).toContain('1 rows: 1 added');
    expect(err.report.added).toBe(1);
    expect(await ctx.subscribers.getByEmail('kept@example.org')).not.toBeNull();
  });

  it('holds a batch in memory, not the file: 200,000 rows', async () => {
    // A real collection before each reading, so the heap figure is what is retained, not garbage.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    const readings: number[] = [];
    const ROWS = 200_000;
    async function* file() {
      yield 'email,countries,level\n';
      for (let start = 0; start < ROWS; start += 1000) {
        let chunk = '';
        for (let i = start; i < start + 1000; i++) chunk += `bulk.person.number.${i}@example.org,KZ;UA;SD,warning\n`;
        // Read while the import is under way: after a quarter, a half and three quarters.
        if (start > 0 && start % 50_000 === 0) {
          gc();
          readings.push(process.memoryUsage().heapUsed - before);
        }
        yield chunk;
      }
    }
    const report = await importSubscribers(ctx, Readable.from(file()), 'memory-test');
    expect(report).toMatchObject({ rows: ROWS, added: ROWS, rejected: 0 });
    expect(readings).toHaveLength(3);
    console.log(`heap retained during a 200,000-row import: ${readings.map((b) => `${(b / 1e6).toFixed(1)} MB`).join(', ')}`);
    // Holding every row would retain tens of MB by the half-way reading and grow with each one.
    for (const growth of readings) expect(growth).toBeLessThan(16e6);
  });
});
