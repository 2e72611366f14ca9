/**
 * The HTTP edge under requests a client library would not send: over-long request heads, HEAD on URLs whose GET
 * has side effects, malformed request lines.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPaths } from '../src/import/importer.js';
import { fixtureResources, writeNdjson } from './fixtures/population.js';
import { parseRawResponse, rawExchange, request } from './helpers/http.js';
import { auth, KICKOFF_HEADERS, startServer, type TestServer } from './helpers/server.js';

const TENANT = 'tenant-a';
let server: TestServer;
let token: string;
let base: string;

beforeAll(async () => {
  server = await startServer({}, { worker: false });
  const dir = await mkdtemp(join(tmpdir(), 'flatfhir-fixture-'));
  await writeNdjson(dir, fixtureResources());
  await importPaths({ resources: server.runtime.store.resources, tenant: TENANT, paths: [dir], maxGroupMembers: 100 });
  await rm(dir, { recursive: true });
  token = (await server.client(TENANT)).token;
  base = server.base(TENANT);
});

afterAll(async () => {
  await server?.close();
});

const jobCount = async (): Promise<number> => (await server.runtime.store.jobs.listJobs({})).length;

function expectOutcome(r: { status: number; headers: Record<string, string | string[] | undefined>; body: string }, status: number, code: string): void {
  expect(r.status).toBe(status);
  expect(String(r.headers['content-type'])).toMatch(/^application\/fhir\+json/);
  const body = JSON.parse(r.body) as { resourceType: string; issue: { code: string; diagnostics: string }[] };
  expect(body.resourceType).toBe('OperationOutcome');
  expect(body.issue[0]?.code).toBe(code);
}

/** A raw request with one padding header of `bytes` bytes. */
const padded = (method: string, path: string, bytes: number, extra = ''): string =>
  `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}X-Pad: ${'a'.repeat(bytes)}\r\nConnection: close\r\n\r\n`;

describe('request heads over 16 KiB', () => {
  it('answer a 431 OperationOutcome on every kind of URL, and RFC 6749 JSON at the token endpoint', async () => {
    const pad = { 'x-pad': 'a'.repeat(17 * 1024) };
    expectOutcome(await request(`${base}/metadata`, { headers: pad }), 431, 'too-long');
    expectOutcome(await request(`${base}/Group/grp-main/$export?_type=${'Patient,'.repeat(2100)}Patient`, { headers: { ...KICKOFF_HEADERS, ...auth(token) } }), 431, 'too-long');
    expectOutcome(await request(`${base}/bulk-export/jobs/nope`, { headers: { ...auth(token), ...pad } }), 431, 'too-long');
    expectOutcome(await request(`${server.origin}/no/such/route`, { headers: pad }), 431, 'too-long');
    const t = await request(server.tokenUrl(TENANT), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...pad }, body: 'grant_type=client_credentials' });
    expect(t.status).toBe(431);
    expect(JSON.parse(t.body)).toMatchObject({ error: 'invalid_request' });
    // A head just under the bound is read as usual.
    expect((await request(`${base}/metadata`, { headers: { 'x-pad': 'a'.repeat(15 * 1024) } })).status).toBe(200);
  });

  it('answer HEAD requests with the status and no body, on a connection that stays usable', async () => {
    const raw = await rawExchange(
      server.origin,
      `HEAD /r4/${TENANT}/metadata HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(17 * 1024)}\r\n\r\nGET /r4/${TENANT}/metadata HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    const first = parseRawResponse(raw);
    expect(first.status).toBe(431);
    expect(first.headers['content-type']).toMatch(/^application\/fhir\+json/);
    // The next bytes on the connection are the second response: the HEAD answer carried no body.
    expect(first.body.startsWith('HTTP/1.1 200 ')).toBe(true);
  });

  it('past the parser bound (32 KiB): still a 431 OperationOutcome, and the connection is closed', async () => {
    const get = parseRawResponse(await rawExchange(server.origin, padded('GET', `/r4/${TENANT}/metadata`, 70 * 1024)));
    expect(get.status).toBe(431);
    expect(get.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(get.headers['connection']).toBe('close');
    expect((JSON.parse(get.body) as { issue: { code: string }[] }).issue[0]?.code).toBe('too-long');
    // The parser may have read past the request line when it gives up, so a HEAD is not always recognisable
    // there: the answer says Connection: close and the connection ends, so no client reads its bytes as another
    // response. A HEAD whose request line is in the bytes read gets no body.
    const head = parseRawResponse(await rawExchange(server.origin, padded('HEAD', `/r4/${TENANT}/metadata`, 70 * 1024)));
    expect(head.status).toBe(431);
    expect(head.headers['connection']).toBe('close');
    const small = parseRawResponse(await rawExchange(server.origin, padded('HEAD', `/r4/${TENANT}/metadata`, 40 * 1024)));
    expect(small.status).toBe(431);
    expect(small.body).toBe('');
    // Many small headers count as much as one large one.
    expectOutcome(await request(`${base}/metadata`, { headers: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`x-h${i}`, 'a'])) }), 431, 'too-long');
  });

  it('bytes after a request that said Connection: close get no second answer on the same connection', async () => {
    // Found by the fuzz suite: the parser's complaint about the extra bytes was answered after the first response.
    const raw = await rawExchange(server.origin, `GET /r4/${TENANT}/metadata HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGARBAGE\r\n\r\n`);
    expect(parseRawResponse(raw).status).toBe(200);
    expect(raw.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
  });

  it('a request line that is not HTTP answers a 400 OperationOutcome', async () => {
    const r = parseRawResponse(await rawExchange(server.origin, 'GET /r4 HTTP/1.1 extra\r\n\r\n'));
    expect(r.status).toBe(400);
    expect((JSON.parse(r.body) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });
});

describe('HEAD on a kick-off URL', () => {
  it('answers 405 with Allow and no body, and starts no job, with or without a token', async () => {
    const before = await jobCount();
    for (const path of ['Group/grp-main/$export', 'Patient/$export', '$export', '$export?_type=Patient&_since=2020-01-01T00:00:00Z']) {
      for (const headers of [{ ...KICKOFF_HEADERS, ...auth(token) }, KICKOFF_HEADERS]) {
        const r = await request(`${base}/${path}`, { method: 'HEAD', headers });
        expect(r.status, path).toBe(405);
        expect(r.headers.allow).toBe('GET, POST');
        expect(r.body).toBe('');
      }
    }
    expect(await jobCount()).toBe(before);
    // GET still kicks off.
    const kick = await request(`${base}/$export?_type=Patient`, { headers: { ...KICKOFF_HEADERS, ...auth(token) } });
    expect(kick.status).toBe(202);
    expect(await jobCount()).toBe(before + 1);
    await request(String(kick.headers['content-location']), { method: 'DELETE', headers: auth(token) });
  });

  it('leaves HEAD on read-only URLs as GET without a body', async () => {
    const r = await request(`${base}/metadata`, { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.body).toBe('');
  });
});
