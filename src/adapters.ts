/**
 * Opening the adapters a configuration names: shared by the composition roots (main.ts and the export
 * worker-thread entry), and the only other place besides them that imports adapter modules.
 */
import { join } from 'node:path';
import type { Config } from './config/index.js';
import { FsObjectStorage, loadSigningSecret } from './storage/fs/index.js';
import type { ObjectStorage } from './storage/ports.js';
import { openPostgresStore } from './store/postgres/index.js';
import type { Store } from './store/ports.js';
import { openSqliteStore } from './store/sqlite/index.js';

/** Opens the store the configuration names: PostgreSQL for a database URL, else SQLite under the data directory. */
export async function openStore(config: Pick<Config, 'databaseUrl' | 'dataDir'>): Promise<Store> {
  if (config.databaseUrl) {
    // `?schema=name` selects the PostgreSQL schema (default public); it is ours, not libpq's, so it is taken off.
    const url = new URL(config.databaseUrl);
    const schema = url.searchParams.get('schema') ?? undefined;
    url.searchParams.delete('schema');
    return openPostgresStore(url.toString(), schema ? { schema } : {});
  }
  return openSqliteStore(join(config.dataDir, 'flatfhir.sqlite'));
}

export async function openStorage(config: Pick<Config, 'dataDir'>): Promise<ObjectStorage> {
  const secret = await loadSigningSecret(join(config.dataDir, 'keys', 'download-signing.key'));
  return new FsObjectStorage(join(config.dataDir, 'exports'), secret);
}

