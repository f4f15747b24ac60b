import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { defaultsYaml } from '../src/config/defaults-file.js';

const path = (p: string) => new URL(`../${p}`, import.meta.url).pathname;

describe('configuration', () => {
  it('config/defaults.yaml is exactly what the schema defaults to', () => {
    expect(readFileSync(path('config/defaults.yaml'), 'utf8')).toBe(defaultsYaml());
  });

  it('the annotated example is valid', () => {
    const config = loadConfig({ path: path('config/tocsin.example.yaml'), env: {} });
    expect(config.organisation.name).toBe('Example Watch');
    expect(config.webhooks[0]).toMatchObject({ id: 'partner-feed', secretEnv: 'PARTNER_FEED_SECRET', format: 'json' });
  });

  it('the documented environment variables override the file', () => {
    const config = loadConfig({
      path: path('config/tocsin.example.yaml'),
      env: {
        REDIS_URL: 'redis://cache:6380',
        TOCSIN_PREFIX: 'ngo',
        SMTP_URL: 'smtp://mail:25',
        MAIL_FROM: 'Alerts <a@ngo.example>',
        PORT: '9000',
        TOCSIN_PUBLIC_URL: 'https://alerts.ngo.example',
        TOCSIN_ADMIN_TOKEN: 'admin-token-0123456789',
        TOCSIN_SECRET: 's'.repeat(32),
      },
    });
    expect(config.redis).toEqual({ url: 'redis://cache:6380', prefix: 'ngo' });
    expect(config.email.smtpUrl).toBe('smtp://mail:25');
    expect(config.email.from).toBe('Alerts <a@ngo.example>');
    expect(config.http.port).toBe(9000);
    expect(config.http.publicUrl).toBe('https://alerts.ngo.example');
    expect(config.secrets).toEqual({ adminToken: 'admin-token-0123456789', secret: 's'.repeat(32) });
  });

  it.each([
    [{ PORT: 'eighty' }, /http\.port: Invalid input: expected number, received string/],
    [{ REDIS_URL: 'http://localhost' }, /redis\.url: must start with redis:\/\/ or rediss:\/\//],
    [{ TOCSIN_PREFIX: 'a b' }, /redis\.prefix: letters, digits/],
    [{ TOCSIN_SECRET: 'short' }, /secrets\.secret: must be at least 32 characters/],
    [{ TOCSIN_PUBLIC_URL: 'javascript:alert(1)' }, /http\.publicUrl/],
  ])('refuses %j naming the path', (env, message) => {
    expect(() => loadConfig({ path: '/dev/null', env })).toThrow(message);
  });
});
