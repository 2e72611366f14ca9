import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import type { Store } from '../ports.js';
import { SqliteAuditStore } from './audit-store.js';
import { SqliteClientStore } from './client-store.js';
import { SqliteCohortStore } from './cohort-store.js';
import { SqliteJobStore } from './job-store.js';
import { FileKeyStore } from './key-files.js';
import { SqliteViewStore } from './view-store.js';
import { SqliteAsyncRequestStore } from './async-request-store.js';
import { SqliteSessionStore } from './session-store.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { SqliteResourceStore } from './resource-store.js';
import { ensureSearchValuesCurrent } from './search-index.js';
import { SqliteTenantStore } from './tenant-store.js';
import { BUSY_TIMEOUT_MS } from './write-transaction.js';

/**
 * The size the write-ahead log file is cut back to when SQLite starts it over (after a checkpoint has copied all of
 * it). Without a limit the file keeps the largest size it ever reached (an import's few hundred MB) for as long as
 * a connection is open, and its size would no longer say how much of it is still to be copied.
 */
export const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

function configure(db: Database.Database, cacheKb: number): void {
  db.pragma('journal_mode = WAL');
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma(`cache_size = -${cacheKb}`);
  db.pragma('temp_store = MEMORY');
  db.pragma('foreign_keys = OFF');
}

/** Runs every migration not yet applied, each in its own transaction. */
export function migrateSqlite(db: Database.Database): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  const ran: number[] = [];
  for (const m of SQLITE_MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      if (m.sql) db.exec(m.sql);
      m.run?.(db);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    }).immediate();
    ran.push(m.version);
  }
  return ran;
}

/**
 * Opens (creating and migrating) the embedded SQLite store at `file`. Its keys live in files under `keysDir`
 * (default: `keys/` beside the database file, the data directory's). `writerCacheKb`: the page cache of its write
 * connection (default 32 MiB, for imports; a chunk thread, which writes little, takes less).
 */
export function openSqliteStore(file: string, options: { now?: () => number; keysDir?: string; writerCacheKb?: number } = {}): Store {
  if (file !== ':memory:') {
    // It holds patient data: a folder of its own user only, and a file only that user reads (the -wal and -shm
    // files SQLite makes beside it take the database file's mode).
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    closeSync(openSync(file, 'a', 0o600));
  }
  const db = new Database(file);
  configure(db, options.writerCacheKb ?? 32_768);
  migrateSqlite(db);
  ensureSearchValuesCurrent(db);
  const openReader = (): Database.Database => {
    const reader = new Database(file, { readonly: true });
    reader.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Scans read their pages once, in index order; the operating system's page cache keeps the file. A small cache
    // per reader (every running chunk has one) keeps the B-tree's inner pages and the process small.
    reader.pragma('cache_size = -2048');
    return reader;
  };
  const now = options.now ?? Date.now;
  return {
    kind: 'sqlite',
    resources: new SqliteResourceStore(db, openReader, now, file),
    jobs: new SqliteJobStore(db),
    clients: new SqliteClientStore(db, now),
    audit: new SqliteAuditStore(db),
    keys: new FileKeyStore(options.keysDir ?? join(dirname(file), 'keys')),
    views: new SqliteViewStore(db),
    tenants: new SqliteTenantStore(db),
    cohorts: new SqliteCohortStore(db),
    sessions: new SqliteSessionStore(db),
    asyncRequests: new SqliteAsyncRequestStore(db),
    async check() {
      const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
      const missing = SQLITE_MIGRATIONS.filter((m) => !applied.has(m.version)).map((m) => m.version);
      if (missing.length > 0) throw new Error(`migrations not applied: ${missing.join(', ')}`);
    },
    async close() {
      db.close();
    },
  };
}
