/**
 * The Bulk Cohort API (Bulk Data v3) over HTTP, on the synthea-100 population: group creation with the asynchronous
 * interaction pattern and synchronously, the refusals, deletion, cancellation and the CapabilityStatement. The
 * members an export returns are checked against patient sets computed here from the fixture files themselves.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareResource } from '../src/fhir/prepare.js';
import { checkCohortGroup } from '../src/manage/bulk-cohort.js';
import { importPaths } from '../src/import/importer.js';
import { createTestClient, getAccessToken } from './helpers/auth.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';
import { auth, parseNdjson, runExport, startServer, type TestServer } from './helpers/server.js';

const TENANT = 'cohort-tenant';
const SYNTHEA = join(import.meta.dirname, 'fixtures', 'synthea-100');
const TYPES = ['Patient', 'Condition'];
const PROFILE = 'http://hl7.org/fhir/uv/bulkdata/StructureDefinition/bulk-cohort-group';
const MEMBER_FILTER = 'http://hl7.org/fhir/uv/bulkdata/StructureDefinition/member-filter';
const SNOMED = 'http://snomed.info/sct';
const HYPERTENSION = '59621000';
const VIRAL_SINUSITIS = '444814009';
/** Below the viral sinusitis patients (66), above every other set used here. */
const MAX_MEMBERS = 60;

type R = Record<string, unknown> & { resourceType: string; id: string };
const fixture = new Map<string, R[]>(TYPES.map((t) => [t, parseNdjson(gunzipSync(readFileSync(join(SYNTHEA, `${t}.ndjson.gz`))).toString('utf8')) as R[]]));

/** Patients with a Condition coded `system|code` (by the Condition's subject), from the fixture files. */
function patientsWithCondition(system: string, code: string): Set<string> {
  const out = new Set<string>();
  for (const c of fixture.get('Condition') ?? []) {
    const codings = ((c['code'] as { coding?: { system?: string; code?: string }[] } | undefined)?.coding ?? []);
    if (!codings.some((x) => x.system === system && x.code === code)) continue;
    const ref = (c['subject'] as { reference?: string }).reference ?? '';
    out.add(ref.replace(/^Patient\//, ''));
  }
  return out;
}
const patientsOfGender = (gender: string): Set<string> => new Set((fixture.get('Patient') ?? []).filter((p) => p['gender'] === gender).map((p) => p.id));

let server: TestServer;
let base: string;
/** May create and delete groups, and export. */
let writer: { clientId: string; token: string };
/** Reads and exports only. */
let reader: { clientId: string; token: string };

beforeAll(async () => {
  server = await startServer({ export: { maxGroupMembers: MAX_MEMBERS } });
  const result = await importPaths({ resources: server.runtime.store.resources, tenant: TENANT, paths: TYPES.map((t) => join(SYNTHEA, `${t}.ndjson.gz`)), maxGroupMembers: 100 });
  expect(result.rejectedCount).toBe(0);
  writer = await server.client(TENANT, 'system/*.rs system/Group.cd');
  reader = await server.client(TENANT, 'system/*.rs');
  base = server.base(TENANT);
}, 60_000);

afterAll(async () => {
  await server?.close();
});

const cohort = (name: string, ...expressions: string[]): Record<string, unknown> => ({
  resourceType: 'Group',
  meta: { profile: [PROFILE] },
  name,
  type: 'person',
  actual: false,
  modifierExtension: expressions.map((expression) => ({ url: MEMBER_FILTER, valueExpression: { language: 'application/x-fhir-query', expression } })),
});

const post = (body: unknown, token: string, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${base}/Group`, {
    method: 'POST',
    headers: auth(token, { 'content-type': 'application/fhir+json', accept: 'application/fhir+json', ...headers }),
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const postAsync = (body: unknown, token = writer.token): Promise<Response> => post(body, token, { prefer: 'respond-async' });

/** Polls an async status URL until it stops answering 202; returns the final answer and the first one. */
async function poll(url: string, token = writer.token): Promise<{ final: Response; first: Response }> {
  const deadline = Date.now() + 30_000;
  let first: Response | undefined;
  for (;;) {
    const r = await fetch(url, { headers: auth(token, { accept: 'application/fhir+json' }) });
    first ??= r;
    if (r.status !== 202 || Date.now() > deadline) return { final: r, first };
    await r.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

const groupCount = async (query = ''): Promise<number> => {
  const r = await fetch(`${base}/Group?_summary=count${query}`, { headers: auth(reader.token) });
  expect(r.status).toBe(200);
  return ((await r.json()) as { total: number }).total;
};

const outcome = async (r: Response): Promise<{ code: string; diagnostics: string }> => {
  expect(r.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
  const body = (await r.json()) as { resourceType: string; issue: { code: string; diagnostics: string }[] };
  expect(body.resourceType).toBe('OperationOutcome');
  return body.issue[0] as { code: string; diagnostics: string };
};

interface BatchResponse {
  resourceType: string;
  type: string;
  entry: { fullUrl: string; resource?: R; response: { status: string; location: string } }[];
}

describe('asynchronous create (Prefer: respond-async)', () => {
  it('accepts the Group, answers 202 while pending, then a batch-response with 201 and the location; the group reads, searches and exports its members', async () => {
    const kick = await postAsync(cohort('Hypertensive women', `Condition?code=${SNOMED}|${HYPERTENSION}`, 'Patient?gender=female'));
    expect(kick.status).toBe(202);
    const statusUrl = kick.headers.get('content-location') as string;
    expect(statusUrl).toMatch(new RegExp(`^${base}/async-requests/[0-9a-f-]{36}$`));

    const { first, final } = await poll(statusUrl);
    expect(first.status).toBe(202);
    expect(first.headers.get('x-progress')).toBeTruthy();
    expect(first.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(final.status).toBe(200);
    const bundle = (await final.json()) as BatchResponse;
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.type).toBe('batch-response');
    expect(bundle.entry).toHaveLength(1);
    const entry = bundle.entry[0] as BatchResponse['entry'][number];
    expect(entry.response.status).toBe('201 Created');
    const m = new RegExp(`^${base}/Group/([0-9a-f-]{36})/_history/1$`).exec(entry.response.location);
    expect(m).not.toBeNull();
    const id = m?.[1] as string;

    const read = await fetch(`${base}/Group/${id}`, { headers: auth(reader.token) });
    expect(read.status).toBe(200);
    const group = (await read.json()) as R & { meta: { profile: string[] }; modifierExtension: { url: string; valueExpression: { expression: string } }[] };
    expect(group.meta.profile).toEqual([PROFILE]);
    expect(group['name']).toBe('Hypertensive women');
    expect(group['actual']).toBe(false);
    expect(group['type']).toBe('person');
    expect(group.modifierExtension.map((e) => e.valueExpression.expression)).toEqual([`Condition?code=${SNOMED}|${HYPERTENSION}`, 'Patient?gender=female']);
    expect(entry.resource?.id).toBe(id);

    const search = await fetch(`${base}/Group?name=hypertensive`, { headers: auth(reader.token) });
    const found = (await search.json()) as { entry?: { resource: { id: string } }[] };
    expect(found.entry?.map((e) => e.resource.id)).toEqual([id]);

    // Exported by the client that created it (and by any client that reads the tenant), members evaluated at kick-off.
    const expected = [...patientsWithCondition(SNOMED, HYPERTENSION)].filter((p) => patientsOfGender('female').has(p)).sort();
    expect(expected.length).toBeGreaterThan(2);
    expect(expected.length).toBeLessThan(patientsWithCondition(SNOMED, HYPERTENSION).size);
    const exported = await runExport(server, writer.token, `${base}/Group/${id}/$export?_type=Patient,Condition`);
    expect((exported.byType.get('Patient') ?? []).map((p) => p['id']).sort()).toEqual(expected);
    const conditionSubjects = new Set((exported.byType.get('Condition') ?? []).map((c) => ((c['subject'] as { reference: string }).reference).replace('Patient/', '')));
    expect([...conditionSubjects].sort()).toEqual(expected);

    // The status stays answerable until deleted; another client's token does not see it.
    expect((await fetch(statusUrl, { headers: auth(writer.token) })).status).toBe(200);
    expect((await fetch(statusUrl, { headers: auth(reader.token) })).status).toBe(404);

    const events = await server.runtime.audit.list({ tenant: TENANT, action: 'group.create' });
    const mine = events.filter((e) => e.clientId === writer.clientId && e.outcome === 'success');
    expect(mine.map((e) => e.status)).toEqual(expect.arrayContaining([202, 201]));
    expect(mine.find((e) => e.status === 201)?.detail).toBe(`Group/${id}`);
  }, 60_000);

  it('reports a cohort larger than a group may be as the failed request (422 too-costly), and stores no group', async () => {
    const before = await groupCount();
    const kick = await postAsync(cohort('Too many', `Condition?code=${SNOMED}|${VIRAL_SINUSITIS}`));
    expect(kick.status).toBe(202);
    const { final } = await poll(kick.headers.get('content-location') as string);
    expect(final.status).toBe(422);
    const issue = await outcome(final);
    expect(issue.code).toBe('too-costly');
    expect(issue.diagnostics).toContain(String(MAX_MEMBERS));
    expect(await groupCount()).toBe(before);
    const failures = await server.runtime.audit.list({ tenant: TENANT, action: 'group.create', outcome: 'failure' });
    expect(failures.some((e) => e.clientId === writer.clientId && e.status === 422)).toBe(true);
  });

  it('cancels a pending request with DELETE on the status URL: 202, then 404, and no group is created', async () => {
    const kick = await postAsync(cohort('Cancelled cohort', 'Patient?gender=male'));
    expect(kick.status).toBe(202);
    const statusUrl = kick.headers.get('content-location') as string;
    const del = await fetch(statusUrl, { method: 'DELETE', headers: auth(writer.token) });
    expect(del.status).toBe(202);
    expect((await fetch(statusUrl, { headers: auth(writer.token) })).status).toBe(404);
    // Past the moment the request would have been carried out.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await groupCount('&name:exact=Cancelled%20cohort')).toBe(0);
    const cancels = await server.runtime.audit.list({ tenant: TENANT, action: 'group.create.cancel' });
    expect(cancels.some((e) => e.clientId === writer.clientId && e.outcome === 'success')).toBe(true);
    // A second DELETE finds nothing.
    expect((await fetch(statusUrl, { method: 'DELETE', headers: auth(writer.token) })).status).toBe(404);
  });
});

describe('a request no process is working on', () => {
  it('is carried out by the next status poll (a restart loses no request)', async () => {
    const group = checkCohortGroup(cohort('Left pending', 'Patient?gender=female'));
    const at = Date.now() - 5000;
    const id = randomUUID();
    // As a process that stopped after accepting it leaves it: stored, pending, no timer anywhere.
    await server.runtime.store.asyncRequests.createRequest({ id, tenant: TENANT, clientId: writer.clientId, request: 'POST Group', payload: JSON.stringify({ group }), createdAt: at, expiresAt: at + 3_600_000 });
    const r = await fetch(`${base}/async-requests/${id}`, { headers: auth(writer.token) });
    expect(r.status).toBe(200);
    const bundle = (await r.json()) as BatchResponse;
    expect(bundle.entry[0]?.response.location).toBe(`${base}/Group/${group.id}/_history/1`);
    expect((await fetch(`${base}/Group/${group.id}`, { headers: auth(reader.token) })).status).toBe(200);
  });
});

describe('synchronous create', () => {
  it('answers 201 with Location, ETag and the stored Group', async () => {
    const r = await post(cohort('Men', 'Patient?gender=male'), writer.token);
    expect(r.status).toBe(201);
    const group = (await r.json()) as R & { meta: { versionId: string; profile: string[] } };
    expect(r.headers.get('location')).toBe(`${base}/Group/${group.id}/_history/1`);
    expect(r.headers.get('etag')).toBe('W/"1"');
    expect(group.meta.profile).toEqual([PROFILE]);
    const read = await fetch(`${base}/Group/${group.id}`, { headers: auth(writer.token) });
    expect(((await read.json()) as R)['name']).toBe('Men');
    const exported = await runExport(server, writer.token, `${base}/Group/${group.id}/$export?_type=Patient`);
    expect((exported.byType.get('Patient') ?? []).map((p) => p['id']).sort()).toEqual([...patientsOfGender('male')].sort());
  }, 60_000);

  it('assigns its own id (a client id in the body is not taken)', async () => {
    const r = await post({ ...cohort('With an id', 'Patient?gender=female'), id: 'chosen-by-client' }, writer.token);
    expect(r.status).toBe(201);
    expect(((await r.json()) as R).id).not.toBe('chosen-by-client');
  });
});

describe('refusals', () => {
  it.each([
    ['an unsupported parameter', cohort('x', 'Condition?onset-age=gt10'), 422, 'onset-age'],
    ['a chained parameter', cohort('x', 'Condition?subject.name=x'), 422, 'subject.name'],
    ['a result parameter', cohort('x', 'Condition?_sort=date'), 422, '_sort'],
    ['a type outside the compartment', cohort('x', 'Practitioner?name=x'), 422, 'Practitioner'],
    ['bad syntax', cohort('x', 'Condition'), 422, 'Type?parameter=value'],
    ['a bad date', cohort('x', 'Condition?onset-date=ge2024-13-45'), 422, '2024-13-45'],
    ['another expression language', { ...cohort('x'), modifierExtension: [{ url: MEMBER_FILTER, valueExpression: { language: 'text/cql', expression: 'true' } }] }, 422, 'text/cql'],
    ['no member-filter', cohort('x'), 422, 'member-filter'],
    ['an unknown modifier extension', { ...cohort('x', 'Patient?gender=male'), modifierExtension: [{ url: 'http://example.org/other' }] }, 422, 'http://example.org/other'],
    ['no name', { ...cohort('x', 'Patient?gender=male'), name: undefined }, 422, 'name'],
    ['actual true', { ...cohort('x', 'Patient?gender=male'), actual: true }, 422, 'actual'],
    ['listed members', { ...cohort('x', 'Patient?gender=male'), member: [{ entity: { reference: 'Patient/x' } }] }, 422, 'member'],
    ['implicit rules', { ...cohort('x', 'Patient?gender=male'), implicitRules: 'http://example.org/rules' }, 422, 'implicitRules'],
    ['a practitioner group', { ...cohort('x', 'Patient?gender=male'), type: 'practitioner' }, 422, 'person'],
    ['another resource', { resourceType: 'Patient' }, 400, 'Group'],
    ['text that is not JSON', '{"resourceType": "Group", ', 400, ''],
    ['a JSON array', '[]', 400, 'Group'],
  ])('refuses %s, naming it, and stores nothing', async (_label, body, status, named) => {
    const before = await groupCount();
    for (const send of [() => post(body, writer.token), () => postAsync(body)]) {
      const r = await send();
      expect(r.status).toBe(status);
      expect(r.headers.get('content-location')).toBeNull();
      const issue = await outcome(r);
      expect(issue.diagnostics).toContain(named);
    }
    expect(await groupCount()).toBe(before);
  });

  it('refuses a body that is not JSON with 415', async () => {
    const r = await post('name=x', writer.token, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(r.status).toBe(415);
    expect((await r.json()) as { resourceType: string }).toMatchObject({ resourceType: 'OperationOutcome' });
  });

  it('refuses a token without Group create or delete with 403', async () => {
    const before = await groupCount();
    const r = await post(cohort('Not allowed', 'Patient?gender=male'), reader.token);
    expect(r.status).toBe(403);
    expect((await outcome(r)).code).toBe('forbidden');
    expect((await postAsync(cohort('Not allowed', 'Patient?gender=male'), reader.token)).status).toBe(403);
    expect(await groupCount()).toBe(before);
    const made = (await (await post(cohort('Kept', 'Patient?gender=male'), writer.token)).json()) as R;
    const del = await fetch(`${base}/Group/${made.id}`, { method: 'DELETE', headers: auth(reader.token) });
    expect(del.status).toBe(403);
    expect((await fetch(`${base}/Group/${made.id}`, { headers: auth(reader.token) })).status).toBe(200);
    const refused = await server.runtime.audit.list({ tenant: TENANT, action: 'group', outcome: 'failure' });
    expect(refused.filter((e) => e.clientId === reader.clientId && e.status === 403).length).toBeGreaterThanOrEqual(3);
  });

  it('grants Group create and delete only as pre-authorized, and writes on no other type', async () => {
    const client = await createTestClient(server.runtime.store.clients, TENANT, 'system/*.rs system/Group.c');
    const tokenUrl = server.tokenUrl(TENANT);
    const audience = server.runtime.auth.tokenUrl(server.runtime.origin(), TENANT);
    await expect(getAccessToken(tokenUrl, client, 'system/Patient.cud', audience)).rejects.toThrow(/400 invalid_scope/);
    // Asked for everything, granted reads and the Group create it was pre-authorized for (no delete).
    const token = await getAccessToken(tokenUrl, client, 'system/*.cruds', audience);
    expect(String(decodeJwt(token)['scope'])).toBe('system/*.rs system/Group.c');
    const made = await post(cohort('Create only', 'Patient?gender=male'), token);
    expect(made.status).toBe(201);
    const id = ((await made.json()) as R).id;
    expect((await fetch(`${base}/Group/${id}`, { method: 'DELETE', headers: auth(token) })).status).toBe(403);
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After beyond the accepted creations a client may make per minute; refusals cost nothing, other clients keep theirs', async () => {
    const limited = await startServer({ auth: { groupCreatesPerMinute: 2 } }, { worker: false });
    try {
      await limited.runtime.store.tenants.createTenant(TENANT, 'Cohorts', Date.now());
      const w = await limited.client(TENANT, 'system/*.rs system/Group.cd');
      const other = await limited.client(TENANT, 'system/*.rs system/Group.cd');
      const r = await limited.client(TENANT, 'system/*.rs');
      const url = `${limited.base(TENANT)}/Group`;
      const send = (body: unknown, token: string, headers: Record<string, string> = {}): Promise<Response> =>
        fetch(url, { method: 'POST', headers: auth(token, { 'content-type': 'application/fhir+json', ...headers }), body: typeof body === 'string' ? body : JSON.stringify(body) });
      const refused: [unknown, string, Record<string, string>, number][] = [
        [{ resourceType: 'Patient' }, w.token, {}, 400],
        ['{"resourceType": "Group", ', w.token, {}, 400],
        [cohort('x', 'Patient?gender=male'), r.token, {}, 403],
        ['name=x', w.token, { 'content-type': 'application/x-www-form-urlencoded' }, 415],
        [cohort('x', 'Condition?_sort=date'), w.token, {}, 422],
        [{ ...cohort('x', 'Patient?gender=male'), type: 'practitioner' }, w.token, { prefer: 'respond-async' }, 422],
      ];
      for (let round = 0; round < 3; round++) {
        for (const [body, token, headers, status] of refused) {
          const answer = await send(body, token, headers);
          expect(answer.status).toBe(status);
          await answer.arrayBuffer();
        }
      }
      // eighteen refusals later, both creations of the allowance are there: one synchronous, one asynchronous
      const sync = await send(cohort('First', 'Patient?gender=male'), w.token);
      expect(sync.status).toBe(201);
      const async = await send(cohort('Second', 'Patient?gender=female'), w.token, { prefer: 'respond-async' });
      expect(async.status).toBe(202);
      for (const headers of [{}, { prefer: 'respond-async' }] as Record<string, string>[]) {
        const over = await send(cohort('Third', 'Patient?gender=male'), w.token, headers);
        expect(over.status).toBe(429);
        expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(over.headers.get('content-location')).toBeNull();
        const issue = await outcome(over);
        expect(issue.code).toBe('throttled');
        expect(issue.diagnostics).toMatch(/Too many Group creations/);
      }
      // the 429s stored no group (the asynchronous one done, two groups in all), and were recorded as refusals
      expect((await poll(async.headers.get('content-location') as string, w.token)).final.status).toBe(200);
      const count = await fetch(`${url}?_summary=count`, { headers: auth(r.token) });
      expect(((await count.json()) as { total: number }).total).toBe(2);
      const throttledEvents = await limited.runtime.audit.list({ tenant: TENANT, action: 'group.create', outcome: 'failure' });
      expect(throttledEvents.filter((e) => e.clientId === w.clientId && e.status === 429)).toHaveLength(2);
      // the limit is per client
      expect((await send(cohort('Another client', 'Patient?gender=male'), other.token)).status).toBe(201);
    } finally {
      await limited.close();
    }
  });
});

describe('delete', () => {
  it('deletes a created group (204, then 404), recorded in the audit trail with the client', async () => {
    const made = (await (await post(cohort('To delete', 'Patient?gender=female'), writer.token)).json()) as R;
    const del = await fetch(`${base}/Group/${made.id}`, { method: 'DELETE', headers: auth(writer.token) });
    expect(del.status).toBe(204);
    expect((await fetch(`${base}/Group/${made.id}`, { headers: auth(writer.token) })).status).toBe(404);
    expect((await fetch(`${base}/Group/${made.id}`, { method: 'DELETE', headers: auth(writer.token) })).status).toBe(404);
    const events = await server.runtime.audit.list({ tenant: TENANT, action: 'group.delete', clientId: writer.clientId });
    expect(events.some((e) => e.outcome === 'success' && e.detail === `Group/${made.id}`)).toBe(true);
  });

  it('refuses to delete a group of listed members (405), which stays', async () => {
    const patient = (fixture.get('Patient') ?? [])[0] as R;
    await server.runtime.store.resources.writeBatch(TENANT, [
      prepareResource({ resourceType: 'Group', id: 'roster', type: 'person', actual: true, name: 'Roster', member: [{ entity: { reference: `Patient/${patient.id}` } }] }),
    ]);
    const del = await fetch(`${base}/Group/roster`, { method: 'DELETE', headers: auth(writer.token) });
    expect(del.status).toBe(405);
    expect((await outcome(del)).diagnostics).toContain('Group/roster');
    expect((await fetch(`${base}/Group/roster`, { headers: auth(writer.token) })).status).toBe(200);
  });
});

describe('CapabilityStatement', () => {
  it('lists create and delete on Group, the Bulk Cohort profile and the member-filter parameters', async () => {
    const cs = (await (await fetch(`${base}/metadata`)).json()) as {
      rest: { resource: { type: string; interaction?: { code: string }[]; supportedProfile?: string[]; documentation?: string }[] }[];
    };
    const group = cs.rest[0]?.resource.find((r) => r.type === 'Group');
    expect(group?.interaction?.map((i) => i.code)).toEqual(['read', 'search-type', 'create', 'delete']);
    expect(group?.supportedProfile).toEqual([PROFILE]);
    expect(group?.documentation).toContain(MEMBER_FILTER);
    expect(group?.documentation).toMatch(/each export's kick-off/);
    expect(group?.documentation).toMatch(/^- Condition: code, clinical-status/m);
    expect(group?.documentation).toMatch(/^- Patient: gender, birthdate/m);
  });
});

describe('on PostgreSQL', () => {
  const schema = freshSchema('cohort');
  let pgServer: TestServer;
  let pgBase: string;
  let pgToken: string;

  beforeAll(async () => {
    pgServer = await startServer({ databaseUrl: `${TEST_DATABASE_URL}?schema=${schema.name}`, export: { maxGroupMembers: MAX_MEMBERS } });
    await importPaths({ resources: pgServer.runtime.store.resources, tenant: TENANT, paths: TYPES.map((t) => join(SYNTHEA, `${t}.ndjson.gz`)), maxGroupMembers: 100 });
    pgToken = (await pgServer.client(TENANT, 'system/*.rs system/Group.cd')).token;
    pgBase = pgServer.base(TENANT);
  }, 60_000);

  afterAll(async () => {
    await pgServer?.close();
    await schema.drop();
  });

  it('creates asynchronously, exports the members, cancels and deletes as on SQLite', async () => {
    const kick = await fetch(`${pgBase}/Group`, {
      method: 'POST',
      headers: auth(pgToken, { 'content-type': 'application/fhir+json', prefer: 'respond-async' }),
      body: JSON.stringify(cohort('Hypertension', `Condition?code=${SNOMED}|${HYPERTENSION}`)),
    });
    expect(kick.status).toBe(202);
    const { first, final } = await poll(kick.headers.get('content-location') as string, pgToken);
    expect(first.status).toBe(202);
    expect(final.status).toBe(200);
    const location = ((await final.json()) as BatchResponse).entry[0]?.response.location as string;
    const id = /\/Group\/([^/]+)\/_history\/1$/.exec(location)?.[1] as string;
    const exported = await runExport(pgServer, pgToken, `${pgBase}/Group/${id}/$export?_type=Patient`);
    expect((exported.byType.get('Patient') ?? []).map((p) => p['id']).sort()).toEqual([...patientsWithCondition(SNOMED, HYPERTENSION)].sort());

    const cancelled = await fetch(`${pgBase}/Group`, {
      method: 'POST',
      headers: auth(pgToken, { 'content-type': 'application/fhir+json', prefer: 'respond-async' }),
      body: JSON.stringify(cohort('Never made', 'Patient?gender=male')),
    });
    const cancelUrl = cancelled.headers.get('content-location') as string;
    expect((await fetch(cancelUrl, { method: 'DELETE', headers: auth(pgToken) })).status).toBe(202);
    expect((await fetch(cancelUrl, { headers: auth(pgToken) })).status).toBe(404);

    expect((await fetch(`${pgBase}/Group/${id}`, { method: 'DELETE', headers: auth(pgToken) })).status).toBe(204);
    await new Promise((r) => setTimeout(r, 1200));
    const left = (await (await fetch(`${pgBase}/Group?_summary=count`, { headers: auth(pgToken) })).json()) as { total: number };
    expect(left.total).toBe(0);
  }, 60_000);
});
