import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSubscribers } from '../helpers/fixtures.js';
import { cliEnv, runCli } from '../helpers/cli.js';
import { expirePending } from '../../src/subscriptions/pending.js';
import { importSubscribers } from '../../src/subscriptions/import.js';
import { exportRow } from '../../src/subscriptions/export.js';
import { startHarness, linkIn, postForm, postJson, waitForMail, type Harness } from './harness.js';

describe('pending subscriptions expire', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('sub-expiry');
  });
  afterAll(async () => {
    await h.close();
  });

  it('an unconfirmed request is deleted once its link has expired; confirmed people are untouched', async () => {
    const [kept] = await seedSubscribers(
      h.ctx,
      1,
      () => ({ countries: '*', minLevel: 'all' }),
      () => 'kept@example.org',
    );
    await postJson(`${h.base}/api/subscribe`, { email: 'never.confirmed@example.org', countries: ['KZ'], level: 'all' });
    const mail = await waitForMail(h.smtp, 'never.confirmed@example.org', /Confirm/);
    // A confirmed subscriber asking again has a pending request too, but keeps the subscription.
    await postJson(`${h.base}/api/subscribe`, { email: 'kept@example.org', countries: ['UA'], level: 'emergency' });
    await waitForMail(h.smtp, 'kept@example.org', /Confirm/);
    const id = (await h.ctx.subscribers.idByEmail('never.confirmed@example.org'))!;
    expect((await h.ctx.subscribers.get(id))?.status).toBe('pending');

    expect(await expirePending(h.ctx, Date.now())).toBe(0);
    const later = Date.now() + h.ctx.config.subscriptions.pendingExpiryS * 1000 + 10 * 60_000;
    expect(await expirePending(h.ctx, later)).toBe(1);
    expect(await h.ctx.subscribers.get(id)).toBeNull();
    expect(await h.ctx.subscribers.idByEmail('never.confirmed@example.org')).toBeNull();
    expect(await h.ctx.redis.exists(h.ctx.keys.subscriptionPending(id))).toBe(0);
    expect(await h.ctx.subscribers.get(kept)).toMatchObject({ status: 'confirmed', countries: '*' });

    const res = await postForm(linkIn(mail, '/subscribe/confirm/'), '');
    expect(res.status).toBe(410);
    expect(await res.text()).toContain('If you still want alerts, subscribe again.');
  });
});

describe('export for migration', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('sub-export');
  });
  afterAll(async () => {
    await h.close();
  });

  it('exports CSV with consent columns (API and CLI) that imports back', async () => {
    await importSubscribers(
      h.ctx,
      Readable.from(['email,countries,level\n', 'a@example.org,KZ;UA,warning\n', 'b@example.org,*,all\n', 'gone@example.org,KZ,all\n']),
      'petition-2021',
    );
    const goneId = (await h.ctx.subscribers.idByEmail('gone@example.org'))!;
    await h.ctx.subscribers.update(goneId, { status: 'unsubscribed' });

    const auth = { authorization: `Bearer ${h.ctx.config.secrets.adminToken}` };
    expect((await fetch(`${h.base}/api/subscribers/export`)).status).toBe(401);
    const res = await fetch(`${h.base}/api/subscribers/export`, { headers: auth });
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const csv = await res.text();
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('email,countries,level,status,language,created_at,confirmed_at,consent_source,form_version');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^a@example\.org,KZ;UA,warning,confirmed,en,\d{4}-\d\d-\d\dT[^,]+,\d{4}-[^,]+,import:petition-2021,$/);
    expect(lines[2]).toMatch(/^b@example\.org,\*,all,confirmed,/);
    expect(
      exportRow({
        id: 9,
        email: 'c@example.org',
        countries: '*',
        minLevel: 'all',
        status: 'confirmed',
        language: 'en',
        createdAt: 0,
        consentSource: 'form, "hosted"',
      }),
    ).toBe('c@example.org,*,all,confirmed,en,,,"form, ""hosted""",');
    expect(csv).not.toContain('gone@example.org');
    expect(await (await fetch(`${h.base}/api/subscribers/export?status=all`, { headers: auth })).text()).toContain('gone@example.org,KZ,all,unsubscribed');
    expect((await fetch(`${h.base}/api/subscribers/export?status=nope`, { headers: auth })).status).toBe(400);

    const cli = await runCli(['subscribers', 'export'], cliEnv(h.ctx.config));
    expect(cli.code).toBe(0);
    expect(cli.stdout).toBe(csv);

    // Another Tocsin takes the file as it is.
    const other = await startHarness('sub-export-target');
    try {
      const report = await importSubscribers(other.ctx, Readable.from([csv]), 'migrated-from-old-server');
      expect(report).toMatchObject({ rows: 2, added: 2, errors: [] });
      expect(await other.ctx.subscribers.getByEmail('a@example.org')).toMatchObject({ countries: ['KZ', 'UA'], minLevel: 'warning' });
    } finally {
      await other.close();
    }
  });
});
