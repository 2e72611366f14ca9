/**
 * The raw baseline: every stored row of an export's scope read from the store and written to one file, with
 * no planning, chunking, transforms or HTTP. Prints {resources, bytes, seconds} as JSON.
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXPORT_TYPES } from '../src/fhir/resource-types.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';

const [file, tenant] = process.argv.slice(2) as [string, string];
const store = openSqliteStore(file);
const target = join(tmpdir(), `flatfhir-raw-${process.pid}.ndjson`);
const out = createWriteStream(target);
const until = Date.now() + 1000;
const started = process.hrtime.bigint();
let resources = 0;
let bytes = 0;
for (const type of EXPORT_TYPES) {
  for await (const batch of store.resources.scan({ tenant, type, until })) {
    const text = `${batch.map((r) => r.json).join('\n')}\n`;
    resources += batch.length;
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
}
await new Promise<void>((r) => out.end(() => r()));
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await rm(target, { force: true });
await store.close();
console.log(JSON.stringify({ resources, bytes, seconds }));
