import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// Docker cannot run on the CI machine, so the compose file and the Dockerfile are checked as
// text: what makes `docker compose stop` drain Tocsin, restart it, and report its health.

const read = (name: string) => readFileSync(new URL(`../../${name}`, import.meta.url), 'utf8');
const compose = parse(read('docker-compose.yml')) as { services: Record<string, Record<string, unknown>> };
const dockerfile = read('Dockerfile');

describe('docker-compose.yml and the Dockerfile', () => {
  const app = compose.services.app;

  it('runs a built image with node as the main process, not `sh -c "npm ci && …"`', () => {
    expect(app.build).toBe('.');
    expect(app.command).toBeUndefined(); // the image's CMD
    expect(JSON.stringify(app)).not.toMatch(/npm ci|sh -c/);
    expect(app.init).toBe(true);
    // The Dockerfile: multi-stage, dependencies installed from the lock file, compiled, dev ones pruned.
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^RUN npm ci\b/m);
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    // Exec form: node receives SIGTERM itself (a shell form would make sh the parent).
    const cmd = /^CMD (.+)$/m.exec(dockerfile)?.[1];
    expect(JSON.parse(cmd ?? 'null')).toEqual(['node', 'bin/tocsin.js', 'start']);
    expect(dockerfile).toMatch(/^USER node$/m);
  });

  it('gives the drain its 60 s before Docker kills, and restarts Tocsin if it dies', () => {
    const grace = /^(\d+)s$/.exec(String(app.stop_grace_period));
    expect(Number(grace?.[1])).toBeGreaterThan(60);
    expect(app.restart).toBe('unless-stopped');
    expect(compose.services.redis.restart).toBe('unless-stopped');
  });

  it('pins the Mailpit image to a version', () => {
    expect(compose.services.mailpit.image).toMatch(/^axllent\/mailpit:v\d+\.\d+\.\d+$/);
  });

  it("has a health check that asks Tocsin's /healthz, and the check's command works", async () => {
    const health = app.healthcheck as { test: string[] };
    expect(health.test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
    const script = health.test[3];
    expect(script).toContain('http://127.0.0.1:8080/healthz');

    // The same script, pointed at a local server: exit 0 on 200, 1 on 503 or no answer.
    let healthy = true;
    const server = Fastify();
    server.get('/healthz', async (_req, reply) => (healthy ? { ok: true } : reply.code(503).send({ ok: false })));
    const url = await server.listen({ port: 0, host: '127.0.0.1' });
    const run = async (target: string) =>
      promisify(execFile)(process.execPath, ['-e', script.replace('http://127.0.0.1:8080', target)], { timeout: 20_000 })
        .then(() => 0)
        .catch((err: { code?: number }) => err.code ?? -1);
    try {
      expect(await run(url.replace('localhost', '127.0.0.1'))).toBe(0);
      healthy = false;
      expect(await run(url.replace('localhost', '127.0.0.1'))).toBe(1);
    } finally {
      await server.close();
    }
    expect(await run(url.replace('localhost', '127.0.0.1'))).toBe(1); // nothing listening
  });
});
