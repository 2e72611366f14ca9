/** The ViewStore contract over every store adapter: the same assertions on SQLite and PostgreSQL. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store, StoredView } from '../src/store/ports.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';

const adapters: { name: string; open(): Promise<{ store: Store; cleanup(): Promise<void> }> }[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'flatfhir-views-contract-'));
      const store = openSqliteStore(join(dir, 'flatfhir.sqlite'));
      return { store, cleanup: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
    },
  },
  {
    name: 'postgres',
    async open() {
      const schema = freshSchema('views');
      const store = await openPostgresStore(TEST_DATABASE_URL, { schema: schema.name });
      return { store, cleanup: async () => { await store.close(); await schema.drop(); } };
    },
  },
];

const view = (tenant: string, name: string, at: number, url: string | null = null): StoredView => ({
  tenant, name, url, resource: 'Patient', definition: JSON.stringify({ resource: 'Patient', name }), createdAt: at, updatedAt: at,
});

for (const adapter of adapters) {
  describe(`ViewStore contract: ${adapter.name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeAll(async () => ({ store, cleanup } = await adapter.open()));
    afterAll(async () => cleanup());

    it('stores, replaces, lists in name order, finds by url and removes, per tenant', async () => {
      expect(await store.views.putView(view('t1', 'patients', 1000, 'http://example.org/v/patients'))).toBe(true);
      expect(await store.views.putView(view('t1', 'encounters', 1001))).toBe(true);
      expect(await store.views.putView(view('t2', 'patients', 1002))).toBe(true);
      const replaced = { ...view('t1', 'patients', 2000, 'http://example.org/v/patients2'), resource: 'Observation' };
      expect(await store.views.putView(replaced)).toBe(false);

      const got = await store.views.getView('t1', 'patients');
      expect(got).toEqual({ ...replaced, createdAt: 1000 });
      expect((await store.views.listViews('t1')).map((v) => v.name)).toEqual(['encounters', 'patients']);
      expect((await store.views.listViews('t2')).map((v) => `${v.tenant}/${v.name}`)).toEqual(['t2/patients']);
      expect((await store.views.findViewByUrl('t1', 'http://example.org/v/patients2'))?.name).toBe('patients');
      expect(await store.views.findViewByUrl('t1', 'http://example.org/v/patients')).toBeUndefined();
      expect(await store.views.findViewByUrl('t2', 'http://example.org/v/patients2')).toBeUndefined();

      expect(await store.views.removeView('t1', 'patients')).toBe(true);
      expect(await store.views.removeView('t1', 'patients')).toBe(false);
      expect(await store.views.getView('t1', 'patients')).toBeUndefined();
      expect(await store.views.getView('t2', 'patients')).toBeDefined();
    });
  });
}
