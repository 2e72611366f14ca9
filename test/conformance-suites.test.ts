/**
 * What the SMART Bulk Data Tester (run with default settings) found: a kick-off without Accept must be refused;
 * the first two types the CapabilityStatement lists must be exportable (the tester kicks off with them); an
 * OperationOutcome answered to `Accept: application/json` must be labelled application/json.
 */
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPaths } from '../src/import/importer.js';
import { fixtureResources, writeNdjson } from './fixtures/population.js';
import { auth, KICKOFF_HEADERS, startServer, type TestServer } from './helpers/server.js';

const TENANT = 'tenant-suites';
let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startServer();
  const dir = await mkdtemp(join(tmpdir(), 'flatfhir-suites-'));
  await writeNdjson(dir, fixtureResources());
  await importPaths({ resources: server.runtime.store.resources, tenant: TENANT, paths: [dir], maxGroupMembers: 100 });
  await rm(dir, { recursive: true });
  token = (await server.client(TENANT)).token;
});

afterAll(async () => {
  await server?.close();
});

/** A GET with exactly these headers (fetch would add `Accept: *\/*`). */
function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('what conformance suites check', () => {
  it('refuses a kick-off without Accept, and starts nothing', async () => {
    const before = await server.runtime.store.jobs.countByStatus();
    const r = await rawGet(`${server.base(TENANT)}/Patient/$export`, { prefer: 'respond-async', authorization: `Bearer ${token}` });
    expect(r.status).toBe(400);
    expect(r.type).toMatch(/^application\/fhir\+json/);
    expect(JSON.parse(r.body)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ diagnostics: expect.stringMatching(/Accept header is required/) }] });
    expect(await server.runtime.store.jobs.countByStatus()).toEqual(before);
    // a client that sets Accept: application/json by default (got does) is refused too
    const json = await rawGet(`${server.base(TENANT)}/Patient/$export`, { prefer: 'respond-async', accept: 'application/json', authorization: `Bearer ${token}` });
    expect(json.status).toBe(406);
    expect(await server.runtime.store.jobs.countByStatus()).toEqual(before);
  });

  it('lists exportable types first in the CapabilityStatement: a kick-off with the first two succeeds', async () => {
    const cs = (await (await fetch(`${server.base(TENANT)}/metadata`)).json()) as { rest: { resource: { type: string }[] }[] };
    const [first, second] = (cs.rest[0]?.resource ?? []).map((r) => r.type);
    expect(first).toBe('Patient');
    const kick = await fetch(`${server.base(TENANT)}/Patient/$export?_type=${first}&_type=${second}`, { headers: { ...KICKOFF_HEADERS, ...auth(token) } });
    expect(kick.status).toBe(202);
    const status = kick.headers.get('content-location') as string;
    expect((await fetch(status, { method: 'DELETE', headers: auth(token) })).status).toBe(202);
    // Once deleted: 404, as JSON the client can read when it asked for application/json.
    const again = await fetch(status, { method: 'DELETE', headers: { ...auth(token), accept: 'application/json' } });
    expect(again.status).toBe(404);
    expect(again.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await again.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    const fhir = await fetch(status, { headers: { ...auth(token), accept: 'application/fhir+json' } });
    expect(fhir.status).toBe(404);
    expect(fhir.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
  });
});
