import { execFileSync } from 'node:child_process';
import { createHmac, createSign, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSubscribers } from '../helpers/fixtures.js';
import { isSuppressed } from '../../src/subscriptions/suppression.js';
import { snsStringToSign, type SnsEnvelope } from '../../src/subscriptions/bounces/ses.js';
import { parseDsn } from '../../src/subscriptions/bounces/dsn.js';
import { cliEnv, runCli } from '../helpers/cli.js';
import { startHarness, postJson, snapshot, type Harness } from './harness.js';

// Bounce and complaint webhooks. SES messages are signed here with our own key, and the
// "SNS" certificate is served by a local HTTP server that bounces.ses.certHostPattern allows
// (127.0.0.1, plain HTTP) for this test only; production only fetches from sns.<region>.amazonaws.com.

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:tocsin-bounces';
const POSTMARK_AUTH = 'tocsin:postmark-secret-123';
const MAILGUN_KEY = 'key-mailgun-signing-0123456789';
process.env.TEST_POSTMARK_AUTH = POSTMARK_AUTH;
process.env.TEST_MAILGUN_KEY = MAILGUN_KEY;

const dir = mkdtempSync(join(tmpdir(), 'tocsin-sns-'));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
    '-subj',
    '/CN=sns.test.local',
    '-days',
    '2',
  ],
  { stdio: 'ignore' },
);
const KEY = readFileSync(join(dir, 'key.pem'), 'utf8');
const CERT = readFileSync(join(dir, 'cert.pem'), 'utf8');

describe('bounce and complaint webhooks', () => {
  let h: Harness;
  let certServer: Server;
  let certBase: string;
  const certHits: string[] = [];

  beforeAll(async () => {
    certServer = createServer((req, res) => {
      certHits.push(req.url ?? '');
      if (req.url === '/SimpleNotificationService-test.pem') res.end(CERT);
      else if (req.url?.startsWith('/confirm-subscription')) res.end('<ConfirmSubscriptionResponse/>');
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => certServer.listen(0, '127.0.0.1', r));
    certBase = `http://127.0.0.1:${(certServer.address() as { port: number }).port}`;
    h = await startHarness('sub-bounces', {
      bounces: {
        ses: { topicArns: [TOPIC], certHostPattern: '^127\\.0\\.0\\.1$', requireHttps: false },
        postmark: { basicAuthEnv: 'TEST_POSTMARK_AUTH' },
        mailgun: { signingKeyEnv: 'TEST_MAILGUN_KEY' },
      },
    });
  });
  afterAll(async () => {
    await h.close();
    await new Promise((r) => certServer.close(r));
  });

  const subscriber = async (email: string) =>
    (
      await seedSubscribers(
        h.ctx,
        1,
        () => ({ countries: '*', minLevel: 'all' }),
        () => email,
      )
    )[0];
  const status = async (id: number) => (await h.ctx.subscribers.get(id))?.status;

  function sns(message: object | string, overrides: Partial<SnsEnvelope> = {}, version: '1' | '2' = '2'): SnsEnvelope {
    const envelope: SnsEnvelope = {
      Type: 'Notification',
      MessageId: randomUUID(),
      TopicArn: TOPIC,
      Message: typeof message === 'string' ? message : JSON.stringify(message),
      Timestamp: new Date().toISOString(),
      SignatureVersion: version,
      Signature: '',
      SigningCertURL: `${certBase}/SimpleNotificationService-test.pem`,
      ...overrides,
    };
    envelope.Signature = createSign(version === '2' ? 'RSA-SHA256' : 'RSA-SHA1')
      .update(snsStringToSign(envelope))
      .sign(KEY, 'base64');
    return envelope;
  }
  const sesBounce = (email: string, bounceType = 'Permanent') => ({
    notificationType: 'Bounce',
    bounce: { bounceType, bounceSubType: 'General', bouncedRecipients: [{ emailAddress: email }] },
    mail: {},
  });
  const sesComplaint = (email: string) => ({
    notificationType: 'Complaint',
    complaint: { complainedRecipients: [{ emailAddress: email }], complaintFeedbackType: 'abuse' },
    mail: {},
  });
  // SNS posts JSON as text/plain.
  const postSns = (body: unknown) =>
    fetch(`${h.base}/api/webhooks/bounces/ses`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' },
      body: JSON.stringify(body),
    });

  it('SES: refuses a bad signature, a foreign topic and a certificate off the SNS hosts, changing nothing', async () => {
    const id = await subscriber('ses-victim@example.org');
    const before = await snapshot(h.ctx);
    const tampered = sns(sesBounce('ses-victim@example.org'));
    tampered.Message = JSON.stringify(sesBounce('ses-victim@example.org', 'Permanent')).replace('General', 'Suppressed');
    const forged = { ...sns(sesBounce('ses-victim@example.org')), Signature: Buffer.alloc(256, 1).toString('base64') };
    const foreignTopic = sns(sesBounce('ses-victim@example.org'), { TopicArn: 'arn:aws:sns:eu-west-1:999999999999:attacker' });
    const offHost = sns(sesBounce('ses-victim@example.org'), {
      SigningCertURL: `${certBase.replace('127.0.0.1', 'localhost')}/SimpleNotificationService-test.pem`,
    });
    const old = sns(sesBounce('ses-victim@example.org'), { Timestamp: new Date(Date.now() - 2 * 24 * 3600_000).toISOString() });
    const hitsBefore = certHits.length;
    for (const [name, body] of Object.entries({ tampered, forged, foreignTopic, offHost, old })) {
      const res = await postSns(body);
      expect(res.status, name).toBe(403);
      expect((await res.json()).code, name).toBe('TOCSIN_ERR_WEBHOOK_SIGNATURE');
    }
    // The off-host certificate URL was never fetched.
    expect(certHits.slice(hitsBefore).every((u) => u === '/SimpleNotificationService-test.pem')).toBe(true);
    expect(await status(id)).toBe('confirmed');
    expect(await snapshot(h.ctx)).toEqual(before);
  });

  it('SES: confirms its SNS subscription, and a signed hard bounce or complaint suppresses', async () => {
    const confirmation = sns('You have chosen to subscribe', {
      Type: 'SubscriptionConfirmation',
      SubscribeURL: `${certBase}/confirm-subscription?Token=abc`,
      Token: 'abc',
    });
    const confirmed = await fetch(`${h.base}/api/webhooks/bounces`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'x-amz-sns-message-type': 'SubscriptionConfirmation' },
      body: JSON.stringify(confirmation),
    });
    expect(await confirmed.json()).toEqual({ confirmed: true });
    expect(certHits).toContain('/confirm-subscription?Token=abc');

    const hard = await subscriber('ses-hard@example.org');
    const res = await postSns(sns(sesBounce('ses-hard@example.org')));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: 1, suppressed: 1, counted: 0, ignored: 0 });
    expect(await status(hard)).toBe('bounced');
    expect(await isSuppressed(h.ctx, 'ses-hard@example.org')).toBe(true);

    // Signature version 1 (SHA1), which SES still uses by default.
    const complainer = await subscriber('ses-complaint@example.org');
    const message = sns(sesComplaint('SES-Complaint@example.org'), {}, '1');
    expect((await postSns(message)).status).toBe(200);
    expect(await status(complainer)).toBe('complained');
    // SNS retries and replays are recognised by MessageId.
    expect(await (await postSns(message)).json()).toMatchObject({ duplicate: true });

    // A transient bounce only counts.
    const soft = await subscriber('ses-soft@example.org');
    expect(await (await postSns(sns(sesBounce('ses-soft@example.org', 'Transient')))).json()).toMatchObject({ counted: 1 });
    expect(await status(soft)).toBe('confirmed');
  });

  it('Postmark: wrong credentials are refused; HardBounce and SpamComplaint suppress', async () => {
    const url = `${h.base}/api/webhooks/bounces/postmark`;
    const basic = (creds: string) => ({ authorization: `Basic ${Buffer.from(creds).toString('base64')}` });
    const id = await subscriber('pm-hard@example.org');
    const body = { RecordType: 'Bounce', ID: 4323372036854775808, Type: 'HardBounce', TypeCode: 1, Email: 'pm-hard@example.org', Description: 'unknown user' };
    expect((await postJson(url, body)).status).toBe(401);
    expect((await postJson(url, body, basic('tocsin:wrong'))).status).toBe(401);
    expect(await status(id)).toBe('confirmed');
    const ok = await postJson(url, body, basic(POSTMARK_AUTH));
    expect(await ok.json()).toEqual({ received: 1, suppressed: 1, counted: 0, ignored: 0 });
    expect(await status(id)).toBe('bounced');

    const spam = await subscriber('pm-spam@example.org');
    await postJson(
      `${h.base}/api/webhooks/bounces`,
      { RecordType: 'SpamComplaint', ID: 77, Type: 'SpamComplaint', TypeCode: 512, Email: 'pm-spam@example.org' },
      basic(POSTMARK_AUTH),
    );
    expect(await status(spam)).toBe('complained');
  });

  it('Mailgun: a bad or stale signature is refused; permanent failures and complaints suppress; soft ones after three', async () => {
    const url = `${h.base}/api/webhooks/bounces/mailgun`;
    const signed = (event: object, options: { key?: string; timestamp?: number } = {}) => {
      const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
      const token = randomUUID().replace(/-/g, '');
      const signature = createHmac('sha256', options.key ?? MAILGUN_KEY)
        .update(timestamp + token)
        .digest('hex');
      return { signature: { timestamp, token, signature }, 'event-data': event };
    };
    const id = await subscriber('mg-hard@example.org');
    const failed = { event: 'failed', severity: 'permanent', recipient: 'mg-hard@example.org', reason: 'bounce' };
    const bad = await postJson(url, signed(failed, { key: 'not-the-key' }));
    expect(bad.status).toBe(403);
    expect((await bad.json()).error).toContain('Mailgun signature does not match');
    expect((await postJson(url, signed(failed, { timestamp: Math.floor(Date.now() / 1000) - 3600 }))).status).toBe(403);
    expect(await status(id)).toBe('confirmed');
    const good = signed(failed);
    expect(await (await postJson(url, good)).json()).toEqual({ received: 1, suppressed: 1, counted: 0, ignored: 0 });
    expect(await status(id)).toBe('bounced');
    expect(await (await postJson(url, good)).json()).toMatchObject({ duplicate: true });

    const complainer = await subscriber('mg-spam@example.org');
    await postJson(`${h.base}/api/webhooks/bounces`, signed({ event: 'complained', recipient: 'mg-spam@example.org' }));
    expect(await status(complainer)).toBe('complained');

    const soft = await subscriber('mg-soft@example.org');
    const temporary = { event: 'failed', severity: 'temporary', recipient: 'mg-soft@example.org', reason: 'generic' };
    for (let i = 1; i <= 2; i++) expect(await (await postJson(url, signed(temporary))).json()).toMatchObject({ counted: 1 });
    expect(await status(soft)).toBe('confirmed');
    expect(await (await postJson(url, signed(temporary))).json()).toMatchObject({ suppressed: 1 });
    expect(await status(soft)).toBe('bounced');
  });

  it('an unconfigured provider says so; a body from no known provider is a clear 400', async () => {
    const res = await postJson(`${h.base}/api/webhooks/bounces`, { hello: 'world' });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toContain('could not tell which provider');
  });
});

const DSN = (recipient: string) =>
  [
    'From: Mail Delivery System <MAILER-DAEMON@mx.example.net>',
    'To: alerts@example.org',
    'Subject: Undelivered Mail Returned to Sender',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status;',
    '\tboundary="BOUNDARY-1"',
    '',
    '--BOUNDARY-1',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is the mail system at host mx.example.net.',
    '',
    '--BOUNDARY-1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.net',
    'Arrival-Date: Mon, 10 Jan 2022 10:00:00 +0000',
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    `Original-Recipient: rfc822;${recipient}`,
    'Action: failed',
    'Status: 5.1.1',
    `Diagnostic-Code: smtp; 550 5.1.1 <${recipient}>: Recipient address`,
    '    rejected: User unknown in virtual mailbox table',
    '',
    'Final-Recipient: rfc822; slow@example.com',
    'Action: delayed',
    'Status: 4.4.1',
    '',
    '--BOUNDARY-1',
    'Content-Type: message/rfc822',
    '',
    'From: alerts@example.org',
    `To: ${recipient}`,
    'Subject: Genocide Emergency Alert',
    '',
    'body',
    '--BOUNDARY-1--',
    '',
  ].join('\r\n');

describe('RFC 3464 delivery status notifications', () => {
  it('parses recipients, folded fields, base64 parts and bare status blocks', () => {
    const report = parseDsn(DSN('gone@example.com'));
    expect(report.reportingMta).toBe('mx.example.net');
    expect(report.recipients).toEqual([
      {
        finalRecipient: 'gone@example.com',
        originalRecipient: 'gone@example.com',
        action: 'failed',
        status: '5.1.1',
        diagnosticCode: 'smtp; 550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown in virtual mailbox table',
        kind: 'hard',
      },
      { finalRecipient: 'slow@example.com', action: 'delayed', status: '4.4.1', kind: null },
    ]);
    const status = 'Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; soft@example.com\r\nAction: failed\r\nStatus: 4.2.2\r\n';
    const encoded = [
      'Content-Type: multipart/report; report-type=delivery-status; boundary=x',
      '',
      '--x',
      'Content-Type: message/delivery-status',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from(status).toString('base64'),
      '--x--',
    ].join('\r\n');
    expect(parseDsn(encoded).recipients).toEqual([{ finalRecipient: 'soft@example.com', action: 'failed', status: '4.2.2', kind: 'soft' }]);
    expect(parseDsn(status).recipients[0].kind).toBe('soft');
    expect(() => parseDsn('Subject: hello\r\n\r\njust a letter')).toThrow(/no message\/delivery-status part/);
    expect(() => parseDsn('')).toThrow(/empty/);
  });

  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('sub-dsn');
  });
  afterAll(async () => {
    await h.close();
  });

  it('POST /api/webhooks/bounces/dsn (admin) suppresses a hard bounce; `tocsin bounces parse --apply` does the same from a file', async () => {
    const [id] = await seedSubscribers(
      h.ctx,
      1,
      () => ({ countries: '*', minLevel: 'all' }),
      () => 'dsn-gone@example.org',
    );
    const url = `${h.base}/api/webhooks/bounces/dsn`;
    expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'message/rfc822' }, body: DSN('dsn-gone@example.org') })).status).toBe(401);
    const auth = { authorization: `Bearer ${h.ctx.config.secrets.adminToken}` };
    const garbage = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain', ...auth }, body: 'hello' });
    expect(garbage.status).toBe(400);
    expect((await garbage.json()).code).toBe('TOCSIN_ERR_DSN_INVALID');
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'message/rfc822', ...auth }, body: DSN('dsn-gone@example.org') });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      received: 1,
      suppressed: 1,
      recipients: [
        { recipient: 'ds***@ex***.org', action: 'failed', status: '5.1.1', kind: 'hard' },
        { action: 'delayed', kind: null },
      ],
    });
    expect(JSON.stringify(body)).not.toContain('dsn-gone@example.org');
    expect((await h.ctx.subscribers.get(id))?.status).toBe('bounced');

    const [cliId] = await seedSubscribers(
      h.ctx,
      1,
      () => ({ countries: '*', minLevel: 'all' }),
      () => 'cli-gone@example.org',
    );
    const file = join(dir, 'bounce.eml');
    writeFileSync(file, DSN('cli-gone@example.org'));
    const applied = await runCli(['bounces', 'parse', file, '--apply'], cliEnv(h.ctx.config));
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/cl\*\*\*@ex\*\*\*\.org\s+failed\s+5\.1\.1\s+hard/);
    expect(applied.stdout).not.toContain('cli-gone@example.org');
    expect(applied.stdout).toContain('Applied: 1 suppressed, 0 counted, 0 ignored.');
    expect((await h.ctx.subscribers.get(cliId))?.status).toBe('bounced');
  });
});
