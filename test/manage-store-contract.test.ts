import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MemberFilter, parseMemberFilter, resolveCriterion } from '../src/fhir/member-filter.js';
import { prepareResource } from '../src/fhir/prepare.js';
import type { Store } from '../src/store/ports.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';

/** The management ports (tenants, the search-value index), the same assertions over every store adapter. */

const clock = { now: 1_700_000_000_000 };
const now = (): number => clock.now;

const adapters: { name: string; open(): Promise<{ store: Store; cleanup(): Promise<void> }> }[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(path.join(tmpdir(), 'flatfhir-manage-contract-'));
      const store = openSqliteStore(path.join(dir, 'db.sqlite'), { now });
      return {
        store,
        async cleanup() {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    async open() {
      const schema = freshSchema('manage');
      const store = await openPostgresStore(TEST_DATABASE_URL, { schema: schema.name, now, poolSize: 3 });
      return {
        store,
        async cleanup() {
          await store.close();
          await schema.drop();
        },
      };
    },
  },
];

const DAY = 86_400_000;

function filter(text: string): MemberFilter {
  const parsed = parseMemberFilter(text);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed.filter;
}

let counter = 0;
const uniq = (prefix: string): string => `${prefix}${++counter}`;

describe.each(adapters)('management store contract: $name', (adapter) => {
  let store: Store;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ store, cleanup } = await adapter.open());
  });
  afterAll(async () => {
    await cleanup?.();
  });

  it('creates tenants once, lists them in id order, and lists tenants made as a side effect without a name', async () => {
    const a = uniq('t-b');
    const b = uniq('t-a');
    expect(await store.tenants.createTenant(a, 'Hospital B', 1000)).toBe(true);
    expect(await store.tenants.createTenant(a, 'again', 2000)).toBe(false);
    expect(await store.tenants.getTenant(a)).toEqual({ id: a, name: 'Hospital B', createdAt: 1000 });
    await store.resources.ensureTenant(b);
    expect(await store.tenants.getTenant(b)).toEqual({ id: b, name: '', createdAt: null });
    expect(await store.tenants.getTenant(uniq('none'))).toBeUndefined();
    const ids = (await store.tenants.listTenantRecords()).map((t) => t.id);
    expect(ids).toContain(a);
    expect(ids).toContain(b);
    expect(ids).toEqual([...ids].sort());
  });

  it('counts clients and jobs, and removes a tenant with all it holds, leaving other tenants alone', async () => {
    const gone = uniq('gone');
    const kept = uniq('kept');
    for (const t of [gone, kept]) {
      await store.tenants.createTenant(t, t, 1);
      await store.resources.writeBatch(t, [
        prepareResource({ resourceType: 'Patient', id: 'p1' }),
        prepareResource({ resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } }),
      ]);
      await store.resources.writeBatch(t, [prepareResource({ resourceType: 'Patient', id: 'p1', gender: 'female' })]);
      const clientId = uniq(`c-${t}-`);
      await store.clients.registerClient({ clientId, tenant: t, name: '', jwks: null, jwksUrl: 'https://a.example/j', scope: 'system/*.rs', disabled: false, createdAt: 1 });
      await store.clients.useJti(clientId, 'jti-1', clock.now + 60_000, clock.now);
      const job = await store.jobs.createJob({
        id: uniq('job-'),
        tenant: t,
        clientId,
        kind: 'patient',
        request: 'https://x/Patient/$export',
        requestHash: uniq('h'),
        params: {},
        transactionTime: 1,
        createdAt: 1,
        expiresAt: 2,
        patients: [{ id: 'p1', fullHistory: false }],
        chunks: [{ type: 'plan', slice: {}, estimate: 0 }],
      });
      expect('job' in job).toBe(true);
    }
    expect(await store.tenants.tenantCounts(gone)).toEqual({ clients: 1, jobs: 1 });
    const jobIds = await store.tenants.tenantJobIds(gone);
    expect(jobIds).toHaveLength(1);

    expect(await store.tenants.removeTenant(gone)).toBe(true);
    expect(await store.tenants.removeTenant(gone)).toBe(false);
    expect(await store.tenants.getTenant(gone)).toBeUndefined();
    expect(await store.resources.read(gone, 'Patient', 'p1')).toBeUndefined();
    expect(await store.resources.readAt(gone, 'Patient', 'p1', 1)).toBeUndefined();
    expect(await store.resources.countByType(gone)).toEqual({});
    expect(await store.clients.listClients(gone)).toEqual([]);
    expect(await store.jobs.getJob(jobIds[0] as string)).toBeUndefined();
    expect(await store.jobs.listChunks(jobIds[0] as string)).toEqual([]);
    expect(await store.tenants.tenantCounts(gone)).toEqual({ clients: 0, jobs: 0 });

    expect(await store.resources.countByType(kept)).toEqual({ Patient: 1, Observation: 1 });
    expect(await store.tenants.tenantCounts(kept)).toEqual({ clients: 1, jobs: 1 });
  });

  it('evaluates criteria on the search-value index: tokens, dates (absolute and relative), strings, references, intersections', async () => {
    const t = uniq('cohort');
    const at = Date.UTC(2024, 4, 8, 6);
    const iso = (ms: number): string => new Date(ms).toISOString();
    const patient = (id: string, gender: string, family: string) => prepareResource({ resourceType: 'Patient', id, gender, name: [{ family, given: ['A'] }] });
    const encounter = (id: string, subject: string, status: string, start: number, reason?: string) =>
      prepareResource({
        resourceType: 'Encounter',
        id,
        status,
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
        period: { start: iso(start), end: iso(start + 3_600_000) },
        subject: { reference: `Patient/${subject}` },
        serviceProvider: { reference: 'Organization/org1' },
        ...(reason ? { reasonCode: [{ coding: [{ system: 'http://snomed.info/sct', code: reason }] }] } : {}),
      });
    const condition = (id: string, subject: string, code: string) =>
      prepareResource({ resourceType: 'Condition', id, code: { coding: [{ system: 'http://snomed.info/sct', code }] }, subject: { reference: `Patient/${subject}` } });
    await store.resources.writeBatch(t, [
      patient('p1', 'female', 'Müller'),
      patient('p2', 'male', 'Miller'),
      patient('p3', 'female', 'Smith'),
      encounter('e1', 'p1', 'finished', at - 2 * DAY, '44054006'),
      encounter('e2', 'p2', 'finished', at - 10 * DAY, '44054006'),
      encounter('e3', 'p3', 'in-progress', at - 1 * DAY, '44054006'),
      encounter('e4', 'p3', 'finished', at - 3 * DAY),
      condition('c1', 'p1', '38341003'),
      condition('c2', 'p3', '38341003'),
      condition('c4', 'ghost', '38341003'),
    ]);
    const match = (texts: string[], limit = 100) => store.cohorts.matchPatients(t, texts.map((x) => resolveCriterion(filter(x), at)), limit);

    expect(await match(['Patient?gender=female'])).toEqual(['p1', 'p3']);
    expect(await match(['Patient?family=mul'])).toEqual(['p1']);
    expect(await match(['Patient?family=M'])).toEqual(['p1', 'p2']);
    expect(await match(['Patient?name:contains=ill'])).toEqual(['p2']);
    expect(await match(['Encounter?status=finished&date=ge-7d'])).toEqual(['p1', 'p3']);
    // The same resource must match every parameter: p3's recent encounter is in progress, its finished one has no reason.
    expect(await match(['Encounter?status=finished&date=ge-7d&reason-code=http://snomed.info/sct|44054006'])).toEqual(['p1']);
    expect(await match(['Encounter?date=lt-7d'])).toEqual(['p2']);
    expect(await match([`Encounter?date=${new Date(at - 10 * DAY).toISOString().slice(0, 10)}`])).toEqual(['p2']);
    expect(await match(['Encounter?status=finished,in-progress&class=IMP'])).toEqual(['p1', 'p2', 'p3']);
    expect(await match(['Encounter?class=http://other|IMP'])).toEqual([]);
    expect(await match(['Encounter?service-provider=Organization/org1'])).toEqual(['p1', 'p2', 'p3']);
    // Criteria intersect; a Condition of a patient who is not stored gives no member.
    expect(await match(['Condition?code=38341003'])).toEqual(['p1', 'p3']);
    expect(await match(['Encounter?date=ge-7d&status=finished', 'Condition?code=http://snomed.info/sct|38341003'])).toEqual(['p1', 'p3']);
    expect(await match(['Encounter?date=ge-7d', 'Condition?code=38341003'], 1)).toEqual(['p1']);
    // Every kind of condition besides the one the evaluation starts from: a code, a reference, a date range, a system
    // alone, no system, a prefix, a part of a string.
    expect(await match(['Encounter?class=IMP&date=lt-7d'])).toEqual(['p2']);
    expect(await match(['Encounter?service-provider=Organization/org1&date=ge-7d&status=finished'])).toEqual(['p1', 'p3']);
    expect(await match(['Encounter?reason-code=http://snomed.info/sct|&status=finished'])).toEqual(['p1', 'p2']);
    expect(await match(['Encounter?status=finished&class=|IMP'])).toEqual([]);
    expect(await match(['Encounter?status=finished&reason-code=|44054006'])).toEqual([]);
    expect(await match(['Patient?gender=female&family=mu'])).toEqual(['p1']);
    expect(await match(['Patient?family=s&name:contains=mit'])).toEqual(['p3']);
    expect(await match(['Patient?gender=female&name:contains=ll'])).toEqual(['p1']);
    expect(await match(['Patient?gender=male,female&family=m,s'])).toEqual(['p1', 'p2', 'p3']);

    // A change replaces a resource's values; a deletion removes them.
    await store.resources.writeBatch(t, [encounter('e1', 'p1', 'cancelled', at - 2 * DAY, '44054006')]);
    expect(await match(['Encounter?status=finished&date=ge-7d'])).toEqual(['p3']);
    await store.resources.deleteResource(t, 'Condition', 'c2');
    expect(await match(['Condition?code=38341003'])).toEqual(['p1']);
    await store.resources.deleteResource(t, 'Patient', 'p1');
    expect(await match(['Condition?code=38341003'])).toEqual([]);
    expect(await store.cohorts.matchPatients(uniq('other'), [resolveCriterion(filter('Patient?gender=female'), at)], 10)).toEqual([]);
  });
});
