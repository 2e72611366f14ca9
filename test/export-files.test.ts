import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPaths } from '../src/import/importer.js';
import { fixtureResources, GROUP_MEMBERS, writeNdjson } from './fixtures/population.js';
import { auth, runExport, startServer, type TestServer } from './helpers/server.js';

const TENANT = 'tenant-a';
let server: TestServer;

beforeAll(async () => {
  // Tiny bounds, so one type needs several files.
  server = await startServer({ export: { maxFileResources: 2, maxFileBytes: 100_000, chunkResources: 3 } });
  await seed(server);
});

async function seed(s: TestServer): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flatfhir-fixture-'));
  await writeNdjson(dir, fixtureResources());
  await importPaths({ resources: s.runtime.store.resources, tenant: TENANT, paths: [dir], maxGroupMembers: 100 });
  await rm(dir, { recursive: true });
}

afterAll(async () => {
  await server?.close();
});

describe('output files', () => {
  it('are bounded by the configured number of resources, never empty, one type each, named by type and sequence', async () => {
    const { token } = await server.client(TENANT);
    const { manifest, byType } = await runExport(server, token, `${server.base(TENANT)}/Group/grp-main/$export?_type=Patient,Observation`);
    const observationFiles = manifest.output.filter((o) => o.type === 'Observation');
    expect(observationFiles.length).toBeGreaterThanOrEqual(4);
    for (const o of manifest.output) {
      expect(o.count).toBeGreaterThan(0);
      expect(o.count).toBeLessThanOrEqual(2);
      expect(o.url).toMatch(new RegExp(`-${o.type}-\\d{4}-\\d+$`));
    }
    // all of them, exactly once, across files
    const ids = (byType.get('Observation') ?? []).map((o) => o['id']);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(GROUP_MEMBERS.length * 3 + 1);
  });

  it('hold patient data, so they and the store are 0600 files in 0700 folders', async () => {
    const { token } = await server.client(TENANT);
    const { statusUrl } = await runExport(server, token, `${server.base(TENANT)}/Group/grp-main/$export?_type=Patient`);
    const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;
    const jobDir = join(server.dataDir, 'exports', 'jobs', statusUrl.split('/').pop() as string);
    for (const dir of [join(server.dataDir, 'exports'), join(server.dataDir, 'exports', 'jobs'), jobDir, join(server.dataDir, 'keys')]) {
      expect(await mode(dir), dir).toBe(0o700);
    }
    const files = await readdir(jobDir);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(await mode(join(jobDir, f)), f).toBe(0o600);
    for (const f of (await readdir(server.dataDir)).filter((f) => f.startsWith('flatfhir.sqlite'))) {
      expect(await mode(join(server.dataDir, f)), f).toBe(0o600);
    }
  });

  it('expire with their job after the retention, and the sweeper deletes them and their storage', async () => {
    const server = await startServer({ export: { retentionSeconds: 2 } });
    await seed(server);
    const { token } = await server.client(TENANT);
    const { manifest, statusUrl } = await runExport(server, token, `${server.base(TENANT)}/Group/grp-main/$export?_type=Patient`);
    const jobId = statusUrl.split('/').pop() as string;
    const jobDir = join(server.dataDir, 'exports', 'jobs', jobId);
    expect((await readdir(jobDir)).length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 2100));
    // expired: gone for the client at once, before the sweeper runs
    expect((await fetch(statusUrl, { headers: auth(token) })).status).toBe(404);
    expect((await fetch(manifest.output[0]?.url as string, { headers: auth(token), redirect: 'manual' })).status).toBe(404);
    expect(await server.runtime.worker.sweep()).toBeGreaterThanOrEqual(1);
    expect(existsSync(jobDir)).toBe(false);
    await server.close();
  });
});
