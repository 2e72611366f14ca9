import { Command, Option } from 'commander';
import type { Management } from '../manage/index.js';

/** Where a management command works: on a store directly, or on a running server through its admin API. */
export interface ManageTarget {
  /** `--data DIR` */
  data?: string;
  /** `--database-url URL` */
  databaseUrl?: string;
  /** `--server URL`: the admin API of a running server instead of the store. */
  server?: string;
  /** `--admin-token T` (or FLATFHIR_ADMIN_TOKEN) for `--server`. */
  adminToken?: string;
}

export type OpenManagement = (target: ManageTarget) => Promise<{ manage: Management; close(): Promise<void> }>;

export interface ManageIo {
  /** Where results (JSON) go; defaults to stdout. */
  stdout?: { write(text: string): unknown };
}

/** Adds the options that choose where a management command works. */
export function targetOptions(cmd: Command): Command {
  return cmd
    .option('--data <dir>', 'data directory (embedded SQLite store)')
    .option('--database-url <url>', 'PostgreSQL connection URL (instead of the embedded store)')
    .option('--server <url>', 'work on a running server through its admin API instead of the store')
    .addOption(new Option('--admin-token <token>', 'the admin token of --server (env FLATFHIR_ADMIN_TOKEN)'));
}

/** Runs `fn` with the management services of the command's target, closing them after. */
export async function withManagement<T>(cmd: Command, open: OpenManagement, fn: (manage: Management) => Promise<T>): Promise<T> {
  const g = cmd.optsWithGlobals<ManageTarget>();
  const target: ManageTarget = {};
  for (const k of ['data', 'databaseUrl', 'server', 'adminToken'] as const) if (g[k] !== undefined) target[k] = g[k];
  const { manage, close } = await open(target);
  try {
    return await fn(manage);
  } finally {
    await close();
  }
}

export const printer =
  (io: ManageIo) =>
  (value: unknown): void => {
    (io.stdout ?? process.stdout).write(`${JSON.stringify(value, null, 2)}\n`);
  };

/** A new command with the target options. */
export const manageCommand = (name: string, description: string): Command => targetOptions(new Command(name).description(description));
