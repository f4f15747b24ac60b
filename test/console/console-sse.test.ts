import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedIn, startHarness, TOKENS, type Harness } from './harness.js';
import { seedSubscribers, storeAlert } from '../helpers/fixtures.js';
import type { ProgressEvent } from '../../src/console/events-route.js';
import type { MailTransport } from '../../src/channels/email/transport.js';

/** Holds sends to the second half of the subscribers until released, so "mid-publish" is a state the test can see. */
function gate(held: (to: string) => boolean) {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => (release = resolve));
  return {
    release,
    wrap: (transport: MailTransport): MailTransport => ({
      ...transport,
      async send(message) {
        if (held(message.to)) await opened;
        return transport.send(message);
      },
    }),
  };
}

/** Reads server-sent events from a fetch response, one parsed `progress` event at a time. */
async function* progressEvents(response: Response): AsyncGenerator<ProgressEvent> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const lines = block.split('\n');
      if (lines.some((l) => l === 'event: progress')) {
        yield JSON.parse(
          lines
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n'),
        ) as ProgressEvent;
      }
    }
  }
}

describe('the live progress stream', () => {
  let h: Harness;
  const hold = gate((to) => Number(/^reader(\d+)@/.exec(to)?.[1]) >= 20);

  beforeAll(async () => {
    h = await startHarness('console-sse', { workers: true, wrapTransport: hold.wrap });
    await seedSubscribers(h.ctx, 40, () => ({ countries: ['KZ'], minLevel: 'all' }));
    h.smtp.behaviour.rejectRecipient = (a) => (a === 'reader7@example.org' ? { code: 550, message: '5.1.1 no such user' } : undefined);
  });
  afterAll(async () => {
    hold.release();
    await h.close();
  });

  it('reports the same counts as the ledger, as delivery happens, until every delivery has an outcome', async () => {
    const client = await signedIn(h.baseUrl, TOKENS.publisher, 'Pat');
    const alert = await storeAlert(h.ctx);
    const abort = new AbortController();
    // A stream that stops reporting fails the test in 30 s rather than hanging it.
    const giveUp = setTimeout(() => abort.abort(), 30_000);
    const response = await fetch(`${h.baseUrl}/console/alerts/${alert.id}/events`, { headers: { cookie: client.cookieHeader }, signal: abort.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = progressEvents(response);

    const first = (await events.next()).value as ProgressEvent;
    expect(first.status).toBe('draft');
    expect(first.channels).toEqual([]);

    const csrf = await client.csrf(`/console/alerts/${alert.id}/publish`);
    const published = await client.request(`/console/alerts/${alert.id}/publish`, { method: 'POST', form: { _csrf: csrf, confirm: 'yes' } });
    expect(published.status).toBe(303);

    // While the second half is held: events show the alert publishing, part of the email sent,
    // and once delivery stands still, exactly the ledger's counts at that moment.
    const seen: ProgressEvent[] = [first];
    let midway: ProgressEvent | undefined;
    // (next() by hand: leaving a for-await loop would end the generator.)
    for (let r = await events.next(); !r.done; r = await events.next()) {
      const event = r.value;
      seen.push(event);
      const email = event.counts.channels.email;
      // The first half (reader7 refused) all have an outcome; the held half cannot have one.
      if (event.status !== 'publishing' || !email || email.sent + email.failed < 20) continue;
      const ledger = await h.ctx.ledger.counts(alert.id);
      if (JSON.stringify(ledger) === JSON.stringify(event.counts)) {
        midway = event;
        break;
      }
    }
    expect(midway?.counts.channels.email).toMatchObject({ total: 40, sent: 19, failed: 1 });
    const mid = midway!.channels.find((c) => c.channel === 'email')!;
    expect(mid.done).toBe(20);
    expect(mid.percent).toBe(50);
    expect(mid.etaText).not.toBe('done');
    expect(midway!.complete).toBe(false);

    hold.release();
    for (let r = await events.next(); !r.done; r = await events.next()) {
      seen.push(r.value);
      if (r.value.complete && r.value.status === 'published') break;
    }
    abort.abort();
    clearTimeout(giveUp);
    const last = seen[seen.length - 1];
    expect(last.counts).toEqual(await h.ctx.ledger.counts(alert.id));
    expect(last.counts.channels.email).toMatchObject({ total: 40, sent: 39, failed: 1, queued: 0, sending: 0 });
    expect(last.counts.channels.partners).toMatchObject({ total: 1, sent: 1 });

    // Every event is internally consistent, and progress never goes backwards.
    const best: Record<string, number> = {};
    for (const event of seen) {
      for (const c of event.channels) {
        expect(c.done).toBe(c.sent + c.failed + c.unknown + c.skipped);
        expect(c.percent).toBe(c.total ? Math.floor((c.done * 100) / c.total) : 0);
        expect(c.done).toBeGreaterThanOrEqual(best[c.channel] ?? 0);
        best[c.channel] = c.done;
      }
    }
    expect(last.channels.map((c) => [c.channel, c.percent, c.etaText])).toEqual([
      ['email', 100, 'done'],
      ['partners', 100, 'done'],
    ]);
  });

  it('answers 404 for an unknown alert and 401 without a session, before any stream starts', async () => {
    const client = await signedIn(h.baseUrl, TOKENS.viewer, 'Vera');
    const missing = await fetch(`${h.baseUrl}/console/alerts/01ARZ3NDEKTSV4RRFFQ69G5FAV/events`, {
      headers: { cookie: client.cookieHeader, accept: 'application/json' },
    });
    expect(missing.status).toBe(404);
    expect((await missing.json()).code).toBe('TOCSIN_ERR_ALERT_NOT_FOUND');
    const anonymous = await fetch(`${h.baseUrl}/console/alerts/01ARZ3NDEKTSV4RRFFQ69G5FAV/events`);
    expect(anonymous.status).toBe(401);
  });
});
