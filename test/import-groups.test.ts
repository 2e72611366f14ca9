import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMemberFilter, resolveCriterion } from '../src/fhir/member-filter.js';
import { importPaths } from '../src/import/importer.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { type OpenedStore, storeAdapters } from './helpers/store-adapters.js';

/**
 * Dynamic groups over imported data: the members the store finds for a criterion are the patients found by
 * reading the fixture files directly.
 */
const FIXTURES = join(import.meta.dirname, 'fixtures', 'synthea-100');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- fixture resources, read field by field
type Json = Record<string, any>;
const read = (type: string): Json[] =>
  gunzipSync(readFileSync(join(FIXTURES, `${type}.ndjson.gz`)))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Json);
const subjectId = (r: Json): string => String(r['subject']?.reference ?? '').replace(/^Patient\//, '');
const codes = (concept: Json | undefined): { system?: string; code?: string }[] => (concept?.['coding'] as { system?: string; code?: string }[] | undefined) ?? [];
const sorted = (ids: Iterable<string>): string[] => [...new Set(ids)].sort();

const patients = read('Patient');
const conditions = read('Condition');
const encounters = read('Encounter');
const observations = read('Observation');
const live = new Set(patients.map((p) => p['id'] as string));
const alive = (ids: Iterable<string>): string[] => sorted([...ids].filter((id) => live.has(id)));

const SINUSITIS = '40055000';
const PAIN = '72514-3';
const expected: [string[], string[]][] = [
  [['Patient?gender=female'], sorted(patients.filter((p) => p['gender'] === 'female').map((p) => p['id'] as string))],
  [
    [`Condition?code=http://snomed.info/sct|${SINUSITIS}`],
    alive(conditions.filter((c) => codes(c['code']).some((x) => x.system === 'http://snomed.info/sct' && x.code === SINUSITIS)).map(subjectId)),
  ],
  [
    ['Patient?gender=male', `Condition?code=${SINUSITIS}`],
    alive(
      conditions
        .filter((c) => codes(c['code']).some((x) => x.code === SINUSITIS))
        .map(subjectId)
        .filter((id) => patients.find((p) => p['id'] === id)?.['gender'] === 'male'),
    ),
  ],
  // One encounter must match every parameter: finished, ambulatory, begun before 2000.
  [
    ['Encounter?status=finished&class=AMB&date=lt2000-01-01'],
    alive(
      encounters
        .filter((e) => e['status'] === 'finished' && e['class']?.code === 'AMB' && Date.parse(e['period']?.start as string) < Date.UTC(2000, 0, 1))
        .map(subjectId),
    ),
  ],
  // A dateTime of second precision covers its second: ge 2020-03-01 holds when that second ends on or after it.
  [
    [`Observation?code=http://loinc.org|${PAIN}&date=ge2020-03-01`],
    alive(
      observations
        .filter((o) => codes(o['code']).some((x) => x.system === 'http://loinc.org' && x.code === PAIN))
        .filter((o) => Date.parse(o['effectiveDateTime'] as string) + 999 >= Date.UTC(2020, 2, 1))
        .map(subjectId),
    ),
  ],
];

describe.each(storeAdapters('import_groups', Date.now))('dynamic groups over imported data: $name', (adapter) => {
  let opened: OpenedStore;
  beforeAll(async () => {
    opened = await adapter.open();
    const result = await importPaths({ resources: opened.store.resources, tenant: 'synthea', paths: [FIXTURES], maxGroupMembers: 1000 });
    expect(result.rejectedCount).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await opened?.cleanup();
  });

  it.each(expected)('%j finds the patients the fixture files give', async (criteria, members) => {
    // Every case selects some patients and leaves some out, so that a wrong index shows.
    expect(members.length).toBeGreaterThan(0);
    expect(members.length).toBeLessThan(patients.length);
    const resolved = criteria.map((text) => {
      const parsed = parseMemberFilter(text);
      if ('error' in parsed) throw new Error(parsed.error);
      return resolveCriterion(parsed.filter, Date.now());
    });
    expect(await opened.store.cohorts.matchPatients('synthea', resolved, 1000)).toEqual(members);
  });
});

describe('search values of an import', () => {
  it('are the same whether parsed on worker threads or on the writing thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flatfhir-import-values-'));
    const file = join(dir, 'flatfhir.sqlite');
    const store = openSqliteStore(file);
    try {
      await importPaths({ resources: store.resources, tenant: 'threads', paths: [FIXTURES], maxGroupMembers: 1000, parseThreads: 2 });
      await importPaths({ resources: store.resources, tenant: 'here', paths: [FIXTURES], maxGroupMembers: 1000, thread: false });
      const db = new Database(file, { readonly: true });
      const rows = (tenant: string): unknown[] =>
        [
          ...db.prepare('SELECT type, param, val, patient_id, id, sys FROM search_tokens WHERE tenant = ? ORDER BY type, param, val, patient_id, id, sys').raw().all(tenant),
          ...db.prepare('SELECT type, param, lo, hi, patient_id, id FROM search_dates WHERE tenant = ? ORDER BY type, param, lo, hi, patient_id, id').raw().all(tenant),
        ];
      const threads = rows('threads');
      expect(threads.length).toBeGreaterThan(100_000);
      expect(threads).toEqual(rows('here'));
      db.close();
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
