import type { FastifyInstance } from 'fastify';
import { errors } from '../errors.js';
import type { PublicRouteOptions } from './route-options.js';

// The public keys: /.well-known/jwks.json (RFC 7517 JWK set: the current Ed25519 key first, then
// retired ones, so signatures made before a rotation still verify) and the CAP key as PEM.
// Cached for an hour: a new key appears within that time of a rotation; old ones stay listed.

const CACHE = 'public, max-age=3600';

export async function wellKnownRoutes(app: FastifyInstance, { ctx }: PublicRouteOptions): Promise<void> {
  const headers = { 'cache-control': CACHE, 'access-control-allow-origin': '*', 'x-content-type-options': 'nosniff' };
  app.get('/.well-known/jwks.json', async (_request, reply) => {
    const signer = ctx.signing.signer;
    if (!signer) throw errors.SIGNING_OFF();
    return reply.headers(headers).type('application/jwk-set+json').send(JSON.stringify(signer.jwks()));
  });
  app.get('/.well-known/tocsin-cap-key.pem', async (_request, reply) => {
    const cap = ctx.signing.cap;
    if (!cap) throw errors.SIGNING_OFF();
    return reply.headers(headers).type('application/x-pem-file').send(cap.publicPem);
  });
}
