/**
 * PostgreSQL after a bulk import: the first export must not be far slower than the second (stale planner
 * statistics once made it quadratic, hours instead of seconds). A regression guard with a generous factor,
 * not a speed measurement.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPaths } from '../src/import/importer.js';
import { rm } from 'node:fs/promises';
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
});
