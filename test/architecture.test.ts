import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// Rules of the code's shape that a reader relies on (issue 11): configuration is read in one
// place, so no module outside src/config/ reads the process environment.

function files(dir: URL): URL[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(new URL(`${e.name}/`, dir)) : e.name.endsWith('.ts') ? [new URL(e.name, dir)] : [],
  );
}

describe('code shape', () => {
  it('no module outside src/config/ reads process.env', () => {
    const offenders = [...files(new URL('../src/', import.meta.url)), ...files(new URL('../workers/', import.meta.url))]
      .filter((f) => !f.pathname.includes('/src/config/'))
      .filter((f) => /(?<![\w.])process\.env(?!\w)/.test(readFileSync(f, 'utf8').replace(/\/\/.*$/gm, '')))
      .map((f) => f.pathname.split('/work/main/').pop() ?? f.pathname);
    expect(offenders).toEqual([]);
  });
});
