import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/context.js';
import { storeAlert } from '../helpers/fixtures.js';
import { cliEnv, runCli } from '../helpers/cli.js';
import { startWorkers, type RunningWorkers } from '../../workers/run.js';
import { publishAlert } from '../../src/publish/publish.js';
import { alertStatus } from '../../src/publish/status.js';
import { importSubscribers } from '../../src/subscriptions/import.js';
import { isSuppressed, suppressionHash } from '../../src/subscriptions/suppression.js';
import { startHarness, dumpKey, linkIn, postForm, postJson, waitForMail, type Harness } from './harness.js';

// Erasure: after `erase`, no key name and no value anywhere under the prefix contains the
// address; only its keyed hash stays in the suppression set, and an import cannot add it back.

describe('erasing a subscriber', () => {
  let h: Harness;
  let workers: RunningWorkers;

  beforeAll(async () => {
    h = await startHarness('sub-erase');
    workers = startWorkers(h.ctx, new Map());
  });
  afterAll(async () => {
    await workers.close();
    await h.close();
  });

  /** Every key name and value under the prefix that mentions the address, case-insensitively. */
  async function traces(address: string): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await h.ctx.redis.scan(cursor, 'MATCH', `${h.ctx.config.redis.prefix}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        if (key.toLowerCase().includes(address)) found.push(`key name ${key}`);
        if (
          JSON.stringify(await dumpKey(h.ctx, key))
            .toLowerCase()
            .includes(address)
        )
          found.push(`value of ${key}`);
      }
    } while (cursor !== '0');
    return found;
  }

  /** Subscribes through the API and confirms through the link, as a person would. */
  async function subscribeAndConfirm(email: string): Promise<void> {
    expect((await postJson(`${h.base}/api/subscribe`, { email, countries: ['KZ'], level: 'all' })).status).toBe(202);
    const mail = await waitForMail(h.smtp, email.toLowerCase(), /Confirm/);
    expect((await postForm(linkIn(mail, '/subscribe/confirm/'), '')).status).toBe(200);
  }

  it('the admin API erases everything but the keyed hash; SMTP replies that quote the address were masked before they were stored', async () => {
    const address = 'erase.me@example.org';
    await subscribeAndConfirm('Erase.Me@example.org');
    // The receiving server quotes the address back, first in a transient refusal (the queue
    // job's failure), then in a permanent one (the ledger and the alert's event stream).
    let attempts = 0;
    h.smtp.behaviour.rejectRecipient = (rcpt) =>
      rcpt.toLowerCase() === address
        ? ++attempts === 1
          ? { code: 451, message: `4.2.0 <${rcpt}> try again later` }
          : { code: 550, message: `5.1.1 <${rcpt}> mailbox unavailable` }
        : undefined;
    const alert = await storeAlert(h.ctx, { level: 'warning', countries: ['KZ'] });
    await publishAlert(h.ctx, alert.id);
    await waitFor(async () => {
      const r = await alertStatus(h.ctx, alert.id);
      return r.complete ? r : undefined;
    }, 'the alert to finish');
    // A soft bounce on record too.
    const id = (await h.ctx.subscribers.idByEmail(address))!;
    await h.ctx.redis.hincrby(h.ctx.keys.subscriberBounces(id), 'soft', 1);
    // The address is in the subscriber's record and index, and nowhere else: the replies that
    // quoted it are stored masked in the ledger, the event stream and the queue's job.
    const before = await traces(address);
    expect(before.length).toBeGreaterThan(0);
    expect(before.filter((t) => /:(ledger|events|q):/.test(t))).toEqual([]);
    const entry = await h.ctx.ledger.get(alert.id, 'email', String(await h.ctx.subscribers.idByEmail(address)));
    expect(entry?.error).toBe('550 5.1.1 <Er***@ex***.org> mailbox unavailable');

    const unauthorised = await postJson(`${h.base}/api/subscribers/erase`, { email: address });
    expect(unauthorised.status).toBe(401);
    const invalid = await postJson(
      `${h.base}/api/subscribers/erase`,
      { email: 'erase.me@example.org\r\nBcc: x@example.org' },
      { authorization: `Bearer ${h.ctx.config.secrets.adminToken}` },
    );
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({ code: 'TOCSIN_ERR_EMAIL_INVALID', error: 'Invalid email address: email: must not contain line breaks' });
    const res = await postJson(
      `${h.base}/api/subscribers/erase`,
      { email: 'ERASE.me@example.org' },
      { authorization: `Bearer ${h.ctx.config.secrets.adminToken}` },
    );
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ erased: true, found: true });
    expect(JSON.stringify(body)).not.toContain(address);

    expect(await traces(address)).toEqual([]);
    expect(await h.ctx.subscribers.getByEmail(address)).toBeNull();
    expect(await h.ctx.redis.exists(h.ctx.keys.subscriber(id), h.ctx.keys.subscriberBounces(id), h.ctx.keys.subscriptionPending(id))).toBe(0);
    expect(await h.ctx.redis.smembers(h.ctx.keys.suppressed())).toContain(suppressionHash(h.ctx.secret, address));
    // The ledger still counts the delivery, by number only.
    const report = await alertStatus(h.ctx, alert.id);
    expect(report.counts.channels.email.failed).toBe(1);

    // An import cannot bring the person back.
    const imported = await importSubscribers(h.ctx, Readable.from(['email,countries,level\n', `${address},KZ,all\n`]), 'old-list-2020');
    expect(imported).toMatchObject({ added: 0, suppressed: 1 });
    expect(await traces(address)).toEqual([]);
  });

  it('`tocsin subscribers erase -` reads the address from stdin and erases it', async () => {
    h.smtp.behaviour = {};
    const address = 'cli.erase@example.org';
    await subscribeAndConfirm(address);
    const result = await runCli(['subscribers', 'erase', '-'], cliEnv(h.ctx.config), `${address}\n`);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Erased cl***@ex***.org');
    expect(result.stdout).not.toContain(address);
    expect(await traces(address)).toEqual([]);
    expect(await isSuppressed(h.ctx, address)).toBe(true);
  });
});
