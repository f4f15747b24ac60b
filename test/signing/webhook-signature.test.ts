import { webcrypto } from 'node:crypto';
import canonicalize from 'canonicalize';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext, dropPrefix, waitFor } from '../helpers/context.js';
import { storeAlert } from '../helpers/fixtures.js';
import { startWorkers, type RunningWorkers } from '../../workers/run.js';
import { createAccountChannels } from '../../src/channels/accounts.js';
import { ALERT_SIGNATURE_HEADER } from '../../src/channels/webhook.js';
import { publishAlert } from '../../src/publish/publish.js';
import { correctAlert } from '../../src/publish/follow-up.js';
import type { Context } from '../../src/context.js';

// A webhook receiver checks the alert with the public JWK alone: the Tocsin-Alert-Signature
// header signs the canonical form (RFC 8785) of the body's `signed` member.

async function verifyHeader(jwks: { keys: Array<{ kid: string; kty: string; crv: string; x: string }> }, body: string, header: string): Promise<boolean> {
  const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const jwk = jwks.keys.find((k) => k.kid === parts.kid);
  if (!jwk || parts.alg !== 'EdDSA') return false;
  const key = await webcrypto.subtle.importKey('jwk', { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, { name: 'Ed25519' }, false, ['verify']);
  const signed = (JSON.parse(body) as { signed: unknown }).signed;
  return webcrypto.subtle.verify({ name: 'Ed25519' }, key, Buffer.from(parts.sig, 'base64url'), new TextEncoder().encode(canonicalize(signed)));
}

describe('webhooks carry the alert signature', () => {
  let ctx: Context;
  let receiver: FastifyInstance;
  let workers: RunningWorkers;
  const received: Array<{ body: string; header: string }> = [];

  beforeAll(async () => {
    receiver = Fastify();
    receiver.addContentTypeParser('application/json', { parseAs: 'string' }, (_r, body, done) => done(null, body));
    receiver.post('/hook', async (request) => {
      received.push({ body: request.body as string, header: String(request.headers[ALERT_SIGNATURE_HEADER]) });
      return { ok: true };
    });
    await receiver.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(receiver.server.address() as { port: number }).port}`;
    ctx = await testContext('webhook-sig', { email: { enabled: false }, webhooks: [{ id: 'partner', url: `${base}/hook` }] });
    workers = startWorkers(ctx, await createAccountChannels(ctx, {}));
  });
  afterAll(async () => {
    await workers?.close();
    await dropPrefix(ctx);
    await ctx.close();
    await receiver.close();
  });

  it('signs the published alert and its correction; a changed body fails', async () => {
    const jwks = ctx.signing.signer!.jwks();
    const alert = await storeAlert(ctx);
    await publishAlert(ctx, alert.id, 'tester');
    await waitFor(async () => received.length >= 1, 'the published alert to reach the webhook', 60_000);
    const { id: _id, status: _s, createdAt: _c, updatedAt: _u, ...fields } = alert;
    await correctAlert(ctx, alert.id, { ...fields, title: 'A corrected title' }, 'The title was wrong.', 'tester');
    await waitFor(async () => received.length >= 2, 'the correction to reach the webhook', 60_000);

    const [first, second] = received;
    expect(first.header).toMatch(/^kid=[A-Za-z0-9_-]{43},alg=EdDSA,sig=[A-Za-z0-9_-]{86}$/);
    expect(await verifyHeader(jwks, first.body, first.header)).toBe(true);
    expect(JSON.parse(first.body).signed).toMatchObject({ id: alert.id, version: 1, kind: 'original' });
    expect(await verifyHeader(jwks, second.body, second.header)).toBe(true);
    expect(JSON.parse(second.body)).toMatchObject({
      type: 'alert.corrected',
      signed: { version: 2, note: 'The title was wrong.', alert: { title: 'A corrected title' } },
    });

    const forged = JSON.parse(first.body) as { signed: { alert: { title: string } } };
    forged.signed.alert.title = 'A forged title';
    expect(await verifyHeader(jwks, JSON.stringify(forged), first.header)).toBe(false);
    // The signature is the one stored with the version and served next to its page.
    const stored = await ctx.versions.get(alert.id, 1);
    expect(first.header).toContain(`sig=${stored!.signature!.sig}`);
  });
});
