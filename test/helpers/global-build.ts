import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Tests that start `tocsin` run the compiled build in dist/, exactly what `npm start` runs. It is
// built here, once per test run, when it is missing or older than any source file, and always
// in CI (CI=true). The new build is made beside dist/ and swapped in, so a test run going on in
// another terminal never sees a half-written dist/.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = join(ROOT, 'dist');
const STAMP = join(DIST, 'src', 'cli', 'main.js');
const SOURCES = ['src', 'workers', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

function newestSource(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestSource(join(path, entry)));
  return newest;
}

export function distIsStale(): boolean {
  if (!existsSync(STAMP)) return true;
  const built = statSync(STAMP).mtimeMs;
  return SOURCES.some((s) => existsSync(join(ROOT, s)) && newestSource(join(ROOT, s)) > built);
}

export function setup(): void {
  if (!process.env.CI && !distIsStale()) return;
  const started = Date.now();
  const out = mkdtempSync(join(ROOT, '.dist-'));
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const old = `${out}-old`;
    if (existsSync(DIST)) renameSync(DIST, old);
    renameSync(out, DIST);
    rmSync(old, { recursive: true, force: true });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  console.log(`built dist/ for the tests in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
