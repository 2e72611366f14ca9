// A child-process entry, on the compiled build as `flatfhir serve` runs: keeps the young generation small (argv[2]
// `keep`) or not (`default`), starts a worker thread as the server starts its chunk threads, then allocates on the
// main thread and prints the size of its new space (MiB) as JSON.
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import { keepSmallYoungGeneration, startThread } from '../../dist/threads/start-thread.js';

if (process.argv[2] === 'keep') keepSmallYoungGeneration();
const thread = startThread(new URL('./idle-thread.mjs', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 4 } });
await new Promise((resolve) => thread.once('online', resolve));
await sleep(100);
// Short-lived objects with some survivors: what makes V8 grow a young generation it may grow.
const kept = [];
for (let i = 0; i < 2_000_000; i++) {
  const o = { i, s: `x${i}` };
  if (i % 100 === 0) kept.push(o);
}
const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
thread.postMessage('stop');
console.log(JSON.stringify({ newSpaceMb: (space?.space_size ?? 0) / 1024 / 1024, kept: kept.length }));
