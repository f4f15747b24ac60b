import { stringify } from 'yaml';
import { configSchema } from './schema.js';

/** config/defaults.yaml, generated from the schema so the two cannot drift (test/config.test.ts). */
export function defaultsYaml(): string {
  const { secrets: _secrets, ...defaults } = configSchema.parse({});
  return (
    '# Every default, generated from src/config/schema.ts by `tocsin config defaults`.\n' +
    '# Do not edit; copy config/tocsin.example.yaml to config/tocsin.yaml and change what you need.\n' +
    stringify(defaults)
  );
}
