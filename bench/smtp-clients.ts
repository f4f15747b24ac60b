import { createRequire } from 'node:module';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { Readable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import nodemailer from 'nodemailer';
import { smtpTransportOptions } from '../src/channels/email/transport.js';
import { forkBench, nextMessage, request, stopChild, cpuSecondsOf } from './lib/children.js';
import { rawBlast } from './lib/raw-blast.js';
import { BENCH_FROM, benchConfig, benchOverrides } from './lib/config.js';
import { MimeTemplate } from '../src/channels/email/mime.js';
import { SmtpPool } from '../src/channels/email/smtp-pool.js';
import { parseSmtpUrl } from '../src/channels/email/smtp-url.js';
import { DkimSigner } from '../src/channels/email/dkim-signer.js';
import { newAlert } from '../src/domain/alert.js';
import { parseAlertMarkdown } from '../src/domain/parse.js';
import { renderAlertEmail } from '../src/render/email.js';

// How SMTP clients compare at sending one pre-rendered 40 KB alert to many recipients over 5
// connections to the benchmark's SMTP sink (its own process), and how DKIM signers compare per
// message. Rounds interleave the clients; medians are printed, with the sender's CPU per message.
// The figures chose Tocsin's sender (bench/README.md, "Choosing the SMTP sender").
//
//   npm run bench:clients -- [--messages 5000] [--rounds 3] [--signers 300]
//   EMAILJS_DIR=/path/with/node_modules/emailjs  adds emailjs 5 (not a dependency of Tocsin)

const require = createRequire(import.meta.url);
const args = parseArgs({
  options: { messages: { type: 'string', default: '5000' }, rounds: { type: 'string', default: '3' }, signers: { type: 'string', default: '300' } },
}).values;
const M = Number(args.messages);
const ROUNDS = Number(args.rounds);
const CONNECTIONS = 5;
const IN_FLIGHT = 20;
const print = (line = '') => process.stdout.write(`${line}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const from = 'alerts@bench.example.org';
const rcpt = (client: string, round: number, i: number) => `${client}-${round}-${i}@example.org`;

interface Run {
  perSecond: number;
  cpuMsPerMessage: number;
}

async function measure(fn: () => Promise<void>): Promise<Run> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: M / seconds, cpuMsPerMessage: (cpu.user + cpu.system) / 1000 / M };
}

/** `inFlight` sends at once through `send`, like the pipeline's batch jobs. */
async function concurrently(send: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (let i = next++; i < M; i = next++) await send(i);
    }),
  );
}

type Client = { name: string; run: (port: number, round: number) => Promise<void> };

async function main() {
  const sink = forkBench('smtp-sink.ts');
  try {
    const { port } = await nextMessage<{ type: string; port: number }>(sink, 'ready', 30_000);
    const config = benchConfig(
      benchOverrides('redis://127.0.0.1:1', `smtp://127.0.0.1:${port}`, 'tocsin', { batchSize: 500, concurrency: 2, sendConcurrency: 10, maxConnections: 5 }),
    );
    const alert = newAlert(parseAlertMarkdown(readFileSync(new URL('../examples/kazakhstan-2022-01.md', import.meta.url), 'utf8')));
    const mime = new MimeTemplate(await renderAlertEmail(alert, config), { from: BENCH_FROM, listId: '<alerts.example.org>' });
    const personal = {
      to: 'reader@example.org',
      messageId: '<alert.1.1@bench.example.org>',
      unsubscribeUrl: 'https://alerts.example.org/u/x',
      preferencesUrl: 'https://alerts.example.org/p/x',
    };
    const wire = mime.message(personal).raw;
    const plain = mime.build(personal);
    print(
      `SMTP clients: ${M} messages of ${wire.length} bytes each, ${CONNECTIONS} connections, ${IN_FLIGHT} sends in flight where the client queues; ${ROUNDS} rounds`,
    );

    const clients: Client[] = [
      {
        name: 'raw sockets + PIPELINING (upper bound)',
        run: async (p, r) =>
          void (await rawBlast({ host: '127.0.0.1', port: p, connections: CONNECTIONS, count: M, from, recipient: (i) => rcpt('raw', r, i), wire })),
      },
      {
        name: 'Tocsin SmtpPool (pipelined, pre-stuffed)',
        run: async (p, r) => {
          const pool = new SmtpPool({
            ...parseSmtpUrl(`smtp://127.0.0.1:${p}`),
            maxConnections: CONNECTIONS,
            maxMessages: 100_000,
            timeouts: config.email.timeouts,
          });
          await concurrently((i) => pool.send({ from, to: rcpt('tocsin', r, i), raw: wire, dotStuffed: true }));
          pool.close();
        },
      },
      {
        name: 'Tocsin SmtpPool (stuffing each message)',
        run: async (p, r) => {
          const pool = new SmtpPool({
            ...parseSmtpUrl(`smtp://127.0.0.1:${p}`),
            maxConnections: CONNECTIONS,
            maxMessages: 100_000,
            timeouts: config.email.timeouts,
          });
          await concurrently((i) => pool.send({ from, to: rcpt('tocsin-stuff', r, i), raw: plain }));
          pool.close();
        },
      },
      {
        name: 'nodemailer SMTPConnection (one per connection, no pipelining)',
        run: async (p, r) => {
          const SMTPConnection = require('nodemailer/lib/smtp-connection') as new (o: object) => {
            connect(cb: (err?: Error) => void): void;
            send(envelope: object, message: Buffer, cb: (err: Error | null) => void): void;
            quit(): void;
          };
          let next = 0;
          await Promise.all(
            Array.from({ length: CONNECTIONS }, async () => {
              // With TCP_NODELAY, as Tocsin's nodemailer transport has it (else Nagle holds each final dot ~40 ms).
              const socket = connect({ host: '127.0.0.1', port: p, noDelay: true });
              await new Promise((resolve) => socket.once('connect', resolve));
              const connection = new SMTPConnection({ host: '127.0.0.1', port: p, ignoreTLS: true, connection: socket });
              await new Promise<void>((resolve, reject) => connection.connect((err) => (err ? reject(err) : resolve())));
              for (let i = next++; i < M; i = next++)
                await new Promise<void>((resolve, reject) =>
                  connection.send({ from, to: [rcpt('smtpconnection', r, i)] }, plain, (err) => (err ? reject(err) : resolve())),
                );
              connection.quit();
            }),
          );
        },
      },
      {
        name: 'nodemailer pool sendMail({ raw })',
        run: async (p, r) => {
          // Tocsin's nodemailer options (pool, TCP_NODELAY sockets), as `email.sender: nodemailer` uses them.
          const transporter = nodemailer.createTransport(smtpTransportOptions(config.email, `smtp://127.0.0.1:${p}`));
          await concurrently((i) => transporter.sendMail({ envelope: { from, to: [rcpt('nodemailer', r, i)] }, raw: plain }));
          transporter.close();
        },
      },
    ];

    if (process.env.EMAILJS_DIR) {
      const emailjs = (await import(pathToFileURL(`${process.env.EMAILJS_DIR}/node_modules/emailjs/dist/index.js`).href)) as {
        SMTPConnection: new (o: object) => {
          connect(cb: (err: Error | null) => void, port: number, host: string): void;
          ehlo_or_helo_if_needed(cb: (err: Error | null) => void): void;
          mail(cb: (err: Error | null) => void, from: string): void;
          rcpt(cb: (err: Error | null) => void, to: string): void;
          data(cb: (err: Error | null) => void): void;
          message(data: string): void;
          data_end(cb: (err: Error | null) => void): void;
          quit(cb: () => void): void;
        };
      };
      const text = wire.toString('latin1');
      clients.push({
        name: 'emailjs 5 SMTPConnection (one command at a time)',
        run: async (p, r) => {
          let next = 0;
          await Promise.all(
            Array.from({ length: CONNECTIONS }, async () => {
              const c = new emailjs.SMTPConnection({ host: '127.0.0.1', port: p, tls: false, ssl: false, timeout: 30_000 });
              const step = (fn: (cb: (err: Error | null) => void) => void) =>
                new Promise<void>((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));
              await step((cb) => c.connect(cb, p, '127.0.0.1'));
              // emailjs has no option for it; without TCP_NODELAY Nagle holds each final dot (~40 ms).
              (c as unknown as { sock?: { setNoDelay(on: boolean): void } }).sock?.setNoDelay(true);
              await step((cb) => c.ehlo_or_helo_if_needed(cb));
              for (let i = next++; i < M; i = next++) {
                await step((cb) => c.mail(cb, `<${from}>`));
                await step((cb) => c.rcpt(cb, `<${rcpt('emailjs', r, i)}>`));
                await step((cb) => c.data(cb));
                c.message(text);
                await step((cb) => c.data_end(cb));
              }
              c.quit(() => {});
            }),
          );
        },
      });
    }

    const results = new Map<string, Run[]>(clients.map((c) => [c.name, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const client of clients) {
        await request(sink, { type: 'reset' }, 'reset-done');
        const sinkCpu0 = cpuSecondsOf(sink.pid as number);
        const run = await measure(() => client.run(port, round));
        const counts = await request<{ type: string; unique: number; connections: number }>(sink, { type: 'counts' }, 'counts');
        if (counts.unique !== M) throw new Error(`${client.name}: the sink got ${counts.unique} distinct recipients, expected ${M}`);
        results.get(client.name)!.push(run);
        print(
          `  round ${round}  ${client.name.padEnd(62)} ${Math.round(run.perSecond).toString().padStart(6)} msg/s  ${run.cpuMsPerMessage.toFixed(3)} ms CPU/msg (sink ${(((cpuSecondsOf(sink.pid as number) - sinkCpu0) * 1000) / M).toFixed(3)})`,
        );
      }
    }
    print();
    print('medians');
    const raw = median(results.get(clients[0].name)!.map((r) => r.perSecond));
    for (const [name, runs] of results) {
      const rate = median(runs.map((r) => r.perSecond));
      print(
        `  ${name.padEnd(62)} ${Math.round(rate).toString().padStart(6)} msg/s  ${median(runs.map((r) => r.cpuMsPerMessage)).toFixed(3)} ms CPU/msg  ${(rate / raw).toFixed(2)}x raw`,
      );
    }
    print();
    await compareSigners(plain, wire, mime.message(personal).bodyHash);
  } finally {
    await stopChild(sink);
  }
}

/** CPU per signed message for each DKIM signer, RSA-2048, relaxed/relaxed. */
async function compareSigners(plain: Buffer, wire: Buffer, bodyHash: () => string) {
  const N = Number(args.signers);
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const tocsin = new DkimSigner([{ algorithm: 'rsa-sha256', domain: 'bench.example.org', selector: 'bench', key: createPrivateKey(pem), env: 'X' }]);
  const NodemailerDkim = require('nodemailer/lib/dkim') as new (o: object) => { sign(input: Buffer): Readable };
  const nodemailerDkim = new NodemailerDkim({ domainName: 'bench.example.org', keySelector: 'bench', privateKey: pem });
  const { dkimSign } = require('mailauth/lib/dkim/sign') as { dkimSign: (input: Buffer, o: object) => Promise<{ signatures: string }> };
  const signers: Array<[string, () => Promise<unknown>]> = [
    ['Tocsin DkimSigner, body hash from MimeTemplate', () => tocsin.sign(wire, { dotStuffed: true, bodyHash })],
    ['Tocsin DkimSigner, body hashed per message', () => tocsin.sign(wire, { dotStuffed: true })],
    ['nodemailer/lib/dkim (stream)', async () => Buffer.concat(await nodemailerDkim.sign(plain).toArray())],
    [
      'mailauth 4 dkimSign',
      () =>
        dkimSign(plain, {
          canonicalization: 'relaxed/relaxed',
          signatureData: [{ signingDomain: 'bench.example.org', selector: 'bench', privateKey: pem, algorithm: 'rsa-sha256' }],
        }),
    ],
  ];
  print(`DKIM signers: ${N} signatures each (RSA-2048, relaxed/relaxed), CPU per message (all threads)`);
  for (const [name, sign] of signers) {
    for (let i = 0; i < 20; i++) await sign(); // warm-up
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < N; i += 10) await Promise.all(Array.from({ length: 10 }, sign));
    const cpu = process.cpuUsage(cpu0);
    print(`  ${name.padEnd(50)} ${((cpu.user + cpu.system) / 1000 / N).toFixed(3)} ms CPU/msg  ${((performance.now() - t0) / N).toFixed(3)} ms wall/msg`);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
