import { type Command, Option } from 'commander';
import { type ConfigInput, loadConfig } from '../config/index.js';
import type { Store } from '../store/ports.js';

/** Adds the options that choose the data directory and database. */
export function storeOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-d, --data <dir>', 'data directory (env FLATFHIR_DATA)').default(undefined, './data'))
    .addOption(new Option('--database-url <url>', 'PostgreSQL URL instead of the embedded SQLite store (env DATABASE_URL)'));
}

export function configFor(opts: { data?: string; databaseUrl?: string }, extra: ConfigInput = {}) {
  const overrides: ConfigInput = { ...extra };
  if (opts.data !== undefined) overrides.dataDir = opts.data;
  if (opts.databaseUrl !== undefined) overrides.databaseUrl = opts.databaseUrl;
  return loadConfig(overrides);
}

export async function openStoreFor(opts: { data?: string; databaseUrl?: string }): Promise<Store> {
  const { openStore } = await import('../store/open.js');
  return openStore(configFor(opts));
}
