import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { testConfig, dropPrefix, waitFor } from './helpers/context.js';
import { createContext, type Context } from '../src/context.js';
import { createLogger } from '../src/log.js';
import { TestSmtpServer } from './helpers/smtp.js';
import { exampleAlertSource } from './helpers/fixtures.js';
import { cliEnv, runCli, startCli, exited, killTree } from './helpers/cli.js';
import { killAllStarted } from './helpers/cli.js';
import { alertStatus } from '../src/publish/status.js';

const dir = mkdtempSync(join(tmpdir(), 'tocsin-cli-test-'));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe('tocsin CLI', () => {
  let ctx: Context;
  let smtp: TestSmtpServer;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    smtp = await new TestSmtpServer().start();
    ctx = await createContext(testConfig('cli', { email: { smtpUrl: smtp.url } }), { log: createLogger('silent') });
    env = cliEnv(ctx.config);
  });
  afterAll(async () => {
    killAllStarted();
    await dropPrefix(ctx);
    await ctx.close();
    await smtp.stop();
  });

  it('imports a CSV: good rows kept, duplicates merged, bad rows reported with line numbers', async () => {
    const csv = file(
      'subs.csv',
      [
        'email,countries,level',
        'amina@example.org,KZ,warning',
        'AMINA@example.org,UA,emergency', // duplicate: merged (countries joined, lowest level kept)
        'not-an-email,KZ,watch',
        'bob@example.org,"KZ;SD",all',
        'carol@example.org,ZZ,watch',
        '"eve@example.org\r\nBcc: x@example.org",KZ,watch',
        'dan@example.org,*,severe',
        'fatima@example.org,,',
      ].join('\n'),
    );
    const result = await runCli(['subscribers', 'import', csv, '--consent', 'partner-petition-2021'], env);
    expect(result.stdout).toContain(
      '8 rows: 3 added, 0 updated, 0 unchanged, 1 duplicate rows merged, 0 suppressed (unsubscribed, bounced or erased), 4 rejected.',
    );
    expect(result.stdout).toMatch(/line 4: email: is not a valid email address/);
    expect(result.stdout).toMatch(/line 6: countries\.0: must be an ISO 3166-1 alpha-2 code/);
    expect(result.stdout).toMatch(/line 7: email: must not contain line breaks/);
    expect(result.stdout).toMatch(/line 9: level: must be one of all, watch, warning, emergency/);
    expect(result.code).toBe(2);
    const amina = await ctx.subscribers.getByEmail('amina@example.org');
    expect(amina).toMatchObject({ countries: ['KZ', 'UA'], minLevel: 'warning', status: 'confirmed', consentSource: 'import:partner-petition-2021' });
    expect(await ctx.subscribers.getByEmail('fatima@example.org')).toMatchObject({ countries: '*', minLevel: 'all' });

    const count = await runCli(['subscribers', 'count'], env);
    expect(count.stdout).toMatch(/confirmed\s+3/);
    const list = await runCli(['subscribers', 'list'], env);
    expect(list.stdout).toContain('am***@ex***.org');
    expect(list.stdout).not.toContain('amina@example.org');

    // Importing the same file again changes nothing.
    const again = await runCli(['subscribers', 'import', csv, '--consent', 'partner-petition-2021'], env);
    expect(again.stdout).toContain('0 added, 0 updated, 3 unchanged');
  });

  it('refuses an import without a consent basis, or with a broken CSV, and keeps what is stored', async () => {
    const noConsent = await runCli(['subscribers', 'import', file('x.csv', 'email\nz@example.org\n')], env);
    expect(noConsent.code).not.toBe(0);
    expect(noConsent.stderr).toMatch(/--consent <basis>/);
    const noHeader = await runCli(['subscribers', 'import', file('y.csv', 'z@example.org,KZ\n'), '--consent', 'x-basis'], env);
    expect(noHeader.stderr).toMatch(/line 1: the header must have an "email" column/);
    const unclosed = await runCli(['subscribers', 'import', file('z.csv', 'email,countries\n"z@example.org,KZ\n'), '--consent', 'x-basis'], env);
    expect(unclosed.stderr).toMatch(/Invalid CSV: .*quote/i);
    expect(await ctx.subscribers.getByEmail('z@example.org')).toBeNull();
    expect(await ctx.subscribers.getByEmail('amina@example.org')).not.toBeNull();
  });

  it('rejects bad alert files with the field and the problem', async () => {
    const noFront = await runCli(['alerts', 'check', file('a.md', '# Just a heading\n')], env);
    expect(noFront.stderr).toMatch(/must start with YAML front matter/);
    const badYaml = await runCli(['alerts', 'check', file('b.md', '---\ntitle: [unclosed\n---\nbody')], env);
    expect(badYaml.stderr).toMatch(/\(front matter\) at line \d+/);
    const badFields = await runCli(
      ['alerts', 'check', file('c.md', '---\ntitle: x\nsummary: y\ncountries: [KZ]\nlevel: emergency\nstages: [Genocide]\n---\nbody')],
      env,
    );
    expect(badFields.stderr).toMatch(/stages\.0: "Genocide" is not one of the ten stages/);
    const badJson = await runCli(['alerts', 'check', file('d.json', '{"title":')], env);
    expect(badJson.stderr).toMatch(/not valid JSON/);
    const huge = await runCli(['alerts', 'check', file('e.md', `---\ntitle: x\n---\n${'x'.repeat(600 * 1024)}`)], env);
    expect(huge.stderr).toMatch(/larger than 524288 bytes/);
    for (const r of [noFront, badYaml, badFields, badJson, huge]) expect(r.code).toBe(1);
    const ok = await runCli(['alerts', 'check', file('ok.md', exampleAlertSource())], env);
    expect(ok.stdout).toMatch(/^OK: Genocide Emergency Alert: Kazakhstan, January 2022 \(emergency, KZ\)/);
  });

  it('publishes a Markdown file and reports status; the worker drains on SIGTERM', async () => {
    const worker = startCli(['worker'], { ...env, LOG_LEVEL: 'info' });
    try {
      const published = await runCli(['publish', file('kz.md', exampleAlertSource())], env);
      expect(published.stdout).toMatch(/^Publishing kazakhstan-emergency-2022-01 \(([0-9A-Z]{26})\)/);
      const id = /\(([0-9A-Z]{26})\)/.exec(published.stdout)![1];
      await waitFor(async () => (await alertStatus(ctx, id)).complete, 'the alert to finish');
      // amina (KZ, warning+) and bob (KZ) and fatima (all) match an emergency for KZ.
      expect(new Set(smtp.recipients())).toEqual(new Set(['amina@example.org', 'bob@example.org', 'fatima@example.org']));
      const status = await runCli(['status', id], env);
      expect(status.stdout).toMatch(/status: published\s+delivery: complete/);
      expect(status.stdout).toMatch(/email\s+3\s+3\s+0\s+0\s+0\s+0\s+0\s+0/);
      const json = JSON.parse((await runCli(['status', id, '--json'], env)).stdout);
      expect(json.counts.channels.email.sent).toBe(3);

      const again = await runCli(['publish', 'kazakhstan-emergency-2022-01'], env);
      expect(again.stdout).toMatch(/already published; nothing was sent again/);
      expect(smtp.received.length).toBe(3);
    } finally {
      killTree(worker, 'SIGTERM');
      expect(await exited(worker)).toBe(0);
      expect(worker.output()).toMatch(/stopped/);
    }
  });

  it('says how to get Redis when it cannot be reached, quickly', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const started = Date.now();
    const result = await runCli(['start'], { ...env, REDIS_URL: `redis://127.0.0.1:${port}` }, undefined, 20_000);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result.code).toBe(69);
    expect(result.stderr).toMatch(/Cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+/);
    expect(result.stderr).toMatch(/apt install redis-server/);
    expect(result.stderr).toMatch(/docker compose up/);
    expect(result.stderr).toMatch(/REDIS_URL/);
  });

  it('stops on a bad configuration value, naming its path', async () => {
    const bad = file('bad.yaml', 'http:\n  port: 99999\nemail:\n  batchSize: zero\n');
    const result = await runCli(['start'], { ...env, TOCSIN_CONFIG: bad });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/http\.port: Too big/);
    expect(result.stderr).toMatch(/email\.batchSize: Invalid input: expected number, received string/);
    const secretInFile = file('secret.yaml', 'secrets:\n  secret: hunter2hunter2hunter2hunter2hunter2\n');
    const r2 = await runCli(['start'], { ...env, TOCSIN_CONFIG: secretInFile });
    expect(r2.stderr).toMatch(/secrets come from the environment/);
    const r3 = await runCli(['start'], { ...env, TOCSIN_CONFIG: join(dir, 'missing.yaml') });
    expect(r3.stderr).toMatch(/TOCSIN_CONFIG: no file at/);
  });

  it('`config check` refuses a line break in a header-bound value, naming the field', async () => {
    const smuggled = await runCli(['config', 'check'], { ...env, MAIL_FROM: 'Alerts <alerts@example.org>\r\nBcc: everyone@elsewhere.example' });
    expect(smuggled.code).toBe(1);
    expect(smuggled.stderr).toContain('email.from (from MAIL_FROM): must not contain line breaks or other control characters');
    expect(smuggled.stderr).not.toContain('everyone@elsewhere.example');
    expect(smuggled.stdout).toBe('');
    const inFile = await runCli(['config', 'check'], { ...env, TOCSIN_CONFIG: file('crlf.yaml', 'organisation:\n  name: "Example\\r\\nWatch"\n') });
    expect(inFile.code).toBe(1);
    expect(inFile.stderr).toContain('organisation.name: must not contain line breaks or other control characters');
    const fine = await runCli(['config', 'check'], { ...env, MAIL_FROM: 'Alerts <alerts@example.org>' });
    expect(fine.code).toBe(0);
    expect(JSON.parse(fine.stdout).email.from).toBe('Alerts <alerts@example.org>');
  });
});
