/** Every store adapter, opened fresh for one contract suite: the same assertions then run against each. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '../../src/store/ports.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { freshSchema, TEST_DATABASE_URL } from './postgres.js';

export interface OpenedStore {
  store: Store;
  /** Opens the same database again (runs the migrator again). */
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

export interface StoreAdapter {
  name: string;
  open(): Promise<OpenedStore>;
}

/** SQLite in a temporary directory and PostgreSQL in a fresh schema (`prefix` names both), writing with `now`. */
export function storeAdapters(prefix: string, now: () => number): StoreAdapter[] {
  return [
    {
      name: 'sqlite',
      async open() {
        const dir = mkdtempSync(join(tmpdir(), `flatfhir-${prefix}-`));
        const file = join(dir, 'flatfhir.sqlite');
        const store = openSqliteStore(file, { now });
        return {
          store,
          reopen: async () => openSqliteStore(file, { now }),
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
        const schema = freshSchema(prefix);
        // A small pool, so a scan that leaks its connection makes the suite hang (and fail) quickly.
        const store = await openPostgresStore(TEST_DATABASE_URL, { schema: schema.name, now, poolSize: 4 });
        return {
          store,
          reopen: () => openPostgresStore(TEST_DATABASE_URL, { schema: schema.name, now, poolSize: 2 }),
          async cleanup() {
            await store.close();
            await schema.drop();
          },
        };
      },
    },
  ];
}
