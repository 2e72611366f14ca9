/** `flatfhir view …` as users run it: a view over NDJSON files and over a tenant (a Group), and stored views. */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, runFlatfhir } from '../helpers/process.js';

const CONDITIONS = join(REPO, 'test', 'fixtures', 'synthea-100', 'Condition.ndjson.gz');
const PATIENTS = join(REPO, 'test', 'fixtures', 'synthea-100', 'Patient.ndjson.gz');
let dir: string;

async function flatfhir(args: string[]): Promise<{ code: number | string; out: string; err: string }> {
  const p = runFlatfhir(args);
  const code = await p.exited;
  return { code, out: p.stdout(), err: p.stderr() };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flatfhir-view-cli-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('flatfhir view', () => {
  it('runs a shipped view over NDJSON files into CSV, one row per condition, the values as in the files', async () => {
    const out = join(dir, 'out');
    const r = await flatfhir(['view', 'run', '--view', 'conditions', '--input', CONDITIONS, PATIENTS, '--format', 'csv', '--out', out]);
    expect(r.code, r.err).toBe(0);
    const conditions = gunzipSync(await readFile(CONDITIONS)).toString().trim().split('\n').map((l) => JSON.parse(l) as { id: string; code: { coding: { code: string }[] } });
    const lines = (await readFile(join(out, 'conditions.csv'), 'utf8')).trim().split('\r\n');
    expect(lines[0]).toBe('id,patient_id,encounter_id,clinical_status,verification_status,code_system,code,display,onset,abatement,recorded_date');
    expect(lines).toHaveLength(conditions.length + 1);
    const first = conditions[0] as (typeof conditions)[number];
    expect(lines.some((l) => l.startsWith(`${first.id},`) && l.includes(`,${first.code.coding[0]?.code},`))).toBe(true);
    expect((await stat(join(out, 'conditions.csv'))).mode & 0o777).toBe(0o600);
    expect((await stat(out)).mode & 0o777).toBe(0o700);
  });

  it('stores views per tenant, runs one over a Group of the store, and removes it', async () => {
    const data = join(dir, 'data');
    const group = join(dir, 'group.json');
    const patients = gunzipSync(await readFile(PATIENTS)).toString().trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id).sort();
    await writeFile(group, JSON.stringify({ resourceType: 'Group', id: 'g1', type: 'person', actual: true, member: patients.slice(0, 3).map((id) => ({ entity: { reference: `Patient/${id}` } })) }));
    expect((await flatfhir(['import', '--tenant', 't1', '--data', data, PATIENTS, group])).code).toBe(0);
    const viewFile = join(dir, 'ids.json');
    await writeFile(viewFile, JSON.stringify({ resourceType: 'ViewDefinition', name: 'patient_ids', resource: 'Patient', select: [{ column: [{ name: 'id', path: 'getResourceKey()' }] }] }));
    const added = await flatfhir(['view', 'add', '--tenant', 't1', '--data', data, viewFile]);
    expect(added.out).toContain('added patient_ids (Patient)');
    expect((await flatfhir(['view', 'list', '--tenant', 't1', '--data', data])).out).toMatch(/patient_ids\s+Patient/);

    const out = join(dir, 'out2');
    const run = await flatfhir(['view', 'run', '--view', 'patient_ids', '--tenant', 't1', '--group', 'g1', '--data', data, '--format', 'ndjson', '--out', out]);
    expect(run.code, run.err).toBe(0);
    const rows = (await readFile(join(out, 'patient_ids.ndjson'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { id: string });
    expect(rows.map((x) => x.id).sort()).toEqual(patients.slice(0, 3));

    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ resource: 'Patient', name: 'bad', select: [{ forEach: '@@' }] }));
    const refused = await flatfhir(['view', 'add', '--tenant', 't1', '--data', data, bad]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/invalid FHIRPath/);

    expect((await flatfhir(['view', 'remove', '--tenant', 't1', '--data', data, 'patient_ids'])).code).toBe(0);
    const gone = await flatfhir(['view', 'show', '--tenant', 't1', '--data', data, 'patient_ids']);
    expect(gone.code).toBe(1);
  }, 240_000);
});
