import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { z } from 'zod';
import { errors, formatZodIssues } from '../errors.js';
import { errorResponse, sendErrorJson, type ThrownError } from '../http/error-response.js';
import { Verifier, type VerifyAnswer, type VerifyInput } from '../signing/verify.js';
import type { PublicRouteOptions } from './route-options.js';
import { sendPublicPage } from './respond.js';
import { rendered } from './http-cache.js';
import { HTML, type PublicSite } from './site.js';
import { siteJsonLd } from './views.js';
import type { Config } from '../config/schema.js';

// GET/POST /verify (a page that works without scripts) and POST /api/verify (JSON). The input is
// an alert link on our own origin, a signed JSON with its signature, or a CAP message; README
// "Signatures and verification" describes the answers.

/** Largest input accepted: a CAP message or a pasted JSON is a few kilobytes; this is generous. */
export const VERIFY_MAX_BYTES = 256 * 1024;
const TEXT_MAX = 200_000;

export const verifyBodySchema = z
  .object({
    url: z.string().trim().min(1, 'must not be empty').max(2000, 'must be at most 2000 characters').optional(),
    json: z
      .union([z.string().trim().min(1, 'must not be empty').max(TEXT_MAX, `must be at most ${TEXT_MAX} characters`), z.record(z.string(), z.unknown())])
      .optional(),
    signature: z
      .union([
        z.string().trim().min(1, 'must not be empty').max(2000, 'must be at most 2000 characters'),
        z.object({ kid: z.string().max(200), alg: z.string().max(20).optional(), sig: z.string().max(200) }),
      ])
      .optional(),
    cap: z.string().trim().min(1, 'must not be empty').max(TEXT_MAX, `must be at most ${TEXT_MAX} characters`).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    const given = [b.url, b.json, b.cap].filter((v) => v !== undefined).length;
    if (given !== 1) ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of url, json (with signature) or cap' });
    if (b.signature !== undefined && b.json === undefined) ctx.addIssue({ code: 'custom', path: ['signature'], message: 'goes with json' });
  });

export function verifyInput(body: unknown): VerifyInput {
  const parsed = verifyBodySchema.safeParse(body ?? {});
  if (!parsed.success) throw errors.BODY_INVALID(formatZodIssues(parsed.error.issues, 'body'));
  const b = parsed.data;
  if (b.url !== undefined) return { url: b.url };
  if (b.cap !== undefined) return { cap: b.cap };
  return { json: b.json, ...(b.signature !== undefined ? { signature: b.signature } : {}) };
}

type FormValues = { url?: string; json?: string; signature?: string; cap?: string };

function renderVerify(config: Config, site: PublicSite, origin: string, data: { result?: VerifyAnswer; error?: string; values?: FormValues }, status = 200) {
  const canonical = site.urls.verify();
  const html = site.renderer.render('verify', {
    title: data.result ? data.result.headline : 'Check an alert',
    head: {
      description: 'Check whether an alert, link or CAP message really comes from us, and whether it was later corrected or retracted.',
      canonical,
      ogTitle: 'Check an alert',
      ogType: 'website',
      alternates: [{ type: 'application/jwk-set+json', title: 'Our signing keys', href: site.urls.jwks() }],
      jsonLd: siteJsonLd(config, site.urls, 'WebSite', 'Check an alert', canonical),
    },
    content: { ...data, origin, values: data.values ?? {}, jwksHref: site.urls.jwks() },
  });
  return rendered(html, HTML, new Date(), { status, headers: { 'cache-control': 'no-store' } });
}

export async function verifyRoutes(app: FastifyInstance, { ctx, site }: PublicRouteOptions, pages = true): Promise<void> {
  const verifier = new Verifier(ctx);
  const origin = new URL(ctx.config.http.publicUrl).origin;

  app.post('/api/verify', { bodyLimit: VERIFY_MAX_BYTES }, async (request, reply) => {
    const answer = await verifier.verify(verifyInput(request.body));
    return reply.header('cache-control', 'no-store').header('access-control-allow-origin', '*').send(answer);
  });

  if (!pages) return;
  // Errors before the handler runs (a file over the limit, a broken form) still answer as the page.
  app.setErrorHandler((error: ThrownError, request, reply) => {
    const e = errorResponse(error, request, { maxUploadBytes: VERIFY_MAX_BYTES });
    if (request.url.startsWith('/api/') || e.status >= 500) return sendErrorJson(reply, e);
    return sendPublicPage(ctx.config, request, reply, renderVerify(ctx.config, site, origin, { error: `${e.message} (${e.code})` }, e.status));
  });
  await app.register(multipart, { attachFieldsToBody: 'keyValues', limits: { fileSize: VERIFY_MAX_BYTES, fieldSize: VERIFY_MAX_BYTES, files: 1, fields: 8 } });

  const answer = async (request: FastifyRequest, reply: FastifyReply, values: FormValues, input: () => VerifyInput) => {
    try {
      const result = await verifier.verify(input());
      const page = renderVerify(ctx.config, site, origin, { result, values });
      return sendPublicPage(ctx.config, request, reply, { ...page, headers: { ...page.headers, 'cache-control': 'no-store' } });
    } catch (err) {
      const e = errorResponse(err as ThrownError, request, { maxUploadBytes: VERIFY_MAX_BYTES });
      if (e.status >= 500) throw err;
      return sendPublicPage(ctx.config, request, reply, renderVerify(ctx.config, site, origin, { error: `${e.message} (${e.code})`, values }, e.status));
    }
  };

  app.get<{ Querystring: { url?: string } }>('/verify', async (request, reply) => {
    const url = typeof request.query.url === 'string' ? request.query.url : undefined;
    if (url === undefined) return sendPublicPage(ctx.config, request, reply, renderVerify(ctx.config, site, origin, {}));
    return answer(request, reply, { url }, () => verifyInput({ url }));
  });

  app.post('/verify', { bodyLimit: VERIFY_MAX_BYTES }, async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined);
    const values: FormValues = { url: text(body.url), json: text(body.json), signature: text(body.signature), cap: text(body.cap) };
    const file = text(body.capFile);
    return answer(request, reply, values, () => {
      const check = text(body.check);
      if (check === 'url') return verifyInput({ url: values.url ?? '' });
      if (check === 'json') return verifyInput({ json: values.json ?? '', ...(values.signature?.trim() ? { signature: values.signature } : {}) });
      if (check === 'cap') return verifyInput({ cap: file?.trim() ? file : (values.cap ?? '') });
      throw errors.BODY_INVALID('check: press one of the three "Check" buttons');
    });
  });
}
