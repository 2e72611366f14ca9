/**
 * Choosing the store adapter a configuration names. Only composition roots (main.ts, the worker-thread entries,
 * the CLI's commands) call this; domain code sees the ports.
 */
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { Store } from './ports.js';
import { openSqliteStore } from './sqlite/index.js';

/**
 * Opens the store the configuration names: PostgreSQL for a database URL, else SQLite under the data directory
 * (`sqliteWriterCacheKb`: the page cache of its write connection, when not the default).
 */
export async function openStore(config: Pick<Config, 'databaseUrl' | 'dataDir'>, options: { sqliteWriterCacheKb?: number } = {}): Promise<Store> {
  if (config.databaseUrl) {
    // `?schema=name` selects the PostgreSQL schema (default public); it is ours, not libpq's, so it is taken off.
    const url = new URL(config.databaseUrl);
    const schema = url.searchParams.get('schema') ?? undefined;
    url.searchParams.delete('schema');
    // The PostgreSQL adapter (and pg) is loaded only when a database URL is configured.
    const { openPostgresStore } = await import('./postgres/index.js');
    return openPostgresStore(url.toString(), schema ? { schema } : {});
  }
  return openSqliteStore(join(config.dataDir, 'flatfhir.sqlite'), {
    keysDir: join(config.dataDir, 'keys'),
    ...(options.sqliteWriterCacheKb !== undefined ? { writerCacheKb: options.sqliteWriterCacheKb } : {}),
  });
}
