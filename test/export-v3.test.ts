/**
 * Bulk Data v3 (STU3) options of the export, checked against the synthea-100 population: expectations are
 * computed here from the fixture files themselves (references read from the JSON), not from the server's code.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPaths } from '../src/import/importer.js';
import { auth, download, KICKOFF_HEADERS, parseNdjson, startServer, type TestServer, waitForJob } from './helpers/server.js';

const TENANT = 'v3-tenant';
const SYNTHEA = join(import.meta.dirname, 'fixtures', 'synthea-100');
/** A subset of synthea-100 small enough for a quick test: 100 patients and about 6,000 resources. */
const TYPES = ['Patient', 'Condition', 'AllergyIntolerance', 'Immunization', 'CareTeam', 'Device', 'Practitioner', 'Organization'];

type R = Record<string, unknown> & { resourceType: string; id: string };
const fixture = new Map<string, R[]>(
  TYPES.map((t) => [t, parseNdjson(gunzipSync(readFileSync(join(SYNTHEA, `${t}.ndjson.gz`))).toString('utf8')) as R[]]),
);

let server: TestServer;
let token: string;
let base: string;

beforeAll(async () => {
  server = await startServer();
  const result = await importPaths({
    resources: server.runtime.store.resources,
    tenant: TENANT,
    paths: TYPES.map((t) => join(SYNTHEA, `${t}.ndjson.gz`)),
    maxGroupMembers: 100,
  });
  expect(result.rejectedCount).toBe(0);
  token = (await server.client(TENANT)).token;
  base = server.base(TENANT);
}, 60_000);

afterAll(async () => {
  await server?.close();
});

const kickoff = async (url: string, headers: Record<string, string> = {}, init: RequestInit = {}): Promise<Response> =>
  fetch(url, { ...init, headers: { ...KICKOFF_HEADERS, ...auth(token), ...headers } });

/** Polls a status URL of a job kicked off with separate-export-status until X-Export-Status is no longer 202. */
async function waitSeparate(statusUrl: string): Promise<Response> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await fetch(statusUrl, { headers: auth(token) });
    if (r.headers.get('x-export-status') !== '202 Accepted' || Date.now() > deadline) return r;
    await r.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const ids = (list: R[]): string[] => list.map((r) => r.id).sort();

describe('Prefer: respond-async, separate-export-status', () => {
  it('applies the preference at kick-off; status answers 200 with the job status in X-Export-Status', async () => {
    const kick = await kickoff(`${base}/Patient/$export?_type=Patient,AllergyIntolerance`, { prefer: 'respond-async, separate-export-status' });
    expect(kick.status).toBe(202);
    const applied = (kick.headers.get('preference-applied') ?? '').split(',').map((v) => v.trim()).sort();
    expect(applied).toEqual(['respond-async', 'separate-export-status']);
    const statusUrl = kick.headers.get('content-location') as string;
    // The first poll comes while the job is in progress (it shows so for a second at least).
    const first = await fetch(statusUrl, { headers: auth(token) });
    await first.arrayBuffer();
    expect(first.status).toBe(200);
    expect(first.headers.get('x-export-status')).toBe('202 Accepted');
    expect(first.headers.get('retry-after')).toMatch(/^\d+$/);
    const done = await waitSeparate(statusUrl);
    expect(done.status).toBe(200);
    expect(done.headers.get('x-export-status')).toBe('200 OK');
    const manifest = (await done.json()) as { output: { type: string; url: string }[] };
    const allergies: R[] = [];
    for (const o of manifest.output.filter((f) => f.type === 'AllergyIntolerance')) allergies.push(...(parseNdjson((await download(o.url, token)).text) as R[]));
    expect(ids(allergies)).toEqual(ids(fixture.get('AllergyIntolerance') ?? []));
  });

  it('is accepted as a repeated Prefer header too', async () => {
    const headers = new Headers({ ...KICKOFF_HEADERS, ...auth(token) });
    headers.append('prefer', 'separate-export-status');
    const kick = await fetch(`${base}/Patient/$export?_type=Device`, { headers });
    expect(kick.status).toBe(202);
    expect(kick.headers.get('preference-applied')).toContain('separate-export-status');
    const done = await waitSeparate(kick.headers.get('content-location') as string);
    expect(done.status).toBe(200);
    expect(done.headers.get('x-export-status')).toBe('200 OK');
  });

  it('a failed job answers 200 with X-Export-Status 500 and an OperationOutcome; without the preference, 500 as before', async () => {
    // No worker: each job stays in progress until failed here the way a worker fails it.
    const idle = await startServer({}, { worker: false });
    try {
      await idle.runtime.store.resources.ensureTenant(TENANT);
      const idleToken = (await idle.client(TENANT)).token;
      for (const prefer of ['respond-async, separate-export-status', 'respond-async']) {
        const kick = await fetch(`${idle.base(TENANT)}/Patient/$export?_type=Device`, { headers: { ...KICKOFF_HEADERS, ...auth(idleToken), prefer } });
        expect(kick.status).toBe(202);
        const statusUrl = kick.headers.get('content-location') as string;
        const jobId = statusUrl.split('/').pop() as string;
        expect(await idle.runtime.store.jobs.finishJob(jobId, 'failed', Date.now(), 'a chunk failed for good')).toBe(true);
        const r = await fetch(statusUrl, { headers: auth(idleToken) });
        expect(r.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
        const body = (await r.json()) as { resourceType: string; issue: { diagnostics: string }[] };
        expect(body.resourceType).toBe('OperationOutcome');
        expect(body.issue[0]?.diagnostics).toContain('a chunk failed for good');
        if (prefer.includes('separate')) {
          expect(r.status).toBe(200);
          expect(r.headers.get('x-export-status')).toBe('500 Internal Server Error');
        } else {
          expect(r.status).toBe(500);
          expect(r.headers.get('x-export-status')).toBeNull();
        }
      }
    } finally {
      await idle.close();
    }
  });

  it('without the preference: no Preference-Applied, no X-Export-Status, 202 while running', async () => {
    const kick = await kickoff(`${base}/Patient/$export?_type=Device`);
    expect(kick.headers.get('preference-applied')).toBeNull();
    const { first, response } = await waitForJob(kick.headers.get('content-location') as string, token);
    expect(first.status).toBe(202);
    expect(first.headers.get('x-export-status')).toBeNull();
    expect(response.headers.get('x-export-status')).toBeNull();
  });
});
