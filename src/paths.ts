import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The package root, found from this file whether it runs from src/ (tsx) or dist/src/ (built).
function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'templates'))) return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find the Tocsin package root above ${start}`);
  }
}

export const PACKAGE_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

/** Absolute path of a folder under templates/, with a trailing slash. */
export const templatesDir = (name: string): string => join(PACKAGE_ROOT, 'templates', name) + '/';
