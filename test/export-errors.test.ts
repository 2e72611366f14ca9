import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPaths } from '../src/import/importer.js';
import { fixtureResources, writeNdjson } from './fixtures/population.js';
import { auth, KICKOFF_HEADERS, parseNdjson, download, startServer, type TestServer, waitForJob } from './helpers/server.js';

const TENANT = 'tenant-a';
let server: TestServer;
let idle: TestServer;
let token: string;
let base: string;

async function seed(s: TestServer, tenant: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flatfhir-fixture-'));
  await writeNdjson(dir, fixtureResources());
  await importPaths({ resources: s.runtime.store.resources, tenant, paths: [dir], maxGroupMembers: 100 });
  await rm(dir, { recursive: true });
}

async function expectOutcome(r: Response, status: number, code: string, diagnostics?: RegExp): Promise<void> {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
  const body = (await r.json()) as { resourceType: string; issue: { severity: string; code: string; diagnostics?: string }[] };
  expect(body.resourceType).toBe('OperationOutcome');
  expect(body.issue[0]?.severity).toMatch(/^(error|fatal)$/);
  expect(body.issue[0]?.code).toBe(code);
  expect((body.issue[0]?.diagnostics ?? '').length).toBeGreaterThan(10);
  if (diagnostics) expect(body.issue[0]?.diagnostics).toMatch(diagnostics);
}

beforeAll(async () => {
  server = await startServer({ export: { maxPatients: 3 } });
  await seed(server, TENANT);
  await seed(server, 'tenant-b');
  token = (await server.client(TENANT)).token;
  base = server.base(TENANT);
  // A server whose worker does not run, so jobs stay in progress.
  idle = await startServer({}, { worker: false });
  await seed(idle, TENANT);
});

afterAll(async () => {
  await server?.close();
  await idle?.close();
});

const kick = (url: string, headers: Record<string, string> = {}, init: RequestInit = {}) =>
  fetch(url, { ...init, headers: { ...KICKOFF_HEADERS, ...auth(token), ...headers } });

describe('kick-off validation', () => {
  it('requires Prefer: respond-async', async () => {
    await expectOutcome(await fetch(`${base}/Group/grp-main/$export`, { headers: { accept: 'application/fhir+json', ...auth(token) } }), 400, 'invalid', /respond-async/);
  });
  it('answers 406 to an unsupported Accept', async () => {
    await expectOutcome(await kick(`${base}/Group/grp-main/$export`, { accept: 'text/html' }), 406, 'invalid');
  });
  it('answers 415 to a POST that is not JSON, and 400 to a malformed or wrong body', async () => {
    await expectOutcome(await kick(`${base}/Patient/$export`, { 'content-type': 'text/plain' }, { method: 'POST', body: 'hello' }), 415, 'invalid');
    await expectOutcome(await kick(`${base}/Patient/$export`, { 'content-type': 'application/fhir+json' }, { method: 'POST', body: '{"resourceType":' }), 400, 'invalid');
    await expectOutcome(
      await kick(`${base}/Patient/$export`, { 'content-type': 'application/fhir+json' }, { method: 'POST', body: '{"resourceType":"Patient"}' }),
      400,
      'invalid',
      /Parameters/,
    );
  });
  it.each([
    ['_outputFormat=text/csv', /_outputFormat/],
    ['_type=Foo', /Foo/],
    ['_type=Binary', /Binary/],
    ['_type=Location', /clinical/],
    ['_type=Location,Provenance', /clinical/],
    ['_since=yesterday', /_since/],
    ['_since=2999-01-01T00:00:00Z', /future/],
    ['foo=bar', /foo/],
    ['patient=Patient/pat-1', /POST/],
    ['includeAssociatedData=Everything', /Everything/],
    ['_type=Condition&includeAssociatedData=LatestProvenanceResources', /Provenance/],
    ['_typeFilter=Condition', /_typeFilter/],
    ['_typeFilter=Condition%3Fsubject.name%3Dx', /chained/],
    ['_type=', /empty/],
    ['_since=2024-02-30T00:00:00Z', /_since.*not a valid FHIR instant/],
    ['_since=2023-02-29T00:00:00Z', /_since/],
    ['_since=2024-01-01T24:00:00Z', /_since/],
    ['_until=2024-02-30T00:00:00Z', /_until.*not a valid FHIR instant/],
    ['_until=2024-04-31T00:00:00%2B01:00', /_until/],
    ['_typeFilter=Condition%3Fonset-date%3Dge2024-02-30', /2024-02-30/],
  ])('answers 400 to %s', async (query, diagnostics) => {
    await expectOutcome(await kick(`${base}/Group/grp-main/$export?${query}`), 400, 'invalid', diagnostics);
  });
  it('accepts what it does not know under handling=lenient and reports it in the error files', async () => {
    const r = await kick(`${base}/Group/grp-main/$export?_type=Patient&foo=bar&_type=Foo`, { prefer: 'respond-async, handling=lenient' });
    expect(r.status).toBe(202);
    const statusUrl = r.headers.get('content-location') as string;
    const { response } = await waitForJob(statusUrl, token);
    const manifest = (await response.json()) as { output: { type: string }[]; error: { type: string; url: string }[] };
    expect(manifest.output.map((o) => o.type)).toEqual(['Patient']);
    expect(manifest.error).toHaveLength(1);
    expect(manifest.error[0]?.type).toBe('OperationOutcome');
    const warnings = parseNdjson((await download(manifest.error[0]?.url as string, token)).text);
    expect(JSON.stringify(warnings)).toMatch(/foo/);
    expect(JSON.stringify(warnings)).toMatch(/Foo/);
    await fetch(statusUrl, { method: 'DELETE', headers: auth(token) });
  });
  it('refuses an impossible instant in a POST Parameters body', async () => {
    const body = { resourceType: 'Parameters', parameter: [{ name: '_since', valueInstant: '2024-02-30T00:00:00Z' }] };
    await expectOutcome(
      await kick(`${base}/Patient/$export`, { 'content-type': 'application/fhir+json' }, { method: 'POST', body: JSON.stringify(body) }),
      400,
      'invalid',
      /_since "2024-02-30T00:00:00Z"/,
    );
  });
  it('refuses more patients than the configured maximum', async () => {
    const body = { resourceType: 'Parameters', parameter: ['pat-1', 'pat-2', 'pat-3', 'pat-4'].map((p) => ({ name: 'patient', valueReference: { reference: `Patient/${p}` } })) };
    await expectOutcome(
      await kick(`${base}/Patient/$export`, { 'content-type': 'application/fhir+json' }, { method: 'POST', body: JSON.stringify(body) }),
      400,
      'invalid',
      /At most 3 patients/,
    );
  });
});

describe('access control on bulk endpoints', () => {
  it('needs a token: 401 with WWW-Authenticate', async () => {
    const r = await fetch(`${base}/Group/grp-main/$export`, { headers: KICKOFF_HEADERS });
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    await expectOutcome(r, 401, 'login');
    await expectOutcome(await fetch(`${base}/Group/grp-main/$export`, { headers: { ...KICKOFF_HEADERS, authorization: 'Bearer not-a-token' } }), 401, 'login');
  });
  it('answers 403 for another tenant and an unknown tenant', async () => {
    await expectOutcome(await kick(`${server.base('tenant-b')}/Group/grp-main/$export`), 403, 'forbidden');
    await expectOutcome(await kick(`${server.base('no-such-tenant')}/Group/grp-main/$export`), 403, 'forbidden');
  });
  it('answers 403 when the token cannot read a requested type', async () => {
    const narrow = await server.client(TENANT, 'system/Patient.rs');
    await expectOutcome(
      await fetch(`${base}/Group/grp-main/$export?_type=Patient,Condition`, { headers: { ...KICKOFF_HEADERS, ...auth(narrow.token) } }),
      403,
      'forbidden',
      /Condition/,
    );
    // without _type, exactly the readable types are exported
    const r = await fetch(`${base}/Group/grp-main/$export`, { headers: { ...KICKOFF_HEADERS, ...auth(narrow.token) } });
    expect(r.status).toBe(202);
    const statusUrl = r.headers.get('content-location') as string;
    const { response } = await waitForJob(statusUrl, narrow.token);
    const manifest = (await response.json()) as { output: { type: string }[] };
    expect([...new Set(manifest.output.map((o) => o.type))]).toEqual(['Patient']);
    await fetch(statusUrl, { method: 'DELETE', headers: auth(narrow.token) });
  });
  it('system/*.r is enough to export', async () => {
    const v2 = await server.client(TENANT, 'system/*.r');
    const r = await fetch(`${base}/Group/grp-main/$export?_type=Patient`, { headers: { ...KICKOFF_HEADERS, ...auth(v2.token) } });
    expect(r.status).toBe(202);
    await fetch(r.headers.get('content-location') as string, { method: 'DELETE', headers: auth(v2.token) });
  });
});

describe('status, files and delete', () => {
  it('answers 404 OperationOutcomes for unknown jobs and files, and 406 to a non-JSON Accept', async () => {
    await expectOutcome(await fetch(`${base}/bulk-export/jobs/00000000-0000-0000-0000-000000000000`, { headers: auth(token) }), 404, 'not-found');
    await expectOutcome(await fetch(`${base}/bulk-export/jobs/nope`, { method: 'DELETE', headers: auth(token) }), 404, 'not-found');
    await expectOutcome(await fetch(`${base}/bulk-export/files/nope`, { headers: auth(token), redirect: 'manual' }), 404, 'not-found');
    const r = await kick(`${base}/Group/grp-main/$export?_type=Patient`);
    const statusUrl = r.headers.get('content-location') as string;
    await expectOutcome(await fetch(statusUrl, { headers: auth(token, { accept: 'text/html' }) }), 406, 'invalid');
    await fetch(statusUrl, { method: 'DELETE', headers: auth(token) });
  });
  it('answers 404 OperationOutcome for an unknown route', async () => {
    await expectOutcome(await fetch(`${server.origin}/nowhere`), 404, 'not-found');
  });
  it('answers an OperationOutcome, not a framework error, to an over-long path parameter', async () => {
    const r = await kick(`${base}/Group/${'a'.repeat(600)}/$export`);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(((await r.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });
});

describe('one export in progress per client and tenant', () => {
  it('throttles a second kick-off with 429 and Retry-After until the first is deleted', async () => {
    const client = await idle.client(TENANT);
    const url = `${idle.base(TENANT)}/Group/grp-main/$export?_type=Patient`;
    const headers = { ...KICKOFF_HEADERS, ...auth(client.token) };
    const first = await fetch(url, { headers });
    expect(first.status).toBe(202);
    for (const again of [url, `${idle.base(TENANT)}/Patient/$export`]) {
      const r = await fetch(again, { headers });
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
      await expectOutcome(r, 429, 'throttled');
    }
    // the status of a running job
    const status = await fetch(first.headers.get('content-location') as string, { headers: auth(client.token) });
    expect(status.status).toBe(202);
    expect(status.headers.get('x-progress')).toMatch(/^\d+% \(/);
    // another client is not blocked
    const other = await idle.client(TENANT);
    const otherKick = await fetch(url, { headers: { ...KICKOFF_HEADERS, ...auth(other.token) } });
    expect(otherKick.status).toBe(202);
    await fetch(otherKick.headers.get('content-location') as string, { method: 'DELETE', headers: auth(other.token) });
    // DELETE frees the slot at once; kick-off then DELETE, several times in a row
    expect((await fetch(first.headers.get('content-location') as string, { method: 'DELETE', headers: auth(client.token) })).status).toBe(202);
    for (let i = 0; i < 3; i++) {
      const r = await fetch(url, { headers });
      expect(r.status).toBe(202);
      expect((await fetch(r.headers.get('content-location') as string, { method: 'DELETE', headers: auth(client.token) })).status).toBe(202);
    }
  });

  it('DELETE right after kick-off, while chunks are being written, always answers 202', async () => {
    const busy = await startServer({ export: { chunkResources: 1, maxFileResources: 1 } });
    try {
      await seed(busy, TENANT);
      const client = await busy.client(TENANT);
      for (let i = 0; i < 8; i++) {
        const r = await fetch(`${busy.base(TENANT)}/$export`, { headers: { ...KICKOFF_HEADERS, ...auth(client.token) } });
        expect(r.status).toBe(202);
        await new Promise((res) => setTimeout(res, i * 3));
        const del = await fetch(r.headers.get('content-location') as string, { method: 'DELETE', headers: auth(client.token) });
        expect(del.status).toBe(202);
      }
    } finally {
      await busy.close();
    }
  });

  it('completed jobs never block a new kick-off', async () => {
    const client = await server.client(TENANT);
    const headers = { ...KICKOFF_HEADERS, ...auth(client.token) };
    const url = `${base}/Group/grp-main/$export?_type=Patient`;
    const first = await fetch(url, { headers });
    await waitForJob(first.headers.get('content-location') as string, client.token);
    const second = await fetch(url, { headers });
    expect(second.status).toBe(202);
    for (const r of [first, second]) await fetch(r.headers.get('content-location') as string, { method: 'DELETE', headers: auth(client.token) });
  });
});

describe('duplicate-request rejection (when configured)', () => {
  it('refuses a request identical to a job not deleted, naming its status URL; deleting allows it again', async () => {
    const strict = await startServer({ export: { rejectDuplicates: true } });
    try {
      await seed(strict, TENANT);
      const client = await strict.client(TENANT);
      const url = `${strict.base(TENANT)}/Group/grp-main/$export?_type=Patient`;
      const headers = { ...KICKOFF_HEADERS, ...auth(client.token) };
      const first = await fetch(url, { headers });
      const statusUrl = first.headers.get('content-location') as string;
      await waitForJob(statusUrl, client.token);
      await expectOutcome(await fetch(url, { headers }), 409, 'duplicate', new RegExp(statusUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      // a different request is fine
      const other = await fetch(`${url},Condition`, { headers });
      expect(other.status).toBe(202);
      await waitForJob(other.headers.get('content-location') as string, client.token);
      await fetch(statusUrl, { method: 'DELETE', headers: auth(client.token) });
      expect((await fetch(url, { headers })).status).toBe(202);
    } finally {
      await strict.close();
    }
  });
});

describe('kick-off rate limit', () => {
  it('answers 429 with Retry-After when one client kicks off too often', async () => {
    const limited = await startServer({ auth: { kickoffsPerMinute: 2 } });
    try {
      await seed(limited, TENANT);
      const client = await limited.client(TENANT);
      const url = `${limited.base(TENANT)}/Group/grp-main/$export?_type=Patient`;
      for (let i = 0; i < 2; i++) {
        const r = await fetch(url, { headers: { ...KICKOFF_HEADERS, ...auth(client.token) } });
        expect(r.status).toBe(202);
        await fetch(r.headers.get('content-location') as string, { method: 'DELETE', headers: auth(client.token) });
      }
      const third = await fetch(url, { headers: { ...KICKOFF_HEADERS, ...auth(client.token) } });
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
      await expectOutcome(third, 429, 'throttled', /Too many/);
    } finally {
      await limited.close();
    }
  });

  it('does not count rejected kick-offs against the allowance', async () => {
    const limited = await startServer({ auth: { kickoffsPerMinute: 2 } }, { worker: false });
    try {
      await seed(limited, TENANT);
      const client = await limited.client(TENANT);
      const base = limited.base(TENANT);
      const headers = { ...KICKOFF_HEADERS, ...auth(client.token) };
      const rejected: [string, RequestInit, number][] = [
        [`${base}/Group/grp-main/$export?_type=NoSuchType`, { headers }, 400],
        [`${base}/Group/no-such-group/$export`, { headers }, 404],
        [`${base}/Group/grp-main/$export`, { headers: { ...headers, accept: 'text/html' } }, 406],
        [`${base}/Patient/$export`, { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body: 'x' }, 415],
        [`${base}/Group/grp-main/$export?_outputFormat=text/csv`, { headers }, 400],
      ];
      for (let round = 0; round < 4; round++) {
        for (const [url, init, status] of rejected) expect((await fetch(url, init)).status).toBe(status);
      }
      // twenty refusals later, both accepted kick-offs of the allowance are still there
      const url = `${base}/Group/grp-main/$export?_type=Patient`;
      const first = await fetch(url, { headers });
      expect(first.status).toBe(202);
      // one export in progress per client: a second one is refused (429) and that costs nothing either
      expect((await fetch(url, { headers })).status).toBe(429);
      await fetch(first.headers.get('content-location') as string, { method: 'DELETE', headers: auth(client.token) });
      const second = await fetch(url, { headers });
      expect(second.status).toBe(202);
      await fetch(second.headers.get('content-location') as string, { method: 'DELETE', headers: auth(client.token) });
      const third = await fetch(url, { headers });
      await expectOutcome(third, 429, 'throttled', /Too many export kick-offs/);
    } finally {
      await limited.close();
    }
  });
});
