#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('flatfhir is not built: run `npm run build` (npm install does it for you).');
  process.exit(1);
}
// A server (or worker) process keeps its main thread's young generation small (see keepSmallYoungGeneration).
// Set before anything else loads.
if (process.argv[2] === 'serve' || process.argv[2] === 'worker') {
  const { keepSmallYoungGeneration } = await import(new URL('../dist/threads/start-thread.js', import.meta.url).href);
  keepSmallYoungGeneration();
}
await import(entry.href);
