import pg from 'pg';
import type { Pool } from 'pg';
import type { Store } from '../ports.js';
import { checkSchemaName, poolConfig, warmPool } from './db.js';
import { PostgresAuditStore } from './audit-store.js';
import { PostgresClientStore } from './client-store.js';
import { PostgresCohortStore } from './cohort-store.js';
import { PostgresJobStore } from './job-store.js';
import { PostgresKeyStore } from './key-store.js';
import { PostgresViewStore } from './view-store.js';
import { PostgresAsyncRequestStore } from './async-request-store.js';
import { PostgresSessionStore } from './session-store.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';
import { PostgresResourceStore } from './resource-store.js';
import { PostgresTenantStore } from './tenant-store.js';

export interface PostgresStoreOptions {
  /** Schema holding every table (created when missing); default `public`. */
  schema?: string;
  /** Clock for the tenant write timestamps (epoch ms); default `Date.now`. */
  now?: () => number;
  /** Maximum pooled connections; default 10. A running scan holds one for its duration. */
  poolSize?: number;
}

/** Advisory-lock namespace of the migrator (first key; the second is the schema name's hash). */
const MIGRATION_LOCK = 'flatfhir.migrate';

/**
 * Runs every migration not yet applied to `schema`, each once and in its own transaction. A transaction-level
 * advisory lock per schema makes concurrent migrators (several server processes starting) wait for each other
 * and then skip what the first one applied.
 */
export async function migratePostgres(pool: Pool, schema: string): Promise<number[]> {
  const client = await pool.connect();
  const lock = { text: 'SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', values: [MIGRATION_LOCK, schema] };
  const ran: number[] = [];
  try {
    await client.query('BEGIN');
    await client.query(lock);
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${pg.escapeIdentifier(schema)}`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
    );
    await client.query('COMMIT');
    for (const m of POSTGRES_MIGRATIONS) {
      await client.query('BEGIN');
      await client.query(lock);
      const applied = await client.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (applied.rowCount === 0) {
        if (m.sql) await client.query(m.sql);
        await m.run?.(client);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
        ran.push(m.version);
      }
      await client.query('COMMIT');
    }
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
  client.release();
  return ran;
}

/** Opens (creating and migrating) the PostgreSQL store at `url`, with all tables in `options.schema`. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const schema = checkSchemaName(options.schema ?? 'public');
  const pool = new pg.Pool(poolConfig(url, schema, options.poolSize ?? 10));
  // An idle pooled connection that dies (server restart, network) is dropped by the pool; without a listener
  // its 'error' event would crash the process. Queries on a broken connection still reject normally.
  pool.on('error', () => undefined);
  // The same for a connection that dies while checked out (a transaction, a scan): the pool listens only on idle
  // ones, and pg emits the error on the client as well as failing what runs on it. The pool discards the client
  // when it is released (it is no longer queryable).
  pool.on('connect', (client) => client.on('error', () => undefined));
  try {
    await migratePostgres(pool, schema);
    // A kick-off runs its statements one after another; a second connection serves a status poll meanwhile.
    await warmPool(pool, Math.min(2, options.poolSize ?? 10));
  } catch (err) {
    await pool.end();
    throw err;
  }
  const now = options.now ?? Date.now;
  return {
    kind: 'postgres',
    resources: new PostgresResourceStore(pool, now),
    jobs: new PostgresJobStore(pool),
    clients: new PostgresClientStore(pool, now),
    audit: new PostgresAuditStore(pool),
    keys: new PostgresKeyStore(pool),
    views: new PostgresViewStore(pool),
    tenants: new PostgresTenantStore(pool),
    cohorts: new PostgresCohortStore(pool),
    sessions: new PostgresSessionStore(pool),
    asyncRequests: new PostgresAsyncRequestStore(pool),
    async check() {
      const { rows } = await pool.query<{ version: number }>('SELECT version FROM schema_migrations');
      const applied = new Set(rows.map((r) => r.version));
      const missing = POSTGRES_MIGRATIONS.filter((m) => !applied.has(m.version)).map((m) => m.version);
      if (missing.length > 0) throw new Error(`migrations not applied: ${missing.join(', ')}`);
    },
    async close() {
      await pool.end();
    },
  };
}
