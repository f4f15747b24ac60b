import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { defaultsYaml } from '../../config/defaults-file.js';
import { redactUrl } from '../../store/redis.js';
import { fail, print } from '../runtime.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('check the configuration, print defaults');
  config
    .command('check')
    .description('validate the configuration file and environment; print the result with secrets hidden')
    .action(() => {
      try {
        const c = loadConfig();
        const shown = {
          ...c,
          redis: { ...c.redis, url: redactUrl(c.redis.url) },
          email: { ...c.email, ...(c.email.smtpUrl ? { smtpUrl: redactUrl(c.email.smtpUrl) } : {}) },
          secrets: { adminToken: c.secrets.adminToken ? '(set)' : '(not set)', secret: c.secrets.secret ? '(set)' : '(not set)' },
        };
        print(JSON.stringify(shown, null, 2));
      } catch (err) {
        fail(err);
      }
    });
  config
    .command('defaults')
    .description('print every default as YAML (this is config/defaults.yaml)')
    .action(() => {
      process.stdout.write(defaultsYaml());
    });
}
