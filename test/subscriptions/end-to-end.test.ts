import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/context.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { startWorkers, type RunningWorkers } from '../../workers/run.js';
import { publishAlert } from '../../src/publish/publish.js';
import { alertStatus } from '../../src/publish/status.js';
import { QUEUE } from '../../src/queue/queues.js';
import { isSuppressed } from '../../src/subscriptions/suppression.js';
import { startHarness, linkIn, mailsTo, postForm, rawHeader, waitForMail, type Harness } from './harness.js';

// The whole life of one subscription, through the listening server and a real SMTP server.

describe('email subscription, end to end', () => {
  let h: Harness;
  let workers: RunningWorkers | undefined;

  beforeAll(async () => {
    h = await startHarness('sub-e2e');
  });
  afterAll(async () => {
    await workers?.close();
    await h.close();
  });

  const published = (alertId: string) =>
    waitFor(async () => {
      const r = await alertStatus(h.ctx, alertId);
      return r.complete && r.alert.status === 'published' ? r : undefined;
    }, `alert ${alertId} to be published`);

  it('subscribe, confirm through the page, receive an alert, one-click unsubscribe, receive nothing more', async () => {
    const reader = 'amina.reader@example.org';
    // A second, already confirmed subscriber shows that the second alert really went out.
    await seedSubscribers(
      h.ctx,
      1,
      () => ({ countries: ['KZ'], minLevel: 'all' }),
      () => 'witness@example.org',
    );

    // 1. The hosted form.
    const page = await fetch(`${h.base}/subscribe`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<label for="email">Email address</label>');
    expect(html).toContain('value="KZ"');

    const posted = await postForm(`${h.base}/subscribe`, {
      email: reader,
      scope: 'some',
      countries: ['KZ', 'UA'],
      level: 'warning',
      language: 'en',
      website: '',
    });
    expect(posted.status).toBe(303);
    expect(posted.headers.get('location')).toBe('/subscribe/check-email');
    const check = await fetch(`${h.base}/subscribe/check-email`);
    expect(await check.text()).toContain('Check your email');

    // 2. The confirmation email: one recipient, a Message-ID, both parts, a link.
    const confirmation = await waitForMail(h.smtp, reader, /Confirm your subscription/);
    expect(confirmation.messageId).toMatch(/^<confirm\.[0-9a-f]+@localhost>$/);
    expect(confirmation.to && 'value' in confirmation.to ? confirmation.to.value.map((v) => v.address) : []).toEqual([reader]);
    expect(confirmation.cc).toBeUndefined();
    expect(confirmation.bcc).toBeUndefined();
    expect(confirmation.text).toContain('Countries: Kazakhstan, Ukraine');
    expect(confirmation.html).toContain('Confirm subscription');
    const confirmUrl = linkIn(confirmation, '/subscribe/confirm/');
    expect(confirmUrl.startsWith(`${h.base}/subscribe/confirm/`)).toBe(true);
    expect(h.smtp.received.find((m) => m.to.includes(reader))!.raw.toString()).not.toContain('witness@example.org');

    const sub = await h.ctx.subscribers.getByEmail(reader);
    expect(sub?.status).toBe('pending');

    // 3. GET shows a page with a button and changes nothing (link scanners follow GETs).
    const confirmPage = await fetch(confirmUrl);
    expect(confirmPage.status).toBe(200);
    const confirmHtml = await confirmPage.text();
    expect(confirmHtml).toMatch(/<form method="post" action="\/subscribe\/confirm\/[^"]+">/);
    expect(confirmHtml).toContain('Genocide Warning and Emergency alerts');
    expect((await h.ctx.subscribers.getByEmail(reader))?.status).toBe('pending');

    // 4. POST confirms, and records consent: source, time, form version; nothing else.
    const before = Math.floor(Date.now() / 1000);
    const confirmed = await postForm(confirmUrl, '');
    expect(confirmed.status).toBe(200);
    const confirmedHtml = await confirmed.text();
    expect(confirmedHtml).toContain('You are subscribed');
    expect(confirmedHtml).toMatch(/href="http:\/\/127\.0\.0\.1:\d+\/preferences\/[^"]+"/);
    const now = await h.ctx.subscribers.getByEmail(reader);
    expect(now).toMatchObject({ status: 'confirmed', countries: ['KZ', 'UA'], minLevel: 'warning', consentSource: 'form', formVersion: '1' });
    expect(now!.confirmedAt).toBeGreaterThanOrEqual(before - 1);
    const stored = await h.ctx.redis.hgetall(h.ctx.keys.subscriber(now!.id));
    expect(Object.keys(stored).sort()).toEqual(['c', 'e', 'f', 'g', 'l', 'o', 's', 't', 'v']);
    expect(JSON.stringify(stored)).not.toContain('127.0.0.1');

    // The link is used up: posting it again confirms nothing new and says so.
    const again = await postForm(confirmUrl, '');
    expect(await again.text()).toContain('already confirmed');

    const welcome = await waitForMail(h.smtp, reader, /You are subscribed/);
    expect(rawHeader(welcome, 'list-unsubscribe')).toMatch(/^<http:\/\/127\.0\.0\.1:\d+\/unsubscribe\/[^>]+>$/);
    // RFC 8058: with this header a mail client may unsubscribe in one click, by POST, without a page.
    expect(rawHeader(welcome, 'list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
    expect(welcome.text).toContain('/preferences/');

    // 5. An alert arrives with RFC 8058 headers and both parts.
    workers = startWorkers(h.ctx, new Map());
    const first = await storeAlert(h.ctx, { level: 'emergency', countries: ['KZ'] });
    expect((await publishAlert(h.ctx, first.id)).outcome).toBe('queued');
    const alertMail = await waitForMail(h.smtp, reader, new RegExp(first.title.replace(/[()]/g, '.')));
    const listUnsubscribe = String(rawHeader(alertMail, 'list-unsubscribe'));
    expect(listUnsubscribe).toMatch(/^<http:\/\/127\.0\.0\.1:\d+\/unsubscribe\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+>$/);
    expect(rawHeader(alertMail, 'list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
    expect(alertMail.text).toContain('Genocide Emergency');
    expect(alertMail.text).toContain('Unsubscribe:');
    expect(alertMail.html).toContain('Genocide Emergency');
    expect(alertMail.html).toContain('alt="Soldiers in a line aim rifles');
    expect(alertMail.html).toContain('1 Example Street, Springfield');
    await published(first.id);

    // 6. One-click unsubscribe: what a mail client sends.
    const oneClick = await fetch(listUnsubscribe.slice(1, -1), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(oneClick.status).toBe(200);
    expect((await h.ctx.subscribers.getByEmail(reader))?.status).toBe('unsubscribed');
    expect(await isSuppressed(h.ctx, reader)).toBe(true);
    await waitForMail(h.smtp, reader, /You are unsubscribed/);

    // 7. The next alert reaches the witness but not the reader.
    const second = await storeAlert(h.ctx, { level: 'emergency', countries: ['KZ'], title: 'Second alert: Kazakhstan' });
    await publishAlert(h.ctx, second.id);
    await waitForMail(h.smtp, 'witness@example.org', /Second alert/);
    const report = await published(second.id);
    expect(report.counts.channels.email.sent).toBe(1);
    const subjects = (await mailsTo(h.smtp, reader)).map((m) => m.subject);
    expect(subjects.filter((s) => s?.startsWith('Second alert'))).toEqual([]);
    expect(subjects.filter((s) => s === first.title)).toHaveLength(1);
  });

  it('an unsubscribe takes effect for a batch that is already queued', async () => {
    await workers?.close();
    workers = startWorkers(h.ctx, new Map(), { queues: [QUEUE.publish] });
    const [keep, leave] = await seedSubscribers(
      h.ctx,
      2,
      () => ({ countries: ['SD'], minLevel: 'all' }),
      (i) => `queued${i}@example.org`,
    );
    const alert = await storeAlert(h.ctx, { level: 'warning', countries: ['SD'], title: 'Queued batch: Sudan' });
    await publishAlert(h.ctx, alert.id);
    // Every job has a priority from its alert's level (the emergency lane), so it waits as 'prioritized'.
    await waitFor(async () => {
      const counts = await h.ctx.queues.get(QUEUE.email).getJobCounts('waiting', 'prioritized');
      return counts.waiting + counts.prioritized > 0 ? true : undefined;
    }, 'the email batch to be queued');

    // The batch already names both; one leaves through the unsubscribe page's button.
    const { personalLinks } = await import('../../src/publish/links.js');
    const page = await fetch(personalLinks(h.ctx, leave).unsubscribeUrl);
    expect(await page.text()).toContain('<button type="submit">Unsubscribe</button>');
    const res = await postForm(personalLinks(h.ctx, leave).unsubscribeUrl, { 'List-Unsubscribe': 'One-Click' });
    expect(res.status).toBe(200);

    await workers.close();
    workers = startWorkers(h.ctx, new Map());
    const report = await published(alert.id);
    expect(report.counts.channels.email.sent).toBe(1);
    expect(report.counts.channels.email.skipped).toBe(1);
    const to = h.smtp.received.filter((m) => m.raw.toString().includes('Queued batch')).flatMap((m) => m.to);
    expect(to).toEqual([`queued0@example.org`]);
    expect(keep).toBeLessThan(leave);
  });
});
