#!/usr/bin/env node
// Runs the compiled CLI in dist/. There is no TypeScript compiler at run time: `npm install`
// builds dist/ (the `prepare` script), and `npm run build` rebuilds it after a change.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
if (!existsSync(compiled)) {
  process.stderr.write(`tocsin: ${compiled} is missing. Build it with \`npm run build\` (npm install does so itself).\n`);
  process.exit(1);
}
await import(pathToFileURL(compiled).href);
