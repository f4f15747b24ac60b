import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { testContext, dropPrefix, waitFor } from '../helpers/context.js';
import { TestSmtpServer } from '../helpers/smtp.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { startWorkers, type RunningWorkers } from '../../workers/run.js';
import { publishAlert } from '../../src/publish/publish.js';
import { alertStatus } from '../../src/publish/status.js';
import { SubscriptionMailer } from '../../src/subscriptions/mailer.js';
import { dkimDnsRecord, loadDkimKeys } from '../../src/channels/email/dkim-keys.js';
import type { Context } from '../../src/context.js';

// DKIM signatures checked by an independent verifier: mailauth (Postal Systems), whose DNS
// lookups go to a resolver that answers with the records `tocsin dkim check` prints.

const require = createRequire(import.meta.url);
// mailauth 4.x is the last line that runs on Node 20; 5 and later need Node 22.
const mailauth = require('mailauth/lib/dkim/verify') as {
  dkimVerify: (
    message: Buffer,
    options: { resolver: (name: string, type: string) => Promise<string[][]> },
  ) => Promise<{ results: Array<{ signingDomain: string; selector: string; algo: string; status: { result: string; comment?: string } }> }>;
};
const { dkimVerify } = mailauth;

const suffix = randomBytes(3).toString('hex').toUpperCase();
const RSA_ENV = `TEST_DKIM_RSA_${suffix}`;
const ED_ENV = `TEST_DKIM_ED_${suffix}`;
const dkimConfig = { domain: 'alerts.example.org', selector: 'rsa2026', privateKeyEnv: RSA_ENV, ed25519: { selector: 'ed2026', privateKeyEnv: ED_ENV } };

describe('DKIM: every email Tocsin sends is signed, and an independent verifier agrees', () => {
  let ctx: Context;
  let smtp: TestSmtpServer;
  let workers: RunningWorkers;
  let dns: Map<string, string[]>;

  const resolver = async (name: string, type: string): Promise<string[][]> => {
    const record = type === 'TXT' ? dns.get(name.replace(/\.$/, '')) : undefined;
    if (!record) throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
    return [record];
  };
  const verify = async (raw: Buffer) => (await dkimVerify(raw, { resolver })).results;

  beforeAll(async () => {
    process.env[RSA_ENV] = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    process.env[ED_ENV] = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    dns = new Map(loadDkimKeys(dkimConfig).map((key) => [dkimDnsRecord(key).name, dkimDnsRecord(key).strings]));
    smtp = await new TestSmtpServer().start();
    ctx = await testContext('dkim', { email: { smtpUrl: smtp.url, from: 'Alerts <alerts@alerts.example.org>', dkim: dkimConfig } });
    workers = startWorkers(ctx, new Map());
  });
  afterAll(async () => {
    await workers.close();
    await dropPrefix(ctx);
    await ctx.close();
    await smtp.stop();
    delete process.env[RSA_ENV];
    delete process.env[ED_ENV];
  });

  it('signs each alert email with RSA-SHA256 and Ed25519-SHA256, both pass; a changed body or subject fails', async () => {
    await seedSubscribers(
      ctx,
      5,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      (i) => `dkim${i}@example.net`,
    );
    const alert = await storeAlert(ctx, { level: 'emergency' });
    await publishAlert(ctx, alert.id);
    await waitFor(async () => (await alertStatus(ctx, alert.id)).complete, 'the alert to be sent');
    const mails = smtp.received.filter((m) => m.to[0].startsWith('dkim'));
    expect(mails).toHaveLength(5);
    for (const mail of mails) {
      const results = await verify(mail.raw);
      expect(results.map((r) => [r.algo, r.selector, r.signingDomain, r.status.result])).toEqual([
        ['rsa-sha256', 'rsa2026', 'alerts.example.org', 'pass'],
        ['ed25519-sha256', 'ed2026', 'alerts.example.org', 'pass'],
      ]);
    }
    // The personal unsubscribe link is in the signed body and in the signed List-Unsubscribe header.
    const raw = mails[0].raw.toString('latin1');
    expect(raw).toMatch(/h=from:to:subject:date:message-id:list-id:list-unsubscribe:\s*list-unsubscribe-post|h=[^;]*list-unsubscribe-post/);

    const bodyAt = raw.indexOf('\r\n\r\n') + 200;
    const tamperedBody = Buffer.from(raw.slice(0, bodyAt) + (raw[bodyAt] === 'X' ? 'Y' : 'X') + raw.slice(bodyAt + 1), 'latin1');
    for (const r of await verify(tamperedBody)) expect(r.status.result).not.toBe('pass');
    expect((await verify(tamperedBody))[0].status.comment).toMatch(/body hash/i);

    const tamperedSubject = Buffer.from(raw.replace(/^Subject: (.*)$/m, 'Subject: Nothing to see here'), 'latin1');
    expect(tamperedSubject.equals(mails[0].raw)).toBe(false);
    for (const r of await verify(tamperedSubject)) expect(r.status.result).not.toBe('pass');
  });

  it('signs every subscription email kind (confirm, welcome, goodbye) through the same transport', async () => {
    const mailer = new SubscriptionMailer({ config: ctx.config, log: ctx.log });
    try {
      const base = { countries: ['KZ'] as string[], minLevel: 'all' as const, language: 'en' };
      await mailer.send({ kind: 'confirm', to: 'sub-confirm@example.net', ...base, confirmUrl: 'https://alerts.example.org/confirm/tok', expiresInS: 86400 });
      await mailer.send({ kind: 'welcome', to: 'sub-welcome@example.net', ...base, unsubscribeUrl: 'https://alerts.example.org/u/tok' });
      await mailer.send({ kind: 'goodbye', to: 'sub-goodbye@example.net', ...base });
    } finally {
      mailer.close();
    }
    for (const to of ['sub-confirm@example.net', 'sub-welcome@example.net', 'sub-goodbye@example.net']) {
      const mail = smtp.received.find((m) => m.to[0] === to);
      expect(mail, to).toBeDefined();
      const results = await verify(mail!.raw);
      expect(results.map((r) => `${r.algo}:${r.status.result}`)).toEqual(['rsa-sha256:pass', 'ed25519-sha256:pass']);
    }
  });

  it('a signature made with a key other than the one in DNS does not verify', async () => {
    const mail = smtp.received.find((m) => m.to[0] === 'sub-welcome@example.net')!;
    const saved = dns;
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const other = loadDkimKeys({ ...dkimConfig, ed25519: undefined }, { [RSA_ENV]: otherKey });
    dns = new Map([[dkimDnsRecord(other[0]).name, dkimDnsRecord(other[0]).strings]]);
    try {
      expect((await verify(mail.raw))[0].status.result).toBe('fail');
    } finally {
      dns = saved;
    }
  });
});
