import { readdirSync, readFileSync } from 'node:fs';
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

  it('every TOCSIN_ERR_ code written anywhere in src/ is in the registry', () => {
    const registry = new Set(Object.values(errors).map((factory) => new (factory as unknown as new (...args: string[]) => { code: string })('x', 'y').code));
    const used = new Set<string>();
    const walk = (dir: URL) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const url = new URL(`${entry.name}${entry.isDirectory() ? '/' : ''}`, dir);
        if (entry.isDirectory()) walk(url);
        else if (entry.name.endsWith('.ts')) for (const m of readFileSync(url, 'utf8').matchAll(/TOCSIN_ERR_[A-Z_]+/g)) used.add(m[0]);
      }
    };
    walk(new URL('../src/', import.meta.url));
    walk(new URL('../workers/', import.meta.url));
    expect([...used].filter((code) => !registry.has(code)).sort()).toEqual([]);
  });
});
