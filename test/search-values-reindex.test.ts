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
      const reader = new Database(file, { readonly: true });
      const rows = reader.prepare("SELECT type, id, param, patient_id, sys, val, lo, hi FROM search_values WHERE tenant = 't' ORDER BY type, id, param, k").raw().all();
      reader.close();
      const fresh = openSqliteStore(join(dir, 'fresh.sqlite'));
      await fresh.resources.writeBatch('t', resources.filter((r) => r.id !== 'gone').map((r) => prepareResource(r)));
      await fresh.close();
      const written = new Database(join(dir, 'fresh.sqlite'), { readonly: true });
      expect(rows).toEqual(written.prepare("SELECT type, id, param, patient_id, sys, val, lo, hi FROM search_values WHERE tenant = 't' ORDER BY type, id, param, k").raw().all());
      written.close();
      expect(rows.length).toBeGreaterThan(10);
    } finally {
      await store.close();
    }
  });

  it('keeps the rows it held when its table is rebuilt', async () => {
    const db = databaseAt(9);
    db.prepare("INSERT INTO tenants (id) VALUES ('t')").run();
    const e1 = prepareResource(resources[3] as FhirResource);
    db.prepare("INSERT INTO resources (tenant, type, id, version, last_updated, deleted, hash, json) VALUES ('t', 'Encounter', 'e1', 1, 1000, 0, ?, ?)").run(
      e1.contentHash,
      storedJson(e1, 1, 1000),
    );
    // Values as the earlier release stored them (one differs from what a write would extract now, so that it shows
    // the rows are kept, not extracted again).
    const old = [
      ['status', 'p1', null, 'finished', null, null],
      ['date', 'p1', null, null, 1, 2],
      ['status', 'p1', 'http://x', 'kept', null, null],
    ];
    for (const v of old) db.prepare("INSERT INTO search_values (tenant, type, id, param, patient_id, sys, val, lo, hi) VALUES ('t', 'Encounter', 'e1', ?, ?, ?, ?, ?, ?)").run(...v);
    db.close();

    const store = openSqliteStore(file);
    try {
      const reader = new Database(file, { readonly: true });
      expect(reader.prepare("SELECT param, patient_id, sys, val, lo, hi FROM search_values WHERE tenant = 't' ORDER BY k").raw().all()).toEqual(old);
      reader.close();
      expect(await store.cohorts.matchPatients('t', [resolveCriterion(filter('Encounter?status=http://x|kept'), 0)], 10)).toEqual([]);
      await store.resources.writeBatch('t', [prepareResource({ resourceType: 'Patient', id: 'p1' })]);
      expect(await store.cohorts.matchPatients('t', [resolveCriterion(filter('Encounter?status=http://x|kept'), 0)], 10)).toEqual(['p1']);
      expect(await store.cohorts.matchPatients('t', [resolveCriterion(filter('Encounter?date=lt1970-01-02'), 0)], 10)).toEqual(['p1']);
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
