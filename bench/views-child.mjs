// One measurement of the views benchmark, with the compiled code and no TypeScript loader in the process:
//   raw  <db> <tenant> <type>                 the raw NDJSON export of a type (store scan → one file)
//   view <db> <tenant> <view name> <format> [threads]
//                                             a shipped view over the same rows (scan → parse → rows → file), on
//                                             `threads` evaluation threads (default 2, as `flatfhir view run`)
// Prints {resources, rows, bytes, seconds, cpuSeconds, maxRssBytes, engine, threads} as JSON (CPU: every thread's).
import { Buffer } from 'node:buffer';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileView } from '../dist/views/evaluate.js';
import { LIBRARY_VIEWS } from '../dist/views/library.js';
import { writeViewFile } from '../dist/views/parallel.js';
import { openSqliteStore } from '../dist/store/sqlite/index.js';

const [mode, file, tenant, what, format = 'csv', threads = '2'] = process.argv.slice(2);
const store = openSqliteStore(file);
const until = Date.now() + 1000;
const dir = await mkdtemp(join(tmpdir(), 'flatfhir-bench-views-'));
let result;
const cpuBefore = (process.resourceUsage().userCPUTime + process.resourceUsage().systemCPUTime) / 1e6;
const started = process.hrtime.bigint();
if (mode === 'raw') {
  const out = createWriteStream(join(dir, 'raw.ndjson'));
  let resources = 0;
  let bytes = 0;
  for await (const batch of store.resources.scan({ tenant, type: what, until })) {
    const text = `${batch.map((r) => r.json).join('\n')}\n`;
    resources += batch.length;
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r) => out.end(r));
  result = { resources, rows: resources, bytes };
} else {
  const definition = LIBRARY_VIEWS.find((v) => v.name === what);
  const view = compileView(definition);
  let resources = 0;
  const written = await writeViewFile(view, format, store.resources.scan({ tenant, type: view.resource, until }), join(dir, `out.${format}`), {
    threads: Number(threads),
    tempDir: dir,
    memoryLimit: '128MB',
    onResources: (n) => (resources += n),
  });
  result = { resources, rows: written.rows, bytes: written.bytes, engine: view.engine, threads: Number(threads) };
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await rm(dir, { recursive: true, force: true });
await store.close();
const usage = process.resourceUsage();
const cpuSeconds = (usage.userCPUTime + usage.systemCPUTime) / 1e6 - cpuBefore;
console.log(JSON.stringify({ ...result, seconds, cpuSeconds, maxRssBytes: usage.maxRSS * 1024 }));
