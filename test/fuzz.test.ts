/**
 * Property-based fuzzing of the HTTP edge against a real server: generated kick-off requests (methods, paths,
 * parameters, values, headers, bodies, encodings), token requests (forms, mutated client assertions) and
 * requests to every other endpoint, authenticated or not. Every answer must be a 2xx, or a 4xx with an
 * OperationOutcome (RFC 6749 JSON at the token endpoint) — never a 5xx — and a refused request must leave the
 * store as it was (jobs and resources counted before and after).
 *
 * A few hundred cases per `npm test`; `npm run fuzz` (FUZZ_RUNS=10000) for the long run. FUZZ_SEED replays a run.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPaths } from '../src/import/importer.js';
import { fixtureResources, writeNdjson } from './fixtures/population.js';
import { createTestClient, getAccessToken, signAssertion, TEST_ADMIN_TOKEN, type TestClient } from './helpers/auth.js';
import { type RawResponse, request } from './helpers/http.js';
import { startServer, type TestServer } from './helpers/server.js';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 100);
const SEED = process.env['FUZZ_SEED'] === undefined ? undefined : Number(process.env['FUZZ_SEED']);
const TENANT = 'tenant-a';
const OTHER = 'tenant-b';
/** Per property: generous for long runs (the suite's default timeout fits the default run). */
const TIMEOUT = Math.max(60_000, RUNS * 200);
const OAUTH_ERRORS = ['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope', 'slow_down'];

let server: TestServer;
let client: TestClient;
let otherToken: string;
let token = '';
let tokenAt = 0;
let jobId = '';
let fileId = '';

/** A token of the fuzzing client, renewed well before it expires (long runs outlast one). */
async function validToken(): Promise<string> {
  if (Date.now() - tokenAt > 120_000) {
    token = await getAccessToken(server.tokenUrl(TENANT), client, 'system/*.rs');
    tokenAt = Date.now();
  }
  return token;
}

async function seed(tenant: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flatfhir-fuzz-'));
  await writeNdjson(dir, fixtureResources());
  await importPaths({ resources: server.runtime.store.resources, tenant, paths: [dir], maxGroupMembers: 100 });
  await rm(dir, { recursive: true });
}

/** What the store holds: every job (any state) and every resource of both tenants. */
async function storeState(): Promise<string> {
  const jobs = (await server.runtime.store.jobs.listJobs({})).map((j) => `${j.id}:${j.status}`).sort();
  const counts = [await server.runtime.store.resources.countByType(TENANT), await server.runtime.store.resources.countByType(OTHER)];
  return JSON.stringify({ jobs, counts });
}

beforeAll(async () => {
  server = await startServer(
    { auth: { adminToken: TEST_ADMIN_TOKEN, kickoffsPerMinute: 1_000_000, tokenRequestsPerMinute: 1_000_000 } },
    { worker: true },
  );
  await seed(TENANT);
  await seed(OTHER);
  client = await createTestClient(server.runtime.store.clients, TENANT, 'system/*.rs');
  otherToken = (await server.client(OTHER)).token;
  // One completed job whose status and file URLs the other-endpoint fuzzing can aim at.
  const t = await validToken();
  const kick = await request(`${server.base(TENANT)}/Group/grp-main/$export?_type=Patient`, {
    headers: { authorization: `Bearer ${t}`, accept: 'application/fhir+json', prefer: 'respond-async' },
  });
  jobId = String(kick.headers['content-location']).split('/').pop() as string;
  for (let i = 0; i < 100; i++) {
    const s = await request(`${server.base(TENANT)}/bulk-export/jobs/${jobId}`, { headers: { authorization: `Bearer ${t}` } });
    if (s.status === 200) {
      fileId = (JSON.parse(s.body) as { output: { url: string }[] }).output[0]?.url.split('/').pop() as string;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(fileId).not.toBe('');
});

afterAll(async () => {
  await server?.close();
});

// ---- building blocks ----

const junk = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', '%', '%zz', '%00', '%C0%AF', '\u0000', '../..', '..%2F', '*', '"', "'", '\\', '<script>', '{}', '[]', 'null', '🦄', 'a'.repeat(3000)),
);
const instant = fc.oneof(
  fc.date({ min: new Date('1900-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('2024-02-30T00:00:00Z', '2023-02-29T12:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01T00:00:00+15:00', '2024-01-01', 'yesterday', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999999999Z', '2024-01-01T00:00:00.5-05:00'),
  junk,
);
const typeName = fc.constantFrom('Patient', 'Observation', 'Condition', 'Encounter', 'Location', 'Organization', 'Practitioner', 'Provenance', 'Group', 'Binary', 'Claim', 'Spaceship', 'patient', '', 'DocumentReference', 'MedicationRequest');
const typeList = fc.array(typeName, { maxLength: 5 }).map((t) => t.join(','));
const typeFilter = fc.oneof(
  fc.tuple(typeName, fc.constantFrom('code', 'status', 'date', 'onset-date', 'subject', 'subject.name', '_has:x', '_sort', '_count', 'category', 'clinical-status', 'nope'), fc.constantFrom('', ':not', ':missing', ':exact', ':above', ':text'), fc.oneof(junk, instant, fc.constantFrom('ge2024-02-30', 'le2024-01-01', 'http://loinc.org|8867-4', 'Patient/pat-1', 'true', 'active,resolved')))
    .map(([t, p, m, v]) => `${t}?${p}${m}=${encodeURIComponent(v)}`),
  junk,
);
const paramValue = (name: string): fc.Arbitrary<string> => {
  switch (name) {
    case '_type':
      return fc.oneof(typeList, junk);
    case '_since':
    case '_until':
      return instant;
    case '_typeFilter':
      return typeFilter;
    case '_outputFormat':
      return fc.oneof(fc.constantFrom('application/fhir+ndjson', 'application/ndjson', 'ndjson', 'text/csv'), junk);
    case '_elements':
      return fc.oneof(fc.constantFrom('id', 'Patient.name', 'code,subject', 'Foo.bar', 'a[x]'), junk);
    case 'includeAssociatedData':
      return fc.oneof(fc.constantFrom('LatestProvenanceResources', 'RelevantProvenanceResources', 'Everything'), junk);
    case 'patient':
      return fc.oneof(fc.constantFrom('Patient/pat-1', 'pat-2'), junk);
    default:
      return junk;
  }
};
const paramName = fc.oneof(
  fc.constantFrom('_type', '_since', '_until', '_typeFilter', '_outputFormat', '_elements', 'includeAssociatedData', 'patient'),
  fc.constantFrom('__proto__', 'constructor', 'toString', '_type[]', '_count', ''),
  fc.string({ maxLength: 12 }),
);
const params = fc.array(paramName.chain((n) => paramValue(n).map((v) => [n, v] as const)), { maxLength: 6 });

/** A query string: mostly well-encoded, sometimes raw (invalid percent escapes and all). */
const query = fc.tuple(params, fc.boolean()).map(([ps, raw]) =>
  ps.length === 0 ? '' : `?${ps.map(([n, v]) => (raw ? `${n}=${v.replace(/[\s#]/g, '')}` : `${encodeURIComponent(n)}=${encodeURIComponent(v)}`)).join('&')}`,
);

/** What a header value can carry on the wire (node:http refuses control and non-Latin characters). */
const headerSafe = (s: string): string => [...s].filter((c) => c >= ' ' && c <= '~').join('');

type AuthKind = 'valid' | 'none' | 'other-tenant' | 'garbage' | 'admin';
const authKind = fc.constantFrom<AuthKind>('valid', 'valid', 'valid', 'none', 'other-tenant', 'garbage', 'admin');
async function authHeader(kind: AuthKind, garbage: string): Promise<Record<string, string>> {
  switch (kind) {
    case 'valid':
      return { authorization: `Bearer ${await validToken()}` };
    case 'other-tenant':
      return { authorization: `Bearer ${otherToken}` };
    case 'garbage':
      return { authorization: headerSafe(garbage) };
    case 'admin':
      return { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
    default:
      return {};
  }
}

const headerValue = (values: string[]) => fc.oneof(fc.constantFrom(...values), fc.string({ maxLength: 30 }).map(headerSafe));
const kickoffHeaders = fc.record(
  {
    accept: headerValue(['application/fhir+json', 'application/json', '*/*', 'text/html', 'application/fhir+ndjson', '']),
    prefer: headerValue(['respond-async', 'respond-async, handling=lenient', 'handling=lenient', 'respond-async;handling=strict', '']),
    'content-type': headerValue(['application/fhir+json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/fhir+json; charset=latin1', 'multipart/form-data; boundary=x']),
    'content-encoding': fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown'),
    'x-forwarded-host': fc.constantFrom('evil.example'),
    range: fc.constantFrom('bytes=0-10', 'bytes=-1', 'bytes=abc'),
  },
  { requiredKeys: [] },
);

const parametersBody = fc.oneof(
  params.map((ps) => JSON.stringify({ resourceType: 'Parameters', parameter: ps.map(([name, v]) => (name === 'patient' ? { name, valueReference: { reference: v } } : { name, valueString: v })) })),
  fc.array(fc.constantFrom('pat-1', 'pat-2', 'pat-4', 'nope', '../x'), { maxLength: 5 }).map((ids) =>
    JSON.stringify({ resourceType: 'Parameters', parameter: ids.map((id) => ({ name: 'patient', valueReference: { reference: `Patient/${id}` } })) }),
  ),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify({ resourceType: 'Parameters', parameter: v })),
  fc.constantFrom('', '{', '{"resourceType":"Parameters","parameter":[{"name":"_since","valueInstant":"2024-02-30T00:00:00Z"}]}', '\u0000\u0001', '[]', 'null', '{"resourceType":"Parameters","parameter":[null]}'),
  junk,
);
const body = fc.oneof(
  parametersBody.map((b) => ({ bytes: Buffer.from(b), gzip: false })),
  parametersBody.map((b) => ({ bytes: gzipSync(b), gzip: true })),
  fc.uint8Array({ maxLength: 200 }).map((b) => ({ bytes: Buffer.from(b), gzip: false })),
);

/** Sends a request and checks the answer's form: 2xx, or 4xx with an OperationOutcome (or RFC 6749 JSON). */
function checkAnswer(r: RawResponse, method: string, oauth: boolean): void {
  expect(r.status, r.body).toBeGreaterThanOrEqual(200);
  expect(r.status, r.body).toBeLessThan(500);
  if (r.status < 400 || method === 'HEAD') return;
  // An OperationOutcome is application/fhir+json, or application/json to a client that accepts only that.
  expect(String(r.headers['content-type'])).toMatch(oauth ? /^application\/json/ : /^application\/(fhir\+)?json/);
  const parsed = JSON.parse(r.body) as { resourceType?: string; issue?: { code?: string; severity?: string }[]; error?: string };
  if (oauth) {
    expect(OAUTH_ERRORS).toContain(parsed.error);
  } else {
    expect(parsed.resourceType).toBe('OperationOutcome');
    expect(typeof parsed.issue?.[0]?.code).toBe('string');
  }
  expect(r.body).not.toMatch(/\bat [\w.<>]+ \(|node:internal|\/src\//);
}

/** Runs one request; a refused request must leave the store as it was; an accepted kick-off is deleted again. */
async function exercise(url: string, init: { method: string; headers: Record<string, string>; body?: Buffer }, oauth = false): Promise<RawResponse> {
  const before = await storeState();
  const r = await request(url, { method: init.method, headers: init.headers, ...(init.body !== undefined && init.method !== 'GET' && init.method !== 'HEAD' ? { body: init.body } : {}) });
  checkAnswer(r, init.method, oauth);
  if (r.status >= 400 || init.method === 'HEAD') expect(await storeState(), `${init.method} ${url} → ${r.status}`).toBe(before);
  if (r.status === 202 && r.headers['content-location']) {
    const location = new URL(String(r.headers['content-location']));
    await request(`${server.origin}${location.pathname}`, { method: 'DELETE', headers: { authorization: `Bearer ${await validToken()}` } });
  }
  return r;
}

const options = (): fc.Parameters<unknown> => ({ numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), endOnFailure: true });

describe('fuzzed kick-off requests', () => {
  it(`never answer a 5xx nor change the store when refused (${RUNS} cases)`, async () => {
    const path = fc.oneof(
      fc.constantFrom('Group/grp-main/$export', 'Group/grp-empty/$export', 'Patient/$export', '$export', 'Group/nope/$export'),
      junk.map((id) => `Group/${encodeURIComponent(id)}/$export`),
      junk.map((id) => `Group/${id.replace(/[\s#?/]/g, '')}/$export`),
    );
    const tenant = fc.oneof(fc.constant(TENANT), fc.constant(TENANT), fc.constant(OTHER), fc.constantFrom('nope', 'ec2458f2-1e24-41c8-b71b-0e701af7583d', '%zz', 'a'.repeat(300)));
    const method = fc.constantFrom('GET', 'GET', 'POST', 'POST', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS');
    await fc.assert(
      fc.asyncProperty(tenant, path, query, method, kickoffHeaders, body, authKind, fc.string({ maxLength: 40 }), async (t, p, q, m, h, b, a, garbage) => {
        const headers: Record<string, string> = { ...h, ...(await authHeader(a, garbage)) };
        if (!b.gzip && headers['content-encoding'] === 'gzip') delete headers['content-encoding'];
        await exercise(`${server.origin}/r4/${t}/${p}${q}`, { method: m, headers, body: b.bytes });
      }),
      options(),
    );
  }, TIMEOUT);
});

describe('fuzzed token requests', () => {
  it(`always answer RFC 6749 JSON, never a 5xx (${RUNS} cases)`, async () => {
    const tokenUrl = server.tokenUrl(TENANT);
    const mutation = fc.oneof(
      fc.constant({ kind: 'none' as const }),
      fc.record({ kind: fc.constant('flip' as const), part: fc.integer({ min: 0, max: 2 }), at: fc.nat(), to: fc.constantFrom('A', '_', '-', '.', '=', '%') }),
      fc.record({ kind: fc.constant('claims' as const), claims: fc.dictionary(fc.constantFrom('iss', 'sub', 'aud', 'exp', 'jti', 'iat', 'nbf'), fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constant(undefined))) }),
      fc.record({ kind: fc.constant('header' as const), header: fc.dictionary(fc.constantFrom('alg', 'kid', 'typ', 'jku', 'crit', 'x5u'), fc.oneof(fc.constantFrom('none', 'HS256', 'RS384', 'ES384', 'ES256', 'http://127.0.0.1:1/jwks'), fc.jsonValue({ maxDepth: 1 }))) }),
      fc.record({ kind: fc.constant('junk' as const), value: junk }),
    );
    const field = (values: string[]) => fc.oneof(fc.constantFrom(...values), junk, fc.constant(undefined));
    const form = fc.record({
      grant_type: field(['client_credentials', 'authorization_code', 'password']),
      client_assertion_type: field(['urn:ietf:params:oauth:client-assertion-type:jwt-bearer', 'jwt']),
      scope: field(['system/*.rs', 'system/*.read', 'system/Patient.read system/Observation.rs', 'system/*.write', 'patient/*.read', 'system/Observation.rs?category=x', 'openid']),
      client_id: field([client.clientId, randomUUID()]),
      extra: fc.option(fc.tuple(fc.string({ maxLength: 10 }), junk)),
      duplicate: fc.boolean(),
    });
    const contentType = fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'application/json', 'text/plain', 'multipart/form-data', '');
    const method = fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'HEAD');
    await fc.assert(
      fc.asyncProperty(mutation, form, contentType, method, fc.boolean(), async (mut, f, ct, m, asJson) => {
        let assertion = await signAssertion(client, tokenUrl, mut.kind === 'claims' ? { claims: mut.claims as Record<string, unknown> } : {});
        if (mut.kind === 'header') {
          // Any header at all (jose signs only valid ones): the signed header replaced, the signature kept.
          const [, payload, signature] = assertion.split('.');
          const header = { alg: client.alg, kid: client.kid, typ: 'JWT', ...(mut.header as Record<string, unknown>) };
          assertion = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${payload}.${signature}`;
        }
        if (mut.kind === 'flip') {
          const parts = assertion.split('.');
          const part = parts[mut.part] ?? '';
          const at = part.length === 0 ? 0 : mut.at % part.length;
          parts[mut.part] = part.slice(0, at) + mut.to + part.slice(at + 1);
          assertion = parts.join('.');
        }
        if (mut.kind === 'junk') assertion = mut.value;
        const fields: [string, string][] = [];
        for (const k of ['grant_type', 'client_assertion_type', 'scope', 'client_id'] as const) if (f[k] !== undefined) fields.push([k, f[k] as string]);
        fields.push(['client_assertion', assertion]);
        if (f.extra) fields.push(f.extra);
        if (f.duplicate) fields.push(['scope', 'system/*.rs']);
        const bytes = Buffer.from(asJson ? JSON.stringify(Object.fromEntries(fields)) : new URLSearchParams(fields).toString());
        await exercise(tokenUrl, { method: m, headers: ct ? { 'content-type': ct } : {}, body: bytes }, true);
      }),
      options(),
    );
  }, TIMEOUT);
});

describe('fuzzed requests to the other endpoints', () => {
  it(`answer 2xx or a 4xx OperationOutcome, unauthenticated or malformed (${RUNS} cases)`, async () => {
    const id = fc.oneof(fc.constantFrom('real', 'real', 'pat-1', 'grp-main', randomUUID()), junk.map((s) => encodeURIComponent(s)), junk.map((s) => s.replace(/[\s#?/]/g, '')));
    const endpoint = fc.constantFrom(
      'jobs',
      'files',
      'metadata',
      'smart',
      'opdef',
      'binary',
      'group',
      'admin-list',
      'admin-client',
      'admin-create',
      'download',
      'unknown',
    );
    const method = fc.constantFrom('GET', 'GET', 'GET', 'POST', 'DELETE', 'HEAD', 'PUT', 'OPTIONS');
    const tenant = fc.oneof(fc.constant(TENANT), fc.constant(TENANT), fc.constantFrom(OTHER, 'nope', '%zz'));
    await fc.assert(
      fc.asyncProperty(endpoint, id, tenant, method, authKind, fc.string({ maxLength: 40 }), kickoffHeaders, body, async (e, rawId, t, m, a, garbage, h, b) => {
        const base = `${server.origin}/r4/${t}`;
        const jid = rawId === 'real' ? jobId : rawId;
        const fid = rawId === 'real' ? fileId : rawId;
        const url = {
          jobs: `${base}/bulk-export/jobs/${jid}`,
          files: `${base}/bulk-export/files/${fid}`,
          metadata: `${base}/metadata`,
          smart: `${base}/.well-known/smart-configuration`,
          opdef: `${base}/OperationDefinition/${rawId}`,
          binary: `${base}/Binary/${rawId}`,
          group: `${base}/Group/${rawId}`,
          'admin-list': `${server.origin}/admin/clients?tenant=${rawId}`,
          'admin-client': `${server.origin}/admin/clients/${rawId}`,
          'admin-create': `${server.origin}/admin/clients`,
          download: `${server.origin}/bulk-files/${rawId}?expires=${Date.now() + 60_000}&signature=${rawId}`,
          unknown: `${server.origin}/${rawId}`,
        }[e];
        const headers: Record<string, string> = { ...h, ...(await authHeader(a, garbage)) };
        if (!b.gzip && headers['content-encoding'] === 'gzip') delete headers['content-encoding'];
        // DELETE of the real job would end the target for the cases after it; any other id is fair game.
        const method = e === 'jobs' && rawId === 'real' && m === 'DELETE' ? 'GET' : m;
        await exercise(url, { method, headers, body: b.bytes });
      }),
      options(),
    );
  }, TIMEOUT);
});
