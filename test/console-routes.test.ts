/**
 * The admin routes the console adds: the dashboard's figures (/admin/stats), the exported types and group limit,
 * a dynamic group's preview, and a finished job's manifest. Real HTTP against a server with the export worker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCohort } from './helpers/cohort.js';
import { runExport, startServer, type TestServer } from './helpers/server.js';

const ADMIN = 'console-admin-credential-routes-0123';
const T = 'console-routes';

describe('console admin routes', () => {
  let server: TestServer;
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${server.origin}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });

  beforeAll(async () => {
    server = await startServer({ auth: { adminToken: ADMIN }, export: { maxGroupMembers: 10 } });
    expect((await admin('/admin/tenants', { method: 'POST', body: JSON.stringify({ id: T }) })).status).toBe(201);
    await writeCohort(server.runtime.store.resources, T, 12, 2);
  });
  afterAll(async () => server?.close());

  it('previews the members criteria match now, and says when they pass the group limit', async () => {
    // writeCohort: odd-numbered patients are female (6 of 12).
    const women = await admin(`/admin/tenants/${T}/groups/preview`, { method: 'POST', body: JSON.stringify({ member_filter: ['Patient?gender=female'] }) });
    expect(women.status).toBe(200);
    const w = (await women.json()) as { count: number; over_limit: boolean; limit: number; members: string[] };
    expect(w).toMatchObject({ count: 6, over_limit: false, limit: 10 });
    expect(w.members).toEqual(['p00001', 'p00003', 'p00005', 'p00007', 'p00009', 'p00011']);
    const all = (await (await admin(`/admin/tenants/${T}/groups/preview`, { method: 'POST', body: JSON.stringify({ from_search: 'Observation?status=final' }) })).json()) as {
      count: number;
      over_limit: boolean;
    };
    expect(all).toMatchObject({ count: 10, over_limit: true });
    const bad = await admin(`/admin/tenants/${T}/groups/preview`, { method: 'POST', body: JSON.stringify({ member_filter: ['Patient?no-such-parameter=1'] }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    expect((await admin(`/admin/tenants/nope/groups/preview`, { method: 'POST', body: JSON.stringify({ member_filter: ['Patient?gender=female'] }) })).status).toBe(404);
    expect((await admin(`/admin/tenants/${T}/groups/preview`, { method: 'POST', body: '{}' })).status).toBe(400);
    expect((await fetch(`${server.origin}/admin/tenants/${T}/groups/preview`, { method: 'POST', body: '{}' })).status).toBe(401);
  });

  it('gives the exported types and the group member limit', async () => {
    const body = (await (await admin('/admin/export-types')).json()) as { types: string[]; maxGroupMembers: number };
    expect(body.maxGroupMembers).toBe(10);
    expect(body.types).toEqual([...body.types].sort());
    expect(body.types).toEqual(expect.arrayContaining(['Patient', 'Observation', 'Condition', 'Practitioner']));
  });

  it('counts a finished export on the dashboard and in the current hour of the throughput series, and serves its manifest', async () => {
    const before = (await (await admin(`/admin/stats?tenant=${T}`)).json()) as { exportsFinished: number; resourcesExported: number };
    expect(before).toMatchObject({ exportsFinished: 0, resourcesExported: 0 });
    const { token } = await server.client(T);
    const { manifest, statusUrl } = await runExport(server, token, `${server.base(T)}/Patient/$export?_type=Patient,Observation`);
    const stats = (await (await admin(`/admin/stats?tenant=${T}`)).json()) as {
      exportsRunning: number;
      exportsFinished: number;
      resourcesExported: number;
      bytesExported: number;
      throughput: { start: string; resources: number }[];
    };
    const exported = manifest.output.reduce((n, o) => n + (o.count ?? 0), 0);
    expect(exported).toBe(12 + 24);
    expect(stats).toMatchObject({ exportsRunning: 0, exportsFinished: 1, resourcesExported: exported });
    expect(stats.bytesExported).toBeGreaterThan(0);
    expect(stats.throughput).toHaveLength(24);
    const last = stats.throughput[23] as { start: string; resources: number };
    expect(Date.parse(last.start)).toBeLessThanOrEqual(Date.now());
    expect(Date.now() - Date.parse(last.start)).toBeLessThan(3_600_000);
    expect(last.resources).toBe(exported);
    const other = (await (await admin('/admin/stats?tenant=someone-else')).json()) as { exportsFinished: number };
    expect(other.exportsFinished).toBe(0);

    const jobId = statusUrl.split('/').pop() as string;
    const m = await admin(`/admin/jobs/${jobId}/manifest`);
    expect(m.status).toBe(200);
    const got = (await m.json()) as typeof manifest;
    expect(got.transactionTime).toBe(manifest.transactionTime);
    expect(got.output.map((o) => o.url).sort()).toEqual(manifest.output.map((o) => o.url).sort());
    expect((await admin('/admin/jobs/no-such-job/manifest')).status).toBe(404);
  });
});
