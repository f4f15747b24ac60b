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
    expect(config.redis).toEqual({ url: 'redis://cache:6380', prefix: 'ngo', waitTimeoutMs: 500 });
    expect(config.email.smtpUrl).toBe('smtp://mail:25');
    expect(config.email.from).toBe('Alerts <a@ngo.example>');
    expect(config.http.port).toBe(9000);
    expect(config.http.publicUrl).toBe('https://alerts.ngo.example');
    expect(config.secrets).toEqual({ adminToken: 'admin-token-0123456789', secret: 's'.repeat(32) });
  });

  it('reads a cluster and a sentinel from the environment', () => {
    const cluster = loadConfig({ path: '/dev/null', env: { REDIS_CLUSTER_NODES: 'r1:7000, r2:7001,r3:7002' } });
    expect(cluster.redis.cluster).toEqual({ nodes: ['r1:7000', 'r2:7001', 'r3:7002'] });
    const sentinel = loadConfig({ path: '/dev/null', env: { REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_NAME: 'alerts' } });
    expect(sentinel.redis.sentinel).toEqual({ sentinels: ['s1:26379', 's2:26379'], name: 'alerts' });
  });

  it.each([
    [{ PORT: 'eighty' }, /http\.port: Invalid input: expected number, received string/],
    [{ REDIS_URL: 'http://localhost' }, /redis\.url: must start with redis:\/\/ or rediss:\/\//],
    [{ TOCSIN_PREFIX: 'a b' }, /redis\.prefix: letters, digits/],
    [{ TOCSIN_SECRET: 'short' }, /secrets\.secret: must be at least 32 characters/],
    [{ TOCSIN_PUBLIC_URL: 'javascript:alert(1)' }, /http\.publicUrl/],
    [{ REDIS_CLUSTER_NODES: 'a:1,nope' }, /redis\.cluster\.nodes\.1: must be host:port/],
    [{ REDIS_SENTINEL_NAME: 'mymaster' }, /redis\.sentinel\.sentinels/],
    [{ REDIS_CLUSTER_NODES: 'a:1', REDIS_SENTINELS: 'b:2' }, /set redis\.cluster or redis\.sentinel, not both/],
  ])('refuses %j naming the path', (env, message) => {
    expect(() => loadConfig({ path: '/dev/null', env })).toThrow(message);
  });
});

describe('line breaks and control characters in configuration values', () => {
  const smuggled = 'Alerts <alerts@ngo.example>\r\nBcc: everyone@elsewhere.example';

  it.each([
    [{ MAIL_FROM: smuggled }, 'email.from (from MAIL_FROM): must not contain line breaks or other control characters'],
    [{ MAIL_FROM: 'Alerts <alerts@ngo.example>\n' }, 'email.from (from MAIL_FROM)'],
    [{ TOCSIN_PUBLIC_URL: 'https://alerts.ngo.example/\r\nBcc: x@y.example' }, 'http.publicUrl (from TOCSIN_PUBLIC_URL)'],
    [{ TOCSIN_ADMIN_TOKEN: 'admin-token-0123456789\n' }, 'secrets.adminToken (from TOCSIN_ADMIN_TOKEN)'],
  ])('refuses %j from the environment, naming the field and the variable', (env, message) => {
    expect(() => loadConfig({ path: '/dev/null', env })).toThrow(message);
  });

  it.each([
    [{ organisation: { name: 'Example\r\nWatch' } }, 'organisation.name: must not contain line breaks'],
    [{ organisation: { name: 'Example\tWatch' } }, 'organisation.name: must not contain line breaks or other control characters'],
    [{ organisation: { name: 'Example\u2028Watch' } }, 'organisation.name'],
    [{ email: { from: 'Alerts <a@ngo.example>\u0085' } }, 'email.from'],
    [{ webhooks: [{ id: 'feed', url: 'https://partner.example/hook\r\nX-Injected: 1' }] }, 'webhooks.0.url'],
    [{ notify: { targets: [{ url: 'https://ops.example/\nstatus' }] } }, 'notify.targets.0.url'],
    [{ social: [{ id: 'masto', provider: 'mastodon', options: { userAgent: 'Tocsin\r\nX: y' } }] }, 'social.0.options.userAgent'],
    [{ console: { tokens: [{ env: 'ALICE_TOKEN', role: 'publisher', name: 'Alice\nExample' }] } }, 'console.tokens.0.name'],
  ])('refuses %j in the file, naming the field', (overrides, message) => {
    expect(() => loadConfig({ path: '/dev/null', env: {}, overrides })).toThrow(message);
  });

  it('refuses a named environment variable whose value carries a line break, without echoing it', () => {
    const run = () =>
      loadConfig({
        path: '/dev/null',
        env: { TOCSIN_SLACK_STATUS_URL: 'https://hooks.slack.example/T000/B000/secret\n', MASTODON_TOKEN: 'abc\r\ndef' },
        overrides: {
          notify: { targets: [{ urlEnv: 'TOCSIN_SLACK_STATUS_URL', format: 'slack' }] },
          social: [{ id: 'masto', provider: 'mastodon', credentialsEnv: { accessToken: 'MASTODON_TOKEN' } }],
        },
      });
    expect(run).toThrow('notify.targets.0.urlEnv: the value of TOCSIN_SLACK_STATUS_URL must not contain line breaks');
    expect(run).toThrow('social.0.credentialsEnv.accessToken: the value of MASTODON_TOKEN must not contain line breaks');
    expect(run).not.toThrow(/secret|abc/);
  });

  it('lets a postal address span lines, but nothing else through', () => {
    const config = loadConfig({ path: '/dev/null', env: {}, overrides: { organisation: { postalAddress: '1 Example Street\nSpringfield' } } });
    expect(config.organisation.postalAddress).toBe('1 Example Street\nSpringfield');
    expect(() => loadConfig({ path: '/dev/null', env: {}, overrides: { organisation: { postalAddress: '1 Example Street\r\nSpringfield' } } })).toThrow(
      'organisation.postalAddress: must not contain control characters other than line breaks',
    );
  });
});
