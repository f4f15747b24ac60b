import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errors } from '../src/errors.js';

describe('error registry', () => {
  it('README lists exactly the codes in src/errors.ts, with the same HTTP status', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Errors'), readme.indexOf('\n## ', readme.indexOf('## Errors') + 5));
    const documented = new Map([...section.matchAll(/^\| `(TOCSIN_ERR_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]));
    const registry = new Map(
      Object.values(errors).map((factory) => {
        const instance = new (factory as unknown as new (...args: string[]) => { code: string; statusCode: number })('x', 'y');
        return [instance.code, instance.statusCode];
      }),
    );
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(registry));
  });
});
