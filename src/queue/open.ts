/** Choosing the JobQueue adapter a configuration names (for composition roots only). */
import type { Config } from '../config/index.js';
import { createInProcessQueue } from './in-process.js';
import type { JobQueue } from './ports.js';

/** pg-boss on the store's database (its tables in the store's schema) for PostgreSQL; else in-process. */
export async function openQueue(config: Pick<Config, 'databaseUrl' | 'export'>, onError?: (e: unknown) => void): Promise<JobQueue> {
  if (!config.databaseUrl) return createInProcessQueue();
  const { checkSchemaName } = await import('../store/postgres/db.js');
  const url = new URL(config.databaseUrl);
  const schema = checkSchemaName(url.searchParams.get('schema') ?? 'public');
  url.searchParams.delete('schema');
  // The queue's connections are named apart from the store's (the URL's name would override pg-boss's option).
  const name = url.searchParams.get('application_name');
  url.searchParams.delete('application_name');
  // pg-boss is loaded only for PostgreSQL: the embedded server never holds it in memory.
  const { openPgBossQueue } = await import('./pg-boss.js');
  return openPgBossQueue({
    connectionString: url.toString(),
    schema,
    pollIntervalMs: config.export.queuePollMs,
    // An item fetched by a process that died before claiming its chunk is offered again after three leases.
    expireSeconds: Math.max(10, config.export.leaseSeconds * 3),
    applicationName: name ? `${name}-queue` : 'flatfhir-queue',
    ...(onError ? { onError } : {}),
  });
}
