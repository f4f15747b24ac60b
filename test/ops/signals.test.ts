import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testConfig, dropPrefix, waitFor } from '../helpers/context.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { cliEnv, exited, killTree, spawnMarked, startCli } from '../helpers/cli.js';
import { processTree } from '../helpers/processes.js';
import { createContext, type Context } from '../../src/context.js';
import { createLogger } from '../../src/log.js';
import { publishAlert } from '../../src/publish/publish.js';
import { alertStatus } from '../../src/publish/status.js';
import type { ChildProcess } from 'node:child_process';

// A process manager, a terminal or `docker compose stop` sends SIGTERM to the process it started.
// Through `npm start` that is npm: it must reach Tocsin, which finishes the jobs it holds and
// exits, leaving no process behind. A second signal ends it at once.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** An SMTP server that keeps every message's DATA waiting until `release()` (or for ever). */
class HoldingSmtp {
  readonly held: string[] = [];
  readonly delivered: string[] = [];
  private waiting: Array<() => void> = [];
  private released = false;
  private server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData: (stream, session, callback) => {
      stream.resume();
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address);
        const done = () => {
          this.delivered.push(...to);
          callback();
        };
        if (this.released) return done();
        this.held.push(...to);
        this.waiting.push(done);
      });
    },
  });
  port = 0;

  async start(): Promise<this> {
    this.server.on('error', () => {});
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.server.address() as { port: number }).port;
    return this;
  }
  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }
  release(): void {
    this.released = true;
    for (const done of this.waiting.splice(0)) done();
  }
  async stop(): Promise<void> {
    this.release();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('stopping Tocsin with a signal', () => {
  let ctx: Context;
  let smtp: HoldingSmtp;
  let child: ChildProcess | undefined;
  let output = '';

  const collect = (c: ChildProcess) => {
    output = '';
    c.stdout!.on('data', (d) => (output += d));
    c.stderr!.on('data', (d) => (output += d));
  };

  beforeAll(async () => {
    smtp = await new HoldingSmtp().start();
    ctx = await createContext(testConfig('signals', { email: { smtpUrl: smtp.url, batchSize: 5, concurrency: 1, sendConcurrency: 2 } }), {
      log: createLogger('silent'),
    });
    await seedSubscribers(ctx, 20);
  });
  afterEach(() => {
    if (child) killTree(child, 'SIGKILL');
  });
  afterAll(async () => {
    await smtp.stop();
    await dropPrefix(ctx);
    await ctx.close();
  });

  it('SIGTERM to `npm start` reaches Tocsin, which finishes the message in flight and exits; no process is left', async () => {
    const alert = await storeAlert(ctx, { level: 'emergency' });
    const npm = spawnMarked('npm', ['start', '--silent'], cliEnv(ctx.config, { LOG_LEVEL: 'info' }), { cwd: ROOT });
    child = npm;
    collect(npm);
    await waitFor(async () => output.includes('Tocsin is listening'), `tocsin start under npm\n${output}`, 60_000);
    const tree = processTree(npm.pid as number);
    expect(tree.some((p) => p.command.includes('bin/tocsin.js start'))).toBe(true);

    await publishAlert(ctx, alert.id);
    await waitFor(async () => smtp.held.length > 0, 'a message to be in flight', 60_000);
    const inFlight = [...smtp.held];

    npm.kill('SIGTERM'); // what `kill <pid of npm start>` does
    await waitFor(async () => output.includes('stopping: finishing jobs in flight'), `Tocsin to receive SIGTERM through npm\n${output}`, 30_000);
    smtp.release(); // the SMTP server answers only now: the message was in flight during the drain
    expect(await exited(npm)).toBe(0);
    expect(output).toMatch(/"msg":"stopped"/);

    // Everything Tocsin started is gone, and what was in flight is recorded as sent.
    expect(tree.flatMap((p) => processTree(p.pid))).toEqual([]);
    const status = await alertStatus(ctx, alert.id);
    expect(status.counts.channels.email.sending).toBe(0);
    for (const address of inFlight) expect(smtp.delivered).toContain(address);
    expect(status.counts.channels.email.sent).toBeGreaterThanOrEqual(inFlight.length);
  });

  it('a second SIGTERM ends a worker at once while its drain still waits for the SMTP server', async () => {
    smtp = await (async () => {
      await smtp.stop();
      return new HoldingSmtp().start(); // holds every message for ever: the drain cannot finish
    })();
    const config = testConfig('signals2', { email: { smtpUrl: smtp.url, batchSize: 5, concurrency: 1, sendConcurrency: 2 } });
    const other = await createContext(config, { log: createLogger('silent') });
    try {
      await seedSubscribers(other, 5);
      const alert = await storeAlert(other, { level: 'emergency' });
      const worker = startCli(['worker'], cliEnv(other.config, { LOG_LEVEL: 'info' }));
      child = worker;
      await publishAlert(other, alert.id);
      await waitFor(async () => smtp.held.length > 0, 'a message to be in flight', 60_000);
      worker.kill('SIGTERM');
      await waitFor(async () => worker.output().includes('stopping: finishing jobs in flight'), `the drain to start\n${worker.output()}`, 30_000);
      worker.kill('SIGTERM');
      expect(await exited(worker)).toBe(143);
      expect(worker.output()).toMatch(/second SIGTERM: exiting without waiting for jobs in flight/);
      expect(processTree(worker.pid as number)).toEqual([]);
    } finally {
      await dropPrefix(other);
      await other.close();
    }
  });
});
