#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';

// A server (or worker) process keeps its young generation at the initial size, two 1 MiB semi-spaces, rather than
// letting V8 grow it to 2 × 16 MiB as the modules load: its main thread answers HTTP with short-lived objects and
// gains nothing from a large nursery, whose pages stay resident once touched. Set before anything loads.
if (process.argv[2] === 'serve' || process.argv[2] === 'worker') v8.setFlagsFromString('--semi-space-growth-factor=1');

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('flatfhir is not built: run `npm run build` (npm install does it for you).');
  process.exit(1);
}
await import(entry.href);
