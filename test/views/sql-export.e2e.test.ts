/**
 * $sql-export and $sql-run end to end over the Synthea fixture: two views over a Group in each format, the rows
 * checked against values computed here from the fixture files, Parquet and CSV read back by DuckDB with their
 * types, a SQLQuery joining the two views, scopes, cancellation, and $sql-run's formats and bounds.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareResource } from '../../src/fhir/prepare.js';
import type { FhirResource } from '../../src/fhir/resource.js';
import { importPaths } from '../../src/import/importer.js';
import { LIBRARY_VIEWS } from '../../src/views/library.js';
import { auth, startServer, type TestServer } from '../helpers/server.js';

const TENANT = 'views-e2e';
const ADMIN_TOKEN = 'admin-token-for-views-e2e';
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'synthea-100');
type R = Record<string, unknown> & { resourceType: string; id: string };

let server: TestServer;
let token: string;
let base: string;
let work: string;
const fixture = new Map<string, R[]>();
let members: string[] = [];

const read = async (type: string): Promise<R[]> =>
  gunzipSync(await readFile(join(FIXTURE, `${type}.ndjson.gz`)))
    .toString()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as R);

const subjectOf = (r: R): string | undefined => ((r.subject as { reference?: string } | undefined)?.reference ?? '').split('/')[1];

/** Expected rows, computed from the fixture without the view machinery. */
function expectedPatients(): Record<string, unknown>[] {
  return (fixture.get('Patient') ?? [])
    .filter((p) => members.includes(p.id))
    .map((p) => ({ id: p.id, gender: p.gender, birth_date: p.birthDate }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

interface ObsRow {
  id: string;
  patient_id: string;
  component: number | null;
  code: string;
  value_quantity: number | null;
}
function expectedObservations(): ObsRow[] {
  const rows: ObsRow[] = [];
  for (const o of fixture.get('Observation') ?? []) {
    const patient = subjectOf(o) as string;
    if (!members.includes(patient)) continue;
    const coding = (c: unknown): string => ((c as { coding?: { code: string }[] }).coding?.[0]?.code ?? '') as string;
    const quantity = (x: Record<string, unknown>): number | null => ((x.valueQuantity as { value?: number } | undefined)?.value ?? null);
    rows.push({ id: o.id, patient_id: patient, component: null, code: coding(o.code), value_quantity: quantity(o) });
    ((o.component as Record<string, unknown>[] | undefined) ?? []).forEach((c, i) =>
      rows.push({ id: o.id, patient_id: patient, component: i, code: coding(c.code), value_quantity: quantity(c) }),
    );
  }
  return rows.sort((a, b) => `${a.id}/${a.component ?? -1}`.localeCompare(`${b.id}/${b.component ?? -1}`));
}

const observationsView = LIBRARY_VIEWS.find((v) => v.name === 'observations');

function exportBody(format: string, extra: object[] = []): object {
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'clientTrackingId', valueString: `track-${format}` },
      { name: 'subject', part: [{ name: 'subjectCanonical', valueCanonical: 'https://flatfhir.dev/ViewDefinition/patient_demographics' }] },
      { name: 'subject', part: [{ name: 'name', valueString: 'obs' }, { name: 'subjectResource', resource: observationsView }] },
      { name: 'group', valueReference: { reference: 'Group/cohort' } },
      { name: '_format', valueCode: format },
      ...extra,
    ],
  };
}

async function kickoff(body: object, tok = token): Promise<Response> {
  return fetch(`${base}/$sql-export`, {
    method: 'POST',
    headers: { ...auth(tok), 'content-type': 'application/fhir+json', prefer: 'respond-async', accept: 'application/fhir+json' },
    body: JSON.stringify(body),
  });
}

type Param = { name: string; valueString?: string; valueUri?: string; valueCode?: string; part?: Param[] };

/** Kick-off, polls (202 with X-Progress) until 303, then the result: the manifest Parameters. */
async function runSqlExport(body: object): Promise<{ manifest: { parameter: Param[] }; statusUrl: string; polls: Response[] }> {
  const kick = await kickoff(body);
  expect(kick.status, await kick.clone().text()).toBe(202);
  const statusUrl = kick.headers.get('content-location') as string;
  expect(statusUrl).toMatch(new RegExp(`^${base}/sql-export/jobs/[0-9a-f-]{36}$`));
  const polls: Response[] = [];
  let done: Response | undefined;
  for (let i = 0; i < 600 && !done; i++) {
    const r = await fetch(statusUrl, { headers: auth(token), redirect: 'manual' });
    polls.push(r);
    if (r.status === 303) done = r;
    else {
      expect(r.status).toBe(202);
      expect(r.headers.get('x-progress')).toMatch(/^\d+%$/);
      await r.arrayBuffer();
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  const location = done?.headers.get('location') as string;
  expect(location).toBe(`${statusUrl}/result`);
  const result = await fetch(location, { headers: auth(token) });
  expect(result.status).toBe(200);
  return { manifest: (await result.json()) as { parameter: Param[] }, statusUrl, polls };
}

function outputs(manifest: { parameter: Param[] }): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const p of manifest.parameter.filter((x) => x.name === 'output')) {
    const name = p.part?.find((x) => x.name === 'name')?.valueString as string;
    out.set(name, (p.part ?? []).filter((x) => x.name === 'location').map((x) => x.valueUri as string));
  }
  return out;
}

/** Downloads every part of an output (307 to a signed URL, fetched without Authorization) to files in `work`. */
const DOWNLOAD_TYPES: Record<string, string> = {
  csv: 'text/csv',
  parquet: 'application/vnd.apache.parquet',
  json: 'application/json',
  ndjson: 'application/fhir+ndjson',
};

async function downloadParts(urls: string[], ext: string): Promise<string[]> {
  const paths: string[] = [];
  for (const url of urls) {
    const redirect = await fetch(url, { headers: auth(token), redirect: 'manual' });
    expect(redirect.status).toBe(307);
    const file = await fetch(redirect.headers.get('location') as string);
    expect(file.status).toBe(200);
    // Each format downloads with its own media type.
    expect(file.headers.get('content-type')?.split(';')[0]).toBe(DOWNLOAD_TYPES[ext]);
    const path = join(work, `${paths.length}-${Math.random().toString(36).slice(2)}.${ext}`);
    await writeFile(path, Buffer.from(await file.arrayBuffer()));
    paths.push(path);
  }
  return paths;
}

async function duckdb<T>(run: (query: (sql: string) => Promise<{ rows: Record<string, unknown>[]; types: Record<string, string> }>) => Promise<T>): Promise<T> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    return await run(async (sql) => {
      const r = await c.runAndReadAll(sql);
      const names = r.columnNames();
      const types = Object.fromEntries(names.map((n, i) => [n, String(r.columnTypes()[i])]));
      return { rows: r.getRowObjectsJson() as Record<string, unknown>[], types };
    });
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

const list = (paths: string[]): string => `[${paths.map((p) => `'${p}'`).join(', ')}]`;

/** The rows of an output in any format, as plain JSON objects (CSV and Parquet read by DuckDB). */
async function readOutput(format: string, paths: string[]): Promise<{ rows: Record<string, unknown>[]; types?: Record<string, string> }> {
  if (format === 'ndjson') {
    const rows = (await Promise.all(paths.map((p) => readFile(p, 'utf8')))).flatMap((t) => t.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>));
    return { rows };
  }
  if (format === 'json') return { rows: (await Promise.all(paths.map(async (p) => JSON.parse(await readFile(p, 'utf8')) as Record<string, unknown>[]))).flat() };
  const reader = format === 'csv' ? `read_csv(${list(paths)}, header = true, all_varchar = true)` : `read_parquet(${list(paths)})`;
  return duckdb((q) => q(`SELECT * FROM ${reader}`));
}

beforeAll(async () => {
  server = await startServer({ views: { runMaxRows: 50 }, export: { chunkResources: 2000, threads: 1 }, auth: { adminToken: ADMIN_TOKEN } });
  for (const type of ['Patient', 'Observation']) fixture.set(type, await read(type));
  const result = await importPaths({ resources: server.runtime.store.resources, tenant: TENANT, paths: [join(FIXTURE, 'Patient.ndjson.gz'), join(FIXTURE, 'Observation.ndjson.gz'), join(FIXTURE, 'Encounter.ndjson.gz')], maxGroupMembers: 1000 });
  expect(result.rejectedCount).toBe(0);
  members = (fixture.get('Patient') ?? []).map((p) => p.id).sort().slice(0, 30);
  const group = { resourceType: 'Group', id: 'cohort', type: 'person', actual: true, member: members.map((id) => ({ entity: { reference: `Patient/${id}` } })) };
  await server.runtime.store.resources.writeBatch(TENANT, [prepareResource(group as unknown as FhirResource)]);
  token = (await server.client(TENANT)).token;
  base = server.base(TENANT);
  work = await mkdtemp(join(tmpdir(), 'flatfhir-views-e2e-'));
}, 180_000);

afterAll(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('$sql-export', () => {
  for (const format of ['ndjson', 'csv', 'json', 'parquet']) {
    it(`exports two views over a Group as ${format}, one output each, rows as computed from the fixture`, async () => {
      const { manifest } = await runSqlExport(exportBody(format));
      const params = new Map(manifest.parameter.map((p) => [p.name, p]));
      expect(params.get('status')?.valueCode).toBe('completed');
      expect(params.get('clientTrackingId')?.valueString).toBe(`track-${format}`);
      expect(params.get('_format')?.valueCode).toBe(format);
      const outs = outputs(manifest);
      expect([...outs.keys()].sort()).toEqual(['obs', 'patient_demographics']);

      const patients = await readOutput(format, await downloadParts(outs.get('patient_demographics') as string[], format));
      const gotPatients = patients.rows
        .map((r) => ({ id: r.id, gender: r.gender, birth_date: r.birth_date }))
        .sort((a, b) => String(a.id).localeCompare(String(b.id)));
      expect(gotPatients).toEqual(expectedPatients());

      const obs = await readOutput(format, await downloadParts(outs.get('obs') as string[], format));
      const num = (v: unknown): number | null => (v === null || v === undefined || v === '' ? null : Number(v));
      const gotObs = obs.rows
        .map((r) => ({ id: r.id, patient_id: r.patient_id, component: num(r.component), code: r.code, value_quantity: num(r.value_quantity) }))
        .sort((a, b) => `${String(a.id)}/${a.component ?? -1}`.localeCompare(`${String(b.id)}/${b.component ?? -1}`));
      const want = expectedObservations();
      expect(gotObs.length).toBe(want.length);
      expect(gotObs).toEqual(want);

      if (format === 'parquet') {
        expect(patients.types).toMatchObject({ id: 'VARCHAR', gender: 'VARCHAR', birth_date: 'VARCHAR', deceased: 'BOOLEAN' });
        expect(obs.types).toMatchObject({ component: 'INTEGER', value_quantity: 'DOUBLE', issued: 'TIMESTAMP WITH TIME ZONE', value_boolean: 'BOOLEAN' });
      }
      if (format === 'csv') {
        // The header row names the columns in view order; DuckDB's own inference reads the same rows back.
        const paths = await downloadParts(outs.get('patient_demographics') as string[], 'csv');
        const header = (await readFile(paths[0] as string, 'utf8')).split('\r\n')[0];
        expect(header).toBe('id,gender,birth_date,deceased,deceased_date,marital_status,language,family,given,city,state,postal_code,country');
        const inferred = await duckdb((q) => q(`SELECT * FROM read_csv(${list(paths)}, header = true)`));
        expect(inferred.types.deceased).toBe('BOOLEAN');
        expect(inferred.rows.length).toBe(members.length);
      }
    });
  }

  it('answers a SQLQuery joining the two views, computed over the same snapshot', async () => {
    const sql = 'SELECT p.gender AS gender, count(*) AS n FROM obs o JOIN patients p ON o.patient_id = p.id WHERE o.component IS NULL GROUP BY p.gender ORDER BY p.gender';
    const query = {
      resourceType: 'Library',
      name: 'obs_by_gender',
      status: 'active',
      type: { coding: [{ system: 'http://hl7.org/fhir/uv/sql-on-fhir/CodeSystem/LibraryTypesCodes', code: 'sql-query' }] },
      relatedArtifact: [
        { type: 'depends-on', resource: 'https://flatfhir.dev/ViewDefinition/patient_demographics', label: 'patients' },
        { type: 'depends-on', resource: 'https://flatfhir.dev/ViewDefinition/observations', label: 'obs' },
      ],
      content: [{ contentType: 'application/sql', data: Buffer.from(sql).toString('base64') }],
    };
    const { manifest } = await runSqlExport({
      resourceType: 'Parameters',
      parameter: [
        { name: 'subject', part: [{ name: 'subjectResource', resource: query }] },
        { name: 'group', valueReference: { reference: 'Group/cohort' } },
        { name: '_format', valueCode: 'csv' },
      ],
    });
    const outs = outputs(manifest);
    const csv = await readFile((await downloadParts(outs.get('obs_by_gender') as string[], 'csv'))[0] as string, 'utf8');
    const genders = new Map((fixture.get('Patient') ?? []).map((p) => [p.id, p.gender as string]));
    const counts = new Map<string, number>();
    for (const o of fixture.get('Observation') ?? []) {
      const p = subjectOf(o) as string;
      if (members.includes(p)) counts.set(genders.get(p) as string, (counts.get(genders.get(p) as string) ?? 0) + 1);
    }
    const expected = ['gender,n', ...[...counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([g, n]) => `${g},${n}`)].join('\r\n');
    expect(csv.trim()).toBe(expected);
  });

  it('refuses a SQLQuery that writes, before any job starts', async () => {
    const query = {
      resourceType: 'Library',
      name: 'bad',
      type: { coding: [{ code: 'sql-query' }] },
      relatedArtifact: [{ type: 'depends-on', resource: 'https://flatfhir.dev/ViewDefinition/patient_demographics', label: 'patients' }],
      content: [{ contentType: 'application/sql', data: Buffer.from("COPY patients TO '/tmp/x.csv'").toString('base64') }],
    };
    const refused = await kickoff({ resourceType: 'Parameters', parameter: [{ name: 'subject', part: [{ name: 'subjectResource', resource: query }] }] });
    expect(refused.status).toBe(422);
    const outcome = (await refused.json()) as { issue: { diagnostics: string; expression?: string[] }[] };
    expect(outcome.issue[0]?.diagnostics).toMatch(/read-only/);
    expect(outcome.issue[0]?.expression).toEqual(['subject[0]']);
  });

  it('gates views by scope, validates the request at kick-off, and DELETE cancels', async () => {
    const patientOnly = (await server.client(TENANT, 'system/Patient.rs')).token;
    const refused = await kickoff(exportBody('csv'), patientOnly);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toMatch(/Observation/);

    const badFormat = await kickoff(exportBody('fhir'));
    expect(badFormat.status).toBe(400);
    const noGroup = await kickoff({ resourceType: 'Parameters', parameter: [{ name: 'subject', part: [{ name: 'subjectReference', valueReference: { reference: 'ViewDefinition/conditions' } }] }, { name: 'group', valueReference: { reference: 'Group/nope' } }] });
    expect(noGroup.status).toBe(400);
    expect(((await noGroup.json()) as { issue: { expression?: string[] }[] }).issue[0]?.expression).toEqual(['group']);
    const missing = await kickoff({ resourceType: 'Parameters', parameter: [{ name: 'subject', part: [{ name: 'subjectReference', valueReference: { reference: 'ViewDefinition/nothing_here' } }] }] });
    expect(missing.status).toBe(404);
    const duplicate = await kickoff({ resourceType: 'Parameters', parameter: [1, 2].map(() => ({ name: 'subject', part: [{ name: 'subjectReference', valueReference: { reference: 'ViewDefinition/conditions' } }] })) });
    expect(duplicate.status).toBe(400);
    const get = await fetch(`${base}/$sql-export`, { headers: auth(token) });
    expect(get.status).toBe(400);

    const kick = await kickoff(exportBody('ndjson'));
    expect(kick.status).toBe(202);
    const statusUrl = kick.headers.get('content-location') as string;
    const del = await fetch(statusUrl, { method: 'DELETE', headers: auth(token) });
    expect(del.status).toBe(202);
    const after = await fetch(statusUrl, { headers: auth(token), redirect: 'manual' });
    expect(after.status).toBe(404);
    const jobId = statusUrl.split('/').pop() as string;
    const objects = await readdir(join(server.dataDir, 'export', 'jobs', jobId)).catch(() => []);
    expect(objects).toEqual([]);
  });

  it('answers at ViewDefinition/$viewdefinition-export too', async () => {
    const kick = await fetch(`${base}/ViewDefinition/$viewdefinition-export`, {
      method: 'POST',
      headers: { ...auth(token), 'content-type': 'application/fhir+json', prefer: 'respond-async' },
      body: JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'subject', part: [{ name: 'subjectReference', valueReference: { reference: 'ViewDefinition/patient_demographics' } }] }, { name: 'patient', valueReference: { reference: `Patient/${members[1]}` } }] }),
    });
    expect(kick.status, await kick.clone().text()).toBe(202);
    const statusUrl = kick.headers.get('content-location') as string;
    for (let i = 0; i < 300; i++) {
      const r = await fetch(statusUrl, { headers: auth(token), redirect: 'manual' });
      await r.arrayBuffer();
      if (r.status === 303) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const result = (await (await fetch(`${statusUrl}/result`, { headers: auth(token) })).json()) as { parameter: Param[] };
    const rows = await readOutput('ndjson', await downloadParts(outputs(result).get('patient_demographics') as string[], 'ndjson'));
    expect(rows.rows.map((r) => r.id)).toEqual([members[1]]);
  });
});

describe('$sql-run', () => {
  const run = (query: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${base}/$sql-run?${query}`, { headers: { ...auth(token), ...headers } });

  it('answers a stored view as CSV, NDJSON, JSON, FHIR Parameters and Parquet for a patient', async () => {
    const patient = members[2] as string;
    const expected = expectedPatients().find((p) => p.id === patient) as Record<string, unknown>;
    const q = `subjectReference=ViewDefinition/patient_demographics&patient=Patient/${patient}`;
    const csv = await run(`${q}&_format=csv`);
    expect(csv.status, await csv.clone().text()).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]?.startsWith(`${patient},${String(expected.gender)},${String(expected.birth_date)},`)).toBe(true);

    const nd = await run(q);
    expect(nd.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(JSON.parse((await nd.text()).trim())).toMatchObject(expected);

    const fhir = (await (await run(`${q}&_format=fhir`)).json()) as { parameter: { name: string; part: Record<string, unknown>[] }[] };
    expect(fhir.parameter[0]?.part).toContainEqual({ name: 'birth_date', valueDate: expected.birth_date });
    expect(fhir.parameter[0]?.part).toContainEqual({ name: 'deceased', valueBoolean: false });

    const parquet = await run(`${q}&_format=parquet`);
    expect(parquet.headers.get('content-type')).toBe('application/vnd.apache.parquet');
    const path = join(work, 'run.parquet');
    await writeFile(path, Buffer.from(await parquet.arrayBuffer()));
    const back = await duckdb((qq) => qq(`SELECT id, gender FROM read_parquet('${path}')`));
    expect(back.rows).toEqual([{ id: patient, gender: expected.gender }]);
  });

  it('truncates at _limit, and points to $sql-export beyond the configured row bound', async () => {
    const limited = await run('subjectReference=ViewDefinition/patient_demographics&_limit=5&_format=ndjson');
    expect((await limited.text()).trim().split('\n')).toHaveLength(5);
    const tooMany = await run('subjectReference=ViewDefinition/patient_demographics');
    expect(tooMany.status).toBe(422);
    const outcome = (await tooMany.json()) as { issue: { code: string; diagnostics: string }[] };
    expect(outcome.issue[0]?.code).toBe('too-costly');
    expect(outcome.issue[0]?.diagnostics).toMatch(/\$sql-export/);
  });

  it('evaluates an inline view over supplied resources (POST)', async () => {
    const answer = await fetch(`${base}/$sql-run`, {
      method: 'POST',
      headers: { ...auth(token), 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Parameters',
        parameter: [
          { name: 'subjectResource', resource: { resourceType: 'ViewDefinition', resource: 'Patient', select: [{ column: [{ name: 'id', path: 'id' }, { name: 'n', path: 'name.count()', type: 'integer' }] }] } },
          { name: 'resource', resource: { resourceType: 'Patient', id: 'x1', name: [{ family: 'A' }, { family: 'B' }] } },
          { name: '_format', valueCode: 'json' },
        ],
      }),
    });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual([{ id: 'x1', n: 2 }]);
    const bad = await fetch(`${base}/$sql-run`, {
      method: 'POST',
      headers: { ...auth(token), 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'subjectResource', resource: { resourceType: 'ViewDefinition', resource: 'Patient', select: [{ forEach: '@@' }] } }] }),
    });
    expect(bad.status).toBe(422);
  });
});

describe('stored views (admin API)', () => {
  it('stores a view per tenant, which $sql-run then names by reference and by canonical url', async () => {
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const view = { resourceType: 'ViewDefinition', url: 'https://example.org/views/genders', resource: 'Patient', select: [{ column: [{ name: 'id', path: 'id' }, { name: 'gender', path: 'gender' }] }] };
    const put = await fetch(`${server.origin}/admin/tenants/${TENANT}/views/genders`, { method: 'PUT', headers: admin, body: JSON.stringify(view) });
    expect(put.status, await put.clone().text()).toBe(201);
    const again = await fetch(`${server.origin}/admin/tenants/${TENANT}/views/genders`, { method: 'PUT', headers: admin, body: JSON.stringify(view) });
    expect(again.status).toBe(200);
    const bad = await fetch(`${server.origin}/admin/tenants/${TENANT}/views/broken`, { method: 'PUT', headers: admin, body: JSON.stringify({ resource: 'Patient', select: [{ forEach: '@@' }] }) });
    expect(bad.status).toBe(400);
    const listed = (await (await fetch(`${server.origin}/admin/tenants/${TENANT}/views`, { headers: admin })).json()) as { views: { name: string }[] };
    expect(listed.views.map((v) => v.name)).toEqual(['genders']);

    const byReference = await fetch(`${base}/$sql-run?subjectReference=ViewDefinition/genders&patient=Patient/${members[0]}&_format=json`, { headers: auth(token) });
    expect(await byReference.json()).toEqual([{ id: members[0], gender: expectedPatients()[0]?.gender }]);
    const byCanonical = await fetch(`${base}/$sql-run?subjectCanonical=${encodeURIComponent('https://example.org/views/genders|1.0')}&_limit=2&_format=json`, { headers: auth(token) });
    expect(((await byCanonical.json()) as unknown[]).length).toBe(2);

    const del = await fetch(`${server.origin}/admin/tenants/${TENANT}/views/genders`, { method: 'DELETE', headers: { authorization: admin.authorization } });
    expect(del.status).toBe(204);
    const gone = await fetch(`${base}/$sql-run?subjectReference=ViewDefinition/genders`, { headers: auth(token) });
    expect(gone.status).toBe(404);
  });
});
