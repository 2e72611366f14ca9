import { type Command, Option } from 'commander';
import { type Config, type ConfigInput, configOptions, loadConfig } from '../config/index.js';
import type { Store } from '../store/ports.js';

/** The options every command that reads the configuration takes (besides its own). */
export interface ConfigFlags {
  config?: string;
  [flag: string]: unknown;
}

/** A commander option for a configuration key, its help naming the environment variable and the default. */
function configFlag(key: string): { option: Option; key: string } {
  const info = configOptions().find((o) => o.key === key);
  if (!info?.flag) throw new Error(`configuration option ${key} has no flag`);
  const shown = info.secret || info.default === undefined ? '' : `; default ${typeof info.default === 'string' ? info.default : JSON.stringify(info.default)}`;
  return { option: new Option(info.flag, `${info.description} (env ${info.env[0] ?? ''}${shown})`), key };
}

/** A commander option for a configuration key (its flag, description, environment variable and default). */
export function configOption(key: string): Option {
  return configFlag(key).option;
}

/**
 * An error whose message the command has already shown the user (its progress view printed it): the process
 * exits non-zero without printing it again.
 */
export class ReportedError extends Error {
  readonly reported = true;
}

/** Marks every mandatory option of a command tree as required in its help. */
export function markRequired(cmd: Command): void {
  for (const option of cmd.options) {
    if (option.mandatory && !option.description.startsWith('required')) option.description = `required: ${option.description}`;
  }
  for (const sub of cmd.commands) markRequired(sub);
}

const STORE_KEYS = ['dataDir', 'databaseUrl'];
const flagKeys = new WeakMap<Command, { attribute: string; key: string }[]>();

/** Adds flags for configuration keys (and `--config FILE`, once) to a command. */
export function configFlags(cmd: Command, keys: string[]): Command {
  const known = flagKeys.get(cmd) ?? [];
  if (known.length === 0) {
    cmd.addOption(new Option('--config <file>', 'configuration file, JSON or YAML (env FLATFHIR_CONFIG); see docs/configuration.md'));
  }
  for (const key of keys) {
    const { option } = configFlag(key);
    cmd.addOption(option);
    known.push({ attribute: option.attributeName(), key });
  }
  flagKeys.set(cmd, known);
  return cmd;
}

/** Adds the options that choose the data directory and database. */
export function storeOptions(cmd: Command): Command {
  return configFlags(cmd, STORE_KEYS);
}

function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
  node[parts[parts.length - 1] as string] = value;
}

/** The configuration a command runs with: its flags over the environment over the configuration file. */
export function commandConfig(cmd: Command, extra: ConfigInput = {}): Config {
  const opts = cmd.opts<ConfigFlags>();
  const overrides: Record<string, unknown> = { ...extra };
  for (const { attribute, key } of flagKeys.get(cmd) ?? []) {
    if (opts[attribute] !== undefined) setKey(overrides, key, opts[attribute]);
  }
  return loadConfig(overrides as ConfigInput, process.env, opts.config);
}

/** What a store a command opened is, for one line on stderr (never the password of a database URL). */
export function describeStore(config: Pick<Config, 'databaseUrl' | 'dataDir'>): string {
  if (!config.databaseUrl) return `SQLite store ${config.dataDir}/flatfhir.sqlite`;
  try {
    const url = new URL(config.databaseUrl);
    url.password = '';
    url.username = url.username ? url.username : '';
    return `PostgreSQL store ${url.toString().replace(/:@/, '@')}`;
  } catch {
    return 'PostgreSQL store';
  }
}

/** Opens the store a command's configuration names, saying on stderr which one. */
export async function openStoreFor(config: Config): Promise<Store> {
  const { openStore } = await import('../store/open.js');
  process.stderr.write(`flatfhir: using the ${describeStore(config)}\n`);
  return openStore(config);
}
