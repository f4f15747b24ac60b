import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { testContext, dropPrefix, waitFor } from '../helpers/context.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import { startWorkers, type RunningWorkers } from '../../workers/run.js';
import { publishAlert } from '../../src/publish/publish.js';
import { alertStatus } from '../../src/publish/status.js';
import type { Context } from '../../src/context.js';

// The email worker and a server that hangs up after the final dot without replying: the message
// may have been accepted, so the ledger must not call it failed. It is retried (a duplicate keeps
// its Message-ID); on the last attempt it is recorded `unknown`, for a person to look at.

describe('a connection lost after the final dot (outcome unknown)', () => {
  const received: Array<{ to: string; messageId: string }> = [];
  const sockets = new Set<Socket>();
  let drops = new Map<string, number>();
  let server: SMTPServer;
  let url: string;

  beforeAll(async () => {
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const to = session.envelope.rcptTo[0].address;
          received.push({ to, messageId: /^Message-ID: (.+)$/im.exec(Buffer.concat(chunks).toString())?.[1]?.trim() ?? '' });
          const left = drops.get(to) ?? 0;
          if (left > 0) {
            // The whole message is here; hang up instead of answering.
            drops.set(to, left - 1);
            for (const socket of sockets) socket.destroy();
            return;
          }
          callback();
        });
      },
    });
    server.on('error', () => {});
    server.server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `smtp://127.0.0.1:${(server.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function run(name: string, maxAttempts: number, prefix: string, dropTimes: number) {
    const ctx: Context = await testContext(name, {
      email: { smtpUrl: url, batchSize: 10, sendConcurrency: 1, retry: { baseDelayMs: 100, maxDelayMs: 200, maxAttempts } },
    });
    const workers: RunningWorkers = startWorkers(ctx, new Map());
    try {
      const ids = await seedSubscribers(
        ctx,
        3,
        () => ({ countries: ['KZ'], minLevel: 'all' }),
        (i) => `${prefix}${i}@example.org`,
      );
      drops = new Map([[`${prefix}1@example.org`, dropTimes]]);
      const alert = await storeAlert(ctx, { level: 'emergency' });
      await publishAlert(ctx, alert.id);
      const report = await waitFor(async () => {
        const r = await alertStatus(ctx, alert.id);
        return r.complete ? r : undefined;
      }, 'every delivery to have an outcome');
      return { report, entry: await ctx.ledger.get(alert.id, 'email', String(ids[1])), ctx };
    } finally {
      await workers.close();
      await dropPrefix(ctx);
      await ctx.close();
    }
  }

  it('is retried, never marked failed, and the second copy carries the same Message-ID', async () => {
    const { report, entry } = await run('after-data-retry', 5, 'retry', 1);
    expect(report.counts.channels.email.sent).toBe(3);
    expect(report.counts.channels.email.failed).toBe(0);
    expect(entry?.state).toBe('sent');
    expect(entry?.attempts).toBeGreaterThan(1);
    const copies = received.filter((m) => m.to === 'retry1@example.org');
    expect(copies).toHaveLength(2);
    expect(copies[0].messageId).toBe(copies[1].messageId);
    expect(copies[0].messageId).toMatch(/^<alert\./);
  });

  it('on the last attempt it is recorded as unknown with the reason, not failed', async () => {
    const { report, entry } = await run('after-data-unknown', 1, 'last', 1);
    expect(report.counts.channels.email.sent).toBe(2);
    expect(report.counts.channels.email.failed).toBe(0);
    expect(report.counts.channels.email.unknown).toBe(1);
    expect(entry?.state).toBe('unknown');
    expect(entry?.error).toMatch(/outcome unknown: EAFTERDATA/);
  });
});
