/** Choosing the JobQueue adapter a configuration names (for composition roots only). */
import type { Config } from '../config/index.js';
import { checkSchemaName } from '../store/postgres/db.js';
import { createInProcessQueue } from './in-process.js';
import { openPgBossQueue } from './pg-boss.js';
import type { JobQueue } from './ports.js';

/** pg-boss on the store's database (its tables in the store's schema) for PostgreSQL; else in-process. */
export async function openQueue(config: Pick<Config, 'databaseUrl' | 'export'>, onError?: (e: unknown) => void): Promise<JobQueue> {
  if (!config.databaseUrl) return createInProcessQueue();
  const url = new URL(config.databaseUrl);
  const schema = checkSchemaName(url.searchParams.get('schema') ?? 'public');
  url.searchParams.delete('schema');
  return openPgBossQueue({
    connectionString: url.toString(),
    schema,
    pollIntervalMs: config.export.queuePollMs,
    ...(onError ? { onError } : {}),
  });
}
