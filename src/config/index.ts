import { resolve } from 'node:path';
import { z } from 'zod';

export const SANDBOX_TENANT = 'ec2458f2-1e24-41c8-b71b-0e701af7583d';
export const SANDBOX_GROUP_SMALL = '11ec-d16a-c763b73e-98e8-a31715e6a2bf';
export const SANDBOX_GROUP_LARGE = '11ec-d16a-b40370f8-9d31-577f11a339c5';

const int = (min: number) => z.coerce.number().int().min(min);
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);

const schema = z.object({
  host: z.string().default('127.0.0.1'),
  port: int(0).max(65535).default(8080),
  dataDir: z.string().default('./data'),
  /** postgres://… selects the PostgreSQL store; absent means the embedded SQLite store under dataDir. */
  databaseUrl: z.string().optional(),
  /** The externally visible origin (e.g. behind a reverse proxy); defaults to http://host:port. */
  publicBaseUrl: z.string().url().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Seed the sandbox tenant on first start. */
  seedSandbox: bool.default(true),
  sandboxPatients: int(10).default(120),
  export: z
    .object({
      concurrency: int(1).default(2),
      /** Worker threads that run chunks, so the main thread stays free for HTTP (0: run them on the main thread). */
      threads: int(0).default(2),
      maxFileResources: int(1).default(100_000),
      maxFileBytes: int(1024).default(64 * 1024 * 1024),
      /** Target resources per chunk when planning. */
      chunkResources: int(1).default(100_000),
      retentionSeconds: int(1).default(30 * 24 * 3600),
      retryAfterSeconds: int(1).default(2),
      presignSeconds: int(1).default(300),
      maxPatients: int(1).default(20_000),
      maxGroupMembers: int(1).default(20_000),
      rejectDuplicates: bool.default(false),
      leaseSeconds: int(1).default(60),
      maxChunkAttempts: int(1).default(3),
      sweepIntervalSeconds: int(1).default(300),
    })
    .prefault({}),
  auth: z
    .object({
      /** Admin API bearer token; absent turns the admin API off. */
      adminToken: z.string().min(16).optional(),
      tokenLifetimeSeconds: int(1).max(300).default(300),
      clockSkewSeconds: int(0).default(60),
      tokenRequestsPerMinute: int(1).default(60),
      kickoffsPerMinute: int(1).default(30),
    })
    .prefault({}),
});

export type Config = Readonly<z.infer<typeof schema>>;
export type ConfigInput = z.input<typeof schema>;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Reads FLATFHIR_* variables (and PORT, DATABASE_URL) from an environment. The only place that reads env. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ConfigInput {
  const out: Record<string, unknown> = {};
  const sub = (group: string, key: string, value: string | undefined): void => {
    if (value === undefined || value === '') return;
    const target = (out[group] ??= {}) as Record<string, unknown>;
    target[key] = value;
  };
  const top = (key: string, value: string | undefined): void => {
    if (value !== undefined && value !== '') out[key] = value;
  };
  top('host', env['FLATFHIR_HOST'] ?? env['HOST']);
  top('port', env['FLATFHIR_PORT'] ?? env['PORT']);
  top('dataDir', env['FLATFHIR_DATA']);
  top('databaseUrl', env['FLATFHIR_DATABASE_URL'] ?? env['DATABASE_URL']);
  top('publicBaseUrl', env['FLATFHIR_PUBLIC_BASE_URL']);
  top('logLevel', env['FLATFHIR_LOG_LEVEL'] ?? env['LOG_LEVEL']);
  top('seedSandbox', env['FLATFHIR_SEED_SANDBOX']);
  top('sandboxPatients', env['FLATFHIR_SANDBOX_PATIENTS']);
  sub('export', 'concurrency', env['FLATFHIR_EXPORT_CONCURRENCY']);
  sub('export', 'threads', env['FLATFHIR_EXPORT_THREADS']);
  sub('export', 'maxFileResources', env['FLATFHIR_EXPORT_MAX_FILE_RESOURCES']);
  sub('export', 'maxFileBytes', env['FLATFHIR_EXPORT_MAX_FILE_BYTES']);
  sub('export', 'chunkResources', env['FLATFHIR_EXPORT_CHUNK_RESOURCES']);
  sub('export', 'retentionSeconds', env['FLATFHIR_EXPORT_RETENTION_SECONDS']);
  sub('export', 'retryAfterSeconds', env['FLATFHIR_EXPORT_RETRY_AFTER_SECONDS']);
  sub('export', 'presignSeconds', env['FLATFHIR_EXPORT_PRESIGN_SECONDS']);
  sub('export', 'maxPatients', env['FLATFHIR_EXPORT_MAX_PATIENTS']);
  sub('export', 'maxGroupMembers', env['FLATFHIR_MAX_GROUP_MEMBERS']);
  sub('export', 'rejectDuplicates', env['FLATFHIR_EXPORT_REJECT_DUPLICATES']);
  sub('export', 'leaseSeconds', env['FLATFHIR_EXPORT_LEASE_SECONDS']);
  sub('export', 'maxChunkAttempts', env['FLATFHIR_EXPORT_MAX_CHUNK_ATTEMPTS']);
  sub('export', 'sweepIntervalSeconds', env['FLATFHIR_EXPORT_SWEEP_INTERVAL_SECONDS']);
  sub('auth', 'adminToken', env['FLATFHIR_ADMIN_TOKEN']);
  sub('auth', 'tokenLifetimeSeconds', env['FLATFHIR_TOKEN_LIFETIME_SECONDS']);
  sub('auth', 'clockSkewSeconds', env['FLATFHIR_CLOCK_SKEW_SECONDS']);
  sub('auth', 'tokenRequestsPerMinute', env['FLATFHIR_TOKEN_REQUESTS_PER_MINUTE']);
  sub('auth', 'kickoffsPerMinute', env['FLATFHIR_KICKOFFS_PER_MINUTE']);
  return out as ConfigInput;
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    const prev = out[k];
    out[k] =
      prev && typeof prev === 'object' && v && typeof v === 'object' && !Array.isArray(v)
        ? merge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** Validates and freezes a configuration: environment values first, then explicit overrides (CLI flags, tests). */
export function loadConfig(overrides: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const input = merge(configFromEnv(env) as Record<string, unknown>, overrides as Record<string, unknown>);
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${detail}`);
  }
  return deepFreeze({ ...parsed.data, dataDir: resolve(parsed.data.dataDir) });
}

/** The origin clients see (no trailing slash). */
export function publicOrigin(config: Config, listeningPort?: number): string {
  if (config.publicBaseUrl) return config.publicBaseUrl.replace(/\/+$/, '');
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return `http://${host}:${listeningPort ?? config.port}`;
}
