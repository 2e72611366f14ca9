// Imports a directory into a SQLite store with the compiled code (as `flatfhir import` runs it) and prints
// {resources, rejected, seconds, maxRssBytes} as JSON. Plain JavaScript so that no TypeScript loader is in the
// measured process.
import { importPaths } from '../dist/import/importer.js';
import { prepareResource } from '../dist/fhir/prepare.js';
import { openSqliteStore } from '../dist/store/sqlite/index.js';

const [file, dir, tenant = 'bench', group] = process.argv.slice(2);
const store = openSqliteStore(file);
const started = process.hrtime.bigint();
const result = await importPaths({ resources: store.resources, tenant, paths: [dir], maxGroupMembers: 1_000_000 });
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
if (group === 'all-patients-group') {
  const members = [];
  for await (const batch of store.resources.scan({ tenant, type: 'Patient', until: Date.now() + 60_000 })) {
    for (const r of batch) members.push({ entity: { reference: `Patient/${r.id}` } });
  }
  await store.resources.writeBatch(tenant, [prepareResource({ resourceType: 'Group', id: 'all-patients', type: 'person', actual: true, member: members })]);
}
await store.close();
console.log(JSON.stringify({ resources: result.accepted, rejected: result.rejectedCount, seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
