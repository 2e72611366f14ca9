import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseMemberFilter, resolveCriterion, type MemberFilter } from '../src/fhir/member-filter.js';
import { prepareResource, storedJson } from '../src/fhir/prepare.js';
import type { FhirResource } from '../src/fhir/resource.js';
import { POSTGRES_MIGRATIONS } from '../src/store/postgres/migrations.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import type { Store } from '../src/store/ports.js';
import { SQLITE_MIGRATIONS } from '../src/store/sqlite/migrations.js';
import { SEARCH_VALUES_VERSION } from '../src/fhir/search-values.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flatfhir-search-values-'));
  file = join(dir, 'flatfhir.sqlite');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A database as a release with only the migrations up to `version` left it. */
function databaseAt(version: number): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  for (const m of SQLITE_MIGRATIONS.filter((x) => x.version <= version)) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, 1);
  }
  return db;
}

const filter = (text: string): MemberFilter => {
  const parsed = parseMemberFilter(text);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed.filter;
};

/** The criteria over `resources` find the patients they should once the index is filled (deleted ones left out). */
async function expectIndexed(store: Pick<Store, 'cohorts'>): Promise<void> {
  const match = (text: string) => store.cohorts.matchPatients('t', [resolveCriterion(filter(text), Date.UTC(2024, 4, 8))], 10);
  expect(await match('Patient?gender=female')).toEqual(['p1']);
  expect(await match('Patient?family=mul')).toEqual(['p1']);
  expect(await match('Encounter?status=finished&date=ge2024-05-01')).toEqual(['p1']);
  expect(await match('Encounter?date=ge2024-05-02')).toEqual(['p2']);
  expect(await match('Condition?code=http://snomed.info/sct|38341003')).toEqual(['p2']);
}

const resources: FhirResource[] = [
  { resourceType: 'Patient', id: 'p1', gender: 'female', name: [{ family: 'Müller' }] },
  { resourceType: 'Patient', id: 'p2', gender: 'male', name: [{ family: 'Smith' }] },
  { resourceType: 'Patient', id: 'gone', gender: 'female' },
  {
    resourceType: 'Encounter',
    id: 'e1',
    status: 'finished',
    period: { start: '2024-05-01T08:00:00Z', end: '2024-05-01T09:00:00Z' },
    subject: { reference: 'Patient/p1' },
  },
  { resourceType: 'Encounter', id: 'e2', status: 'cancelled', period: { start: '2024-05-02' }, subject: { reference: 'Patient/p2' } },
  { resourceType: 'Condition', id: 'c1', code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003' }] }, subject: { reference: 'Patient/p2' } },
  { resourceType: 'Practitioner', id: 'dr', name: [{ family: 'Doe' }] },
];

/** The rows of the SQLite search index of tenant `t`, tokens then dates, in key order. */
function sqliteRows(path: string): unknown[][] {
  const db = new Database(path, { readonly: true });
  try {
    return [
      ...db.prepare("SELECT 'token', type, param, val, sys, patient_id, id FROM search_tokens WHERE tenant = 't' ORDER BY type, param, val, patient_id, id, sys").raw().all(),
      ...db.prepare("SELECT 'date', type, param, lo, hi, patient_id, id FROM search_dates WHERE tenant = 't' ORDER BY type, param, lo, hi, patient_id, id").raw().all(),
    ] as unknown[][];
  } finally {
    db.close();
  }
}

/** The rows a fresh store holds once `written` is written to it. */
async function freshRows(written: FhirResource[]): Promise<unknown[][]> {
  const path = join(dir, 'fresh.sqlite');
  const fresh = openSqliteStore(path);
  await fresh.resources.writeBatch('t', written.map((r) => prepareResource(r)));
  await fresh.close();
  return sqliteRows(path);
}

describe('the SQLite search-value index of a database from an earlier release', () => {
  it('is filled on open for the resources stored before it existed (deleted ones left out)', async () => {
    const db = databaseAt(6);
    db.prepare("INSERT INTO tenants (id) VALUES ('t')").run();
    for (const r of resources) {
      const p = prepareResource(r);
      const deleted = r.id === 'gone';
      db.prepare("INSERT INTO resources (tenant, type, id, version, last_updated, deleted, hash, json) VALUES ('t', ?, ?, 1, 1000, ?, ?, ?)").run(
        p.type,
        p.id,
        deleted ? 1 : 0,
        p.contentHash,
        deleted ? null : storedJson(p, 1, 1000),
      );
      for (const patient of p.patients) db.prepare("INSERT INTO compartment (tenant, type, patient_id, id, n) VALUES ('t', ?, ?, ?, ?)").run(p.type, patient, p.id, p.patients.length);
    }
    db.close();

    const store = openSqliteStore(file);
    try {
      await expectIndexed(store);
      // The rows are those a write makes.
      const rows = sqliteRows(file);
      expect(rows).toEqual(await freshRows(resources.filter((r) => r.id !== 'gone')));
      expect(rows.length).toBeGreaterThan(10);
    } finally {
      await store.close();
    }
  });

  it('is extracted again from the stored resources when its tables are laid out by value', async () => {
    const db = databaseAt(12);
    db.prepare("INSERT INTO tenants (id) VALUES ('t')").run();
    const e1 = prepareResource(resources[3] as FhirResource);
    db.prepare("INSERT INTO resources (tenant, type, id, version, last_updated, deleted, hash, json) VALUES ('t', 'Encounter', 'e1', 1, 1000, 0, ?, ?)").run(
      e1.contentHash,
      storedJson(e1, 1, 1000),
    );
    // Values as the earlier release stored them, one of them not what a write extracts now: the rows are extracted
    // again, so that removing a resource's rows (which extracts them from its JSON) finds every one of them.
    const old = [
      ['status', 'p1', null, 'finished', null, null],
      ['date', 'p1', null, null, 1, 2],
      ['status', 'p1', 'http://x', 'kept', null, null],
    ];
    for (const [k, v] of old.entries()) {
      db.prepare("INSERT INTO search_values (tenant, type, id, k, param, patient_id, sys, val, lo, hi) VALUES ('t', 'Encounter', 'e1', ?, ?, ?, ?, ?, ?, ?)").run(k, ...v);
    }
    db.close();

    const store = openSqliteStore(file);
    try {
      expect(sqliteRows(file)).toEqual(await freshRows([resources[3] as FhirResource]));
      await store.resources.writeBatch('t', [prepareResource({ resourceType: 'Patient', id: 'p1' })]);
      expect(await store.cohorts.matchPatients('t', [resolveCriterion(filter('Encounter?status=http://x|kept'), 0)], 10)).toEqual([]);
      expect(await store.cohorts.matchPatients('t', [resolveCriterion(filter('Encounter?status=finished'), 0)], 10)).toEqual(['p1']);
    } finally {
      await store.close();
    }
  });

  it('is extracted again on open when the code that extracts values has another version', async () => {
    const store = openSqliteStore(file);
    await store.resources.writeBatch('t', resources.map((r) => prepareResource(r)));
    await store.close();
    const expected = sqliteRows(file);
    const db = new Database(file);
    // What a release with other extraction rules would have left: a row this code would not extract.
    db.prepare('UPDATE search_index SET version = version + 1').run();
    db.prepare("INSERT INTO search_tokens (tenant, type, param, val, patient_id, id, sys) VALUES ('t', 'Patient', 'gender', 'unknown', 'p1', 'p1', '')").run();
    db.close();

    const reopened = openSqliteStore(file);
    try {
      expect(sqliteRows(file)).toEqual(expected);
      const version = new Database(file, { readonly: true });
      expect(version.prepare('SELECT version FROM search_index').pluck().all()).toEqual([SEARCH_VALUES_VERSION]);
      version.close();
      expect(await reopened.cohorts.matchPatients('t', [resolveCriterion(filter('Patient?gender=unknown'), 0)], 10)).toEqual([]);
    } finally {
      await reopened.close();
    }
  });
});

describe('the SQLite search-value index after changes', () => {
  it('holds exactly the rows of what is stored now: every value a change or a deletion replaced is gone', async () => {
    const store = openSqliteStore(file);
    const shared: FhirResource = {
      resourceType: 'Observation',
      id: 'shared',
      status: 'final',
      category: [{ coding: [{ code: 'laboratory' }] }],
      code: { coding: [{ system: 'http://snomed.info/sct', code: '1' }, { code: '1' }, { system: 'http://snomed.info/sct', code: '1' }] },
      effectiveDateTime: '2024-05-01',
      subject: { reference: 'Patient/p1' },
      performer: [{ reference: 'Patient/p2' }],
    };
    try {
      await store.resources.writeBatch('t', resources.map((r) => prepareResource(r)));
      await store.resources.writeBatch('t', [prepareResource(shared)]);
      expect(sqliteRows(file).filter((row) => row[6] === 'shared' && row[5] === 'p1' && row[2] === 'code').map((row) => [row[3], row[4]])).toEqual([
        ['1', ''],
        ['1', 'http://snomed.info/sct'],
      ]);
      // A performer that is a patient shares the compartment: it has rows too.
      expect(new Set(sqliteRows(file).filter((row) => row[6] === 'shared').map((row) => row[5]))).toEqual(new Set(['p1', 'p2']));
      // Another status, another date, one patient fewer, another code; then two versions in one batch.
      const changed: FhirResource = { ...shared, status: 'cancelled', effectiveDateTime: '2024-06-01', performer: [], code: { coding: [{ code: '2' }] } };
      await store.resources.writeBatch('t', [prepareResource(changed)]);
      await store.resources.writeBatch('t', [prepareResource({ ...changed, status: 'entered-in-error' }), prepareResource({ ...changed, status: 'final' })]);
      await store.resources.deleteResource('t', 'Condition', 'c1');
      await store.resources.deleteResource('t', 'Patient', 'p2');
      const final = [...resources.filter((r) => !['c1', 'p2'].includes(r.id as string)), { ...changed, status: 'final' }];
      expect(sqliteRows(file)).toEqual(await freshRows(final));
      const ofShared = sqliteRows(file).filter((row) => row[6] === 'shared');
      expect(ofShared.some((row) => row[3] === 'cancelled' || row[3] === '1')).toBe(false);
      expect(ofShared.filter((row) => row[2] === 'status').map((row) => row[3])).toEqual(['final']);
    } finally {
      await store.close();
    }
  });
});

describe('the PostgreSQL search-value index of a database from an earlier release', () => {
  it('is filled on open for the resources stored before it existed (deleted ones left out)', async () => {
    const schema = freshSchema('reindex');
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA ${pg.escapeIdentifier(schema.name)}`);
      await client.query(`SET search_path TO ${pg.escapeIdentifier(schema.name)}`);
      await client.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      // Version 8 made the search-value table.
      for (const m of POSTGRES_MIGRATIONS.filter((x) => x.version < 8)) {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 1)', [m.version, m.name]);
      }
      await client.query("INSERT INTO tenants (id) VALUES ('t')");
      for (const r of resources) {
        const p = prepareResource(r);
        const deleted = r.id === 'gone';
        await client.query("INSERT INTO resources (tenant, type, id, version, last_updated, deleted, hash, json) VALUES ('t', $1, $2, 1, 1000, $3, $4, $5)", [
          p.type,
          p.id,
          deleted,
          p.contentHash,
          deleted ? null : storedJson(p, 1, 1000),
        ]);
        for (const patient of p.patients) {
          await client.query("INSERT INTO compartment (tenant, type, patient_id, id, n) VALUES ('t', $1, $2, $3, $4)", [p.type, patient, p.id, p.patients.length]);
        }
      }
    } finally {
      await client.end();
    }
    const store = await openPostgresStore(TEST_DATABASE_URL, { schema: schema.name, poolSize: 2 });
    try {
      await expectIndexed(store);
    } finally {
      await store.close();
      await schema.drop();
    }
  });
});
