/**
 * FLATFHIR_VIEWS_DUCKDB_MEMORY_LIMIT reaches the DuckDB that writes the Parquet files of `$sql-export` chunks,
 * whether they run on the export's worker threads or on the worker's own thread: far too small a limit fails the
 * Parquet export (and only it).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importPaths } from '../../src/import/importer.js';
import { auth, startServer, type TestServer } from '../helpers/server.js';

const TENANT = 'views-duckdb';
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'synthea-100');
const servers: TestServer[] = [];
afterAll(async () => Promise.all(servers.map((s) => s.close())));

async function sqlExport(server: TestServer, format: string): Promise<Response> {
  const { token } = await server.client(TENANT);
  const kick = await fetch(`${server.base(TENANT)}/$sql-export`, {
    method: 'POST',
    headers: { ...auth(token), 'content-type': 'application/fhir+json', prefer: 'respond-async' },
    body: JSON.stringify({
      resourceType: 'Parameters',
      parameter: [
        { name: 'subject', part: [{ name: 'subjectReference', valueReference: { reference: 'ViewDefinition/patient_demographics' } }] },
        { name: '_format', valueCode: format },
      ],
    }),
  });
  expect(kick.status, await kick.clone().text()).toBe(202);
  const statusUrl = kick.headers.get('content-location') as string;
  for (let i = 0; i < 600; i++) {
    const r = await fetch(statusUrl, { headers: auth(token), redirect: 'manual' });
    await r.arrayBuffer();
    if (r.status === 303) break;
    expect(r.status).toBe(202);
    await new Promise((res) => setTimeout(res, 100));
  }
  return fetch(`${statusUrl}/result`, { headers: auth(token) });
}

describe('$sql-export with a DuckDB memory limit', () => {
  for (const threads of [1, 0]) {
    it(`applies the configured limit to Parquet chunks (export threads: ${threads})`, async () => {
      const server = await startServer({ views: { duckdbMemoryLimit: '1MB' }, export: { threads, maxChunkAttempts: 1 } });
      servers.push(server);
      const imported = await importPaths({ resources: server.runtime.store.resources, tenant: TENANT, paths: [join(FIXTURE, 'Patient.ndjson.gz')], maxGroupMembers: 1000 });
      expect(imported.rejectedCount).toBe(0);

      const csv = await sqlExport(server, 'csv');
      expect(csv.status).toBe(200);
      const parquet = await sqlExport(server, 'parquet');
      expect(parquet.status).toBe(500);
      expect(((await parquet.json()) as { issue: { diagnostics: string }[] }).issue[0]?.diagnostics).toMatch(/^The export failed: /);
    });
  }
});
