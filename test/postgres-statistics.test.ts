/**
 * PostgreSQL after a bulk import: the first export must not be far slower than the second (stale planner
 * statistics once made it quadratic, hours instead of seconds). A regression guard with a generous factor,
 * not a speed measurement.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPaths } from '../src/import/importer.js';
import { rm } from 'node:fs/promises';
import pg from 'pg';
import { ndjsonSink, writeCohort } from './helpers/cohort.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';
import { runExport, startServer, type TestServer } from './helpers/server.js';

const TENANT = 'stats-tenant';
const PATIENTS = 3000;
const schema = freshSchema('stats');
let server: TestServer;

beforeAll(async () => {
  server = await startServer({ databaseUrl: `${TEST_DATABASE_URL}?schema=${schema.name}`, export: { threads: 0 } });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await schema.drop();
});

describe('PostgreSQL statistics', () => {
  it('exports as fast the first time after a bulk import as the second time', async () => {
    // The cohort is written as files and imported as a user would (the import refreshes the statistics).
    const { sink, dir } = await ndjsonSink();
    await writeCohort(sink, TENANT, PATIENTS, 3, true);
    const imported = await importPaths({ resources: server.runtime.store.resources, tenant: TENANT, paths: [dir], maxGroupMembers: 20_000 });
    await rm(dir, { recursive: true, force: true });
    expect(imported.accepted).toBeGreaterThan(PATIENTS * 6);
    const { token } = await server.client(TENANT);
    const url = `${server.base(TENANT)}/Group/cohort/$export?_type=Patient,Observation,Condition,Practitioner,Provenance`;
    const timed = async () => {
      const started = Date.now();
      const result = await runExport(server, token, url);
      // Progress counts what is downloaded, referenced resources and Provenance included: at the end the job's
      // total equals its done count and the manifest's lines.
      const job = await server.runtime.store.jobs.getJob(result.statusUrl.split('/').pop() as string);
      const lines = result.manifest.output.reduce((n, o) => n + (o.count ?? 0), 0);
      expect([job?.doneResources, job?.totalResources]).toEqual([lines, lines]);
      await fetch(result.statusUrl, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      return { ms: Date.now() - started, provenance: result.byType.get('Provenance')?.length, practitioners: result.byType.get('Practitioner')?.length };
    };
    const first = await timed();
    const second = await timed();
    expect(first.provenance).toBe(PATIENTS);
    expect(first.practitioners).toBe(PATIENTS / 50);
    expect(second.provenance).toBe(PATIENTS);
    expect(first.ms).toBeLessThan(5 * second.ms + 5000);
  }, 300_000);

  it('plans each export on fresh statistics, whatever path wrote the data', async () => {
    // A second tenant written straight through the store (no import, so no ANALYZE at its end): the statistics
    // describe only the first tenant, so every estimate for this one is a single row. Planning the job refreshes
    // them; without that, the chunk queries joined the whole type to each member (minutes instead of seconds).
    const tenant = 'stats-second';
    const patients = 2000;
    await writeCohort(server.runtime.store.resources, tenant, patients, 3, true);
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    const stale = async (): Promise<string[]> => {
      // The statistics collector publishes counts within a second of a commit.
      await new Promise((r) => setTimeout(r, 1500));
      const rows = await admin.query<{ relname: string }>(
        `SELECT relname FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = ANY($2::text[])
           AND n_mod_since_analyze > GREATEST(1000, n_live_tup / 10) ORDER BY relname`,
        [schema.name, ['resources', 'resource_history', 'compartment', 'refs', 'search_values']],
      );
      return rows.rows.map((r) => r.relname);
    };
    try {
      expect(await stale()).toEqual(expect.arrayContaining(['compartment', 'refs', 'resources']));
      const { token } = await server.client(tenant);
      const result = await runExport(server, token, `${server.base(tenant)}/Group/cohort/$export?_type=Patient,Observation,Condition,Practitioner,Provenance`);
      expect(result.byType.get('Patient')?.length).toBe(patients);
      expect(result.byType.get('Observation')?.length).toBe(patients * 3);
      expect(result.byType.get('Provenance')?.length).toBe(patients);
      // Refreshed when the job was planned.
      expect(await stale()).toEqual([]);
    } finally {
      await admin.end();
    }
  }, 300_000);
});
