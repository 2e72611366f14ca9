// Imports a directory into a PostgreSQL schema with the compiled code (as `flatfhir import --database-url` runs
// it), adds the Group of all patients, and prints {resources, seconds} as JSON.
import { importPaths } from '../dist/import/importer.js';
import { prepareResource } from '../dist/fhir/prepare.js';
import { openPostgresStore } from '../dist/store/postgres/index.js';

const [url, schema, dir, tenant = 'bench'] = process.argv.slice(2);
const store = await openPostgresStore(url, { schema });
const started = process.hrtime.bigint();
const result = await importPaths({ resources: store.resources, tenant, paths: [dir], maxGroupMembers: 1_000_000 });
const members = [];
for await (const batch of store.resources.scan({ tenant, type: 'Patient', until: Date.now() + 60_000 })) {
  for (const r of batch) members.push({ entity: { reference: `Patient/${r.id}` } });
}
await store.resources.writeBatch(tenant, [prepareResource({ resourceType: 'Group', id: 'all-patients', type: 'person', actual: true, member: members })]);
await store.resources.refreshStatistics();
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await store.close();
console.log(JSON.stringify({ resources: result.accepted, seconds }));
