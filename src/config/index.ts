/**
 * The configuration: one schema, each option carrying its environment variable, CLI flag and meaning, from which
 * the environment is read, the CLI flags are made and docs/configuration.md is generated. The only module that
 * reads process.env (through `loadConfig`'s default argument) and configuration files.
 *
 * Precedence, lowest first: the schema's defaults, the configuration file (`--config` or FLATFHIR_CONFIG), the
 * environment, explicit overrides (CLI flags, tests).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export const SANDBOX_TENANT = 'ec2458f2-1e24-41c8-b71b-0e701af7583d';
export const SANDBOX_GROUP_SMALL = '11ec-d16a-c763b73e-98e8-a31715e6a2bf';
export const SANDBOX_GROUP_LARGE = '11ec-d16a-b40370f8-9d31-577f11a339c5';

/** What the reference and the CLI say about an option. */
export interface OptionMeta {
  /** Environment variables, the first one canonical (later ones are accepted aliases). */
  env: string[];
  /** The CLI flag of `serve`/`worker` (and of every command that opens the store, for the store options). */
  flag?: string;
  description: string;
  /** Never printed (the reference shows no default, logs never show it). */
  secret?: boolean;
}

const opt = <T extends z.ZodType>(schema: T, meta: OptionMeta): T => schema.meta({ ...meta }) as T;
const int = (min: number) => z.coerce.number().int().min(min);
/** A reverse proxy's address: an IP address, a CIDR range, or one of proxy-addr's names (loopback, linklocal, uniquelocal). */
function isProxyAddress(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}
const proxyList = z
  .union([z.array(z.string()), z.string().transform((s) => s.split(','))])
  .transform((list) => list.map((a) => a.trim()).filter((a) => a !== ''))
  .refine((list) => list.every(isProxyAddress), { message: 'each entry must be an IP address, a CIDR range, loopback, linklocal or uniquelocal' });
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);

const schema = z.object({
  host: opt(z.string().default('127.0.0.1'), { env: ['FLATFHIR_HOST', 'HOST'], flag: '--host <address>', description: 'Address to listen on.' }),
  port: opt(int(0).max(65535).default(8080), { env: ['FLATFHIR_PORT', 'PORT'], flag: '-p, --port <port>', description: 'Port to listen on (0: any free port).' }),
  dataDir: opt(z.string().default('./data'), {
    env: ['FLATFHIR_DATA'],
    flag: '-d, --data <dir>',
    description: 'Data directory: the embedded SQLite store, export files, keys, the sandbox client file.',
  }),
  databaseUrl: opt(z.string().optional(), {
    env: ['FLATFHIR_DATABASE_URL', 'DATABASE_URL'],
    flag: '--database-url <url>',
    description: 'postgres://… selects the PostgreSQL store (`?schema=name` picks a schema, default public); absent: the embedded SQLite store under the data directory.',
    secret: true,
  }),
  publicBaseUrl: opt(z.string().url().regex(/^https?:\/\//i, 'must be an http:// or https:// URL').optional(), {
    env: ['FLATFHIR_PUBLIC_BASE_URL'],
    flag: '--public-url <url>',
    description:
      'The origin clients see (behind a reverse proxy); default http://host:port of the listening address. Every URL the server answers (manifests, file redirects, discovery) and the token `aud` check use it, never the request\'s Host header.',
  }),
  trustedProxies: opt(proxyList.default([]), {
    env: ['FLATFHIR_TRUSTED_PROXIES'],
    flag: '--trusted-proxies <addresses>',
    description:
      'Reverse proxies (comma-separated IP addresses or CIDR ranges, or loopback) whose X-Forwarded-For and X-Forwarded-Proto are honoured; from any other peer they are ignored. None by default.',
  }),
  logLevel: opt(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), {
    env: ['FLATFHIR_LOG_LEVEL', 'LOG_LEVEL'],
    flag: '--log-level <level>',
    description: 'pino log level: fatal, error, warn, info, debug, trace or silent.',
  }),
  seedSandbox: opt(bool.default(true), {
    env: ['FLATFHIR_SEED_SANDBOX'],
    description: 'Seed the sandbox tenant, its groups and client on first start (`serve --no-seed` turns it off).',
  }),
  sandboxPatients: opt(int(10).default(120), { env: ['FLATFHIR_SANDBOX_PATIENTS'], description: 'Patients generated for the sandbox tenant.' }),
  monitoring: z
    .object({
      host: opt(z.string().default('127.0.0.1'), {
        env: ['FLATFHIR_MONITORING_HOST'],
        flag: '--monitoring-host <address>',
        description: 'Address of the monitoring listener (`/livez`, `/readyz`, `/metrics`), when it has a port.',
      }),
      port: opt(int(0).max(65535).optional(), {
        env: ['FLATFHIR_MONITORING_PORT'],
        flag: '--monitoring-port <port>',
        description:
          'Port of a separate monitoring listener serving `/livez`, `/readyz` and `/metrics`. Worker processes default to 9464; API processes without it serve `/livez` and `/readyz` on their main port, and `/metrics` there only with `monitoring.metricsToken`.',
      }),
      metricsToken: opt(z.string().min(16).optional(), {
        env: ['FLATFHIR_METRICS_TOKEN'],
        description: 'Bearer credential `/metrics` requires (at least 16 characters); absent: `/metrics` only on the monitoring listener, unauthenticated.',
        secret: true,
      }),
    })
    .prefault({}),
  tls: z
    .object({
      cert: opt(z.string().min(1).optional(), {
        env: ['FLATFHIR_TLS_CERT'],
        flag: '--tls-cert <file>',
        description: 'PEM certificate (chain) file: flatfhir serves HTTPS itself (TLS 1.2 or newer), re-reading the files on SIGHUP.',
      }),
      key: opt(z.string().min(1).optional(), {
        env: ['FLATFHIR_TLS_KEY'],
        flag: '--tls-key <file>',
        description: 'PEM private key file of the certificate, with `tls.cert`.',
      }),
    })
    .prefault({})
    .refine((t) => (t.cert === undefined) === (t.key === undefined), { message: 'tls.cert and tls.key go together' }),
  storage: z
    .object({
      url: opt(z.string().regex(/^s3:\/\/[A-Za-z0-9._-]+(\/[^?#]*)?$/, 'expected s3://bucket or s3://bucket/prefix').optional(), {
        env: ['FLATFHIR_STORAGE'],
        flag: '--storage <url>',
        description:
          's3://bucket/prefix keeps export files in an S3-compatible object store (AWS S3, Ceph RGW, SeaweedFS, Garage, MinIO); absent: files under the data directory (`exports/`).',
      }),
      s3: z
        .object({
          endpoint: opt(z.string().url().optional(), {
            env: ['FLATFHIR_S3_ENDPOINT'],
            flag: '--s3-endpoint <url>',
            description: 'The S3 endpoint (for stores other than AWS S3, e.g. http://minio:9000); absent: AWS S3 of the region.',
          }),
          presignEndpoint: opt(z.string().url().optional(), {
            env: ['FLATFHIR_S3_PRESIGN_ENDPOINT'],
            description: 'The endpoint download URLs are signed for, when clients reach the store at another address than flatfhir does; default the endpoint.',
          }),
          region: opt(z.string().min(1).default('us-east-1'), {
            env: ['FLATFHIR_S3_REGION', 'AWS_REGION'],
            flag: '--s3-region <region>',
            description: 'The S3 region (signatures name it; S3-compatible stores mostly accept us-east-1).',
          }),
          forcePathStyle: opt(bool.default(false), {
            env: ['FLATFHIR_S3_FORCE_PATH_STYLE'],
            flag: '--s3-path-style',
            description: 'Path-style addressing (http://endpoint/bucket/key) instead of virtual-hosted (http://bucket.endpoint/key); most self-hosted stores need it.',
          }),
          accessKeyId: opt(z.string().min(1).optional(), {
            env: ['FLATFHIR_S3_ACCESS_KEY_ID'],
            description: 'Access key id; absent: the AWS SDK default credential chain (AWS_ACCESS_KEY_ID, shared files, SSO, container or instance roles).',
          }),
          secretAccessKey: opt(z.string().min(1).optional(), {
            env: ['FLATFHIR_S3_SECRET_ACCESS_KEY'],
            description: 'Secret access key, with `storage.s3.accessKeyId`.',
            secret: true,
          }),
          partSizeMb: opt(int(5).max(5120).default(8), {
            env: ['FLATFHIR_S3_PART_SIZE_MB'],
            description: 'Part size of multipart uploads in MiB (an export file larger than this is uploaded in parts).',
          }),
        })
        .prefault({}),
    })
    .prefault({})
    .refine((s) => (s.s3.accessKeyId === undefined) === (s.s3.secretAccessKey === undefined), {
      message: 'storage.s3.accessKeyId and storage.s3.secretAccessKey go together',
    }),
  export: z
    .object({
      concurrency: opt(int(1).default(2), { env: ['FLATFHIR_EXPORT_CONCURRENCY'], description: 'Export chunks run at once by one process.' }),
      threads: opt(int(0).default(2), {
        env: ['FLATFHIR_EXPORT_THREADS'],
        description: 'Worker threads that run export chunks, so the main thread stays free for HTTP (0: the main thread).',
      }),
      maxFileResources: opt(int(1).default(100_000), { env: ['FLATFHIR_EXPORT_MAX_FILE_RESOURCES'], description: 'Most resources in one output file.' }),
      maxFileBytes: opt(int(1024).default(64 * 1024 * 1024), { env: ['FLATFHIR_EXPORT_MAX_FILE_BYTES'], description: 'Most bytes in one output file.' }),
      chunkResources: opt(int(1).default(100_000), { env: ['FLATFHIR_EXPORT_CHUNK_RESOURCES'], description: 'Target resources per export chunk when planning.' }),
      retentionSeconds: opt(int(1).default(30 * 24 * 3600), {
        env: ['FLATFHIR_EXPORT_RETENTION_SECONDS'],
        description: 'How long jobs and their files, and the outcomes of asynchronous Group creations, are kept (default 30 days).',
      }),
      retryAfterSeconds: opt(int(1).default(2), { env: ['FLATFHIR_EXPORT_RETRY_AFTER_SECONDS'], description: '`Retry-After` while a job runs.' }),
      presignSeconds: opt(int(1).default(300), { env: ['FLATFHIR_EXPORT_PRESIGN_SECONDS'], description: 'Lifetime of the pre-signed download URLs.' }),
      manifestPageFiles: opt(int(1).default(1000), {
        env: ['FLATFHIR_EXPORT_MANIFEST_PAGE_FILES'],
        description:
          'Output and deleted files listed per manifest page when a client kicks off with `allowPartialManifests=true` (pages are joined by `link` next).',
      }),
      maxPatients: opt(int(1).default(20_000), { env: ['FLATFHIR_EXPORT_MAX_PATIENTS'], description: 'Most patients in one Patient export (the vendor limit).' }),
      maxGroupMembers: opt(int(1).default(20_000), { env: ['FLATFHIR_MAX_GROUP_MEMBERS'], description: 'Most members of a group (the vendor limit).' }),
      rejectDuplicates: opt(bool.default(false), {
        env: ['FLATFHIR_EXPORT_REJECT_DUPLICATES'],
        description: 'Refuse (409) a kick-off identical to a job of the same client not yet deleted.',
      }),
      leaseSeconds: opt(int(2).default(10), {
        env: ['FLATFHIR_EXPORT_LEASE_SECONDS'],
        description:
          'Lease of a running chunk: renewed by a heartbeat while it runs; once it lapses (its worker died) another worker redoes the chunk. A server restarting alone on its store reclaims its previous run\'s leases at once.',
      }),
      heartbeatSeconds: opt(int(1).default(2), {
        env: ['FLATFHIR_EXPORT_HEARTBEAT_SECONDS'],
        description: 'How often a worker renews the leases of its running chunks and looks for lapsed leases of others (less than the lease).',
      }),
      queuePollMs: opt(int(100).default(500), {
        env: ['FLATFHIR_EXPORT_QUEUE_POLL_MS'],
        description: 'PostgreSQL: how often an idle worker asks the queue (pg-boss) for chunks sent by other processes.',
      }),
      workers: opt(bool.default(true), {
        env: ['FLATFHIR_EXPORT_WORKERS'],
        description: 'Run export chunks in the server process (`serve --no-workers`: an API node only; `flatfhir worker` runs them).',
      }),
      maxChunkAttempts: opt(int(1).default(3), { env: ['FLATFHIR_EXPORT_MAX_CHUNK_ATTEMPTS'], description: 'Attempts of a failing chunk before it fails for good.' }),
      sweepIntervalSeconds: opt(int(1).default(300), { env: ['FLATFHIR_EXPORT_SWEEP_INTERVAL_SECONDS'], description: 'How often expired jobs are swept.' }),
    })
    .prefault({}),
  views: z
    .object({
      runMaxRows: opt(int(1).default(10_000), {
        env: ['FLATFHIR_VIEWS_RUN_MAX_ROWS'],
        description: 'Most rows `$sql-run` answers; a larger result gets an OperationOutcome pointing to `$sql-export`.',
      }),
      runMaxSeconds: opt(int(1).default(30), {
        env: ['FLATFHIR_VIEWS_RUN_MAX_SECONDS'],
        description: 'Longest `$sql-run` evaluation; beyond it, an OperationOutcome pointing to `$sql-export`.',
      }),
      duckdbMemoryLimit: opt(z.string().regex(/^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$/i).default('128MB'), {
        env: ['FLATFHIR_VIEWS_DUCKDB_MEMORY_LIMIT'],
        description: 'Memory limit of the embedded DuckDB that writes Parquet and runs SQLQuery Libraries (it spills to temporary files beyond it).',
      }),
      threads: opt(int(0).max(64).default(2), {
        env: ['FLATFHIR_VIEWS_THREADS'],
        description: 'Worker threads that parse and evaluate resources for `flatfhir view run` over the store (0: the calling thread). `$sql-export` runs on the export threads instead.',
      }),
    })
    .prefault({}),
  auth: z
    .object({
      adminToken: opt(z.string().min(16).optional(), {
        env: ['FLATFHIR_ADMIN_TOKEN'],
        description: 'The admin credential (at least 16 characters); absent turns the admin API off.',
        secret: true,
      }),
      tokenLifetimeSeconds: opt(int(1).max(300).default(300), { env: ['FLATFHIR_TOKEN_LIFETIME_SECONDS'], description: 'Access token lifetime (at most 300).' }),
      clockSkewSeconds: opt(int(0).default(60), { env: ['FLATFHIR_CLOCK_SKEW_SECONDS'], description: 'Clock skew allowed on client assertions.' }),
      revocationCacheMs: opt(int(0).max(60_000).default(1000), {
        env: ['FLATFHIR_REVOCATION_CACHE_MS'],
        description:
          'How long an API process reuses the token revocation list it read from the store (0: read on every request). A disabled or removed client\'s tokens are refused by every process at most this long after.',
      }),
      // Rate limits are token buckets: "N per minute" allows N at once, then one every 60/N seconds. Per process.
      tokenRequestsPerMinute: opt(int(1).default(300), {
        env: ['FLATFHIR_TOKEN_REQUESTS_PER_MINUTE'],
        description: 'Successful token requests per client per minute (a client needs one per token lifetime); beyond it, 429 `slow_down`.',
      }),
      failedTokenRequestsPerMinute: opt(int(1).default(30), {
        env: ['FLATFHIR_FAILED_TOKEN_REQUESTS_PER_MINUTE'],
        description:
          'Failed token requests (bad signature, unknown client, replayed `jti`…) per client per minute; beyond it, every token request naming that client answers 429 `slow_down` until the allowance refills.',
      }),
      failedTokenRequestsPerAddressPerMinute: opt(int(1).default(60), {
        env: ['FLATFHIR_FAILED_TOKEN_REQUESTS_PER_ADDRESS_PER_MINUTE'],
        description: 'Failed token requests per source address per minute; beyond it, every token request from that address answers 429 `slow_down`.',
      }),
      kickoffsPerMinute: opt(int(1).default(60), {
        env: ['FLATFHIR_KICKOFFS_PER_MINUTE'],
        description: 'Accepted export kick-offs per client per minute; a rejected kick-off (4xx) costs nothing. Beyond it, 429 with `Retry-After`.',
      }),
      groupCreatesPerMinute: opt(int(1).default(30), {
        env: ['FLATFHIR_GROUP_CREATES_PER_MINUTE'],
        description: 'Accepted Bulk Cohort API group creations (`POST [base]/Group`) per client per minute; a refused one (4xx) costs nothing. Beyond it, 429 with `Retry-After`.',
      }),
    })
    .prefault({}),
  audit: z
    .object({
      retentionDays: opt(int(1).default(400), {
        env: ['FLATFHIR_AUDIT_RETENTION_DAYS'],
        description:
          'How long audit records (token requests, kick-offs, completed status polls, downloads, deletes, expiries, admin changes) and the patient sets of export jobs are kept; older ones are removed by the retention sweep.',
      }),
    })
    .prefault({}),
});

export type Config = Readonly<z.infer<typeof schema>>;

/** The monitoring port of worker processes when `monitoring.port` is not set. */
export const DEFAULT_WORKER_MONITORING_PORT = 9464;
export type ConfigInput = z.input<typeof schema>;

/** One option of the reference: its dotted key, metadata and default. */
export interface OptionInfo extends OptionMeta {
  key: string;
  default: unknown;
}

interface ZodInternals {
  _zod: { def: { type: string; innerType?: z.ZodType; defaultValue?: unknown; shape?: Record<string, z.ZodType> } };
}
const def = (s: z.ZodType) => (s as unknown as ZodInternals)._zod.def;

function walk(shape: Record<string, z.ZodType>, prefix: string, out: OptionInfo[]): void {
  for (const [name, field] of Object.entries(shape)) {
    const d = def(field);
    if (d.type === 'prefault' && d.innerType && def(d.innerType).type === 'object') {
      walk((d.innerType as unknown as { shape: Record<string, z.ZodType> }).shape, `${prefix}${name}.`, out);
      continue;
    }
    const meta = field.meta() as OptionMeta | undefined;
    if (!meta) throw new Error(`configuration option ${prefix}${name} has no metadata`);
    out.push({ key: `${prefix}${name}`, ...meta, default: d.type === 'default' ? d.defaultValue : undefined });
  }
}

/** Every option, in schema order. */
export function configOptions(): OptionInfo[] {
  const out: OptionInfo[] = [];
  walk(schema.shape as unknown as Record<string, z.ZodType>, '', out);
  return out;
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
  node[parts[parts.length - 1] as string] = value;
}

/** Reads the options' environment variables from an environment. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ConfigInput {
  const out: Record<string, unknown> = {};
  for (const option of configOptions()) {
    const name = option.env.find((e) => env[e] !== undefined && env[e] !== '');
    if (name) setPath(out, option.key, env[name]);
  }
  return out as ConfigInput;
}

/** Reads a configuration file: JSON (`.json`) or YAML (anything else), shaped like the configuration itself. */
export function readConfigFile(path: string): ConfigInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`Cannot read the configuration file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let value: unknown;
  try {
    value = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new Error(`The configuration file ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`The configuration file ${path} must hold an object.`);
  return value as ConfigInput;
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

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Validates and freezes a configuration from, lowest precedence first: defaults, the configuration file
 * (`configFile`, else FLATFHIR_CONFIG), the environment, then explicit overrides (CLI flags, tests).
 */
export function loadConfig(overrides: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env, configFile?: string): Config {
  const file = configFile ?? (env['FLATFHIR_CONFIG'] || undefined);
  const fromFile = file ? readConfigFile(file) : {};
  const input = merge(merge(fromFile as Record<string, unknown>, configFromEnv(env) as Record<string, unknown>), overrides as Record<string, unknown>);
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration${file ? ` (with ${file})` : ''}: ${detail}`);
  }
  return deepFreeze({ ...parsed.data, dataDir: resolve(parsed.data.dataDir) });
}

/**
 * The origin clients see (no trailing slash): the configured public base URL, else the listening address
 * (`listeningPort` once the server listens, which matters for port 0). Never derived from a request.
 */
export function publicOrigin(config: Pick<Config, 'publicBaseUrl' | 'host' | 'port'> & { tls?: { cert?: string | undefined } }, listeningPort?: number): string {
  if (config.publicBaseUrl) return config.publicBaseUrl.replace(/\/+$/, '');
  const wildcard = config.host === '0.0.0.0' || config.host === '::' || config.host === '';
  const host = wildcard ? '127.0.0.1' : isIP(config.host) === 6 ? `[${config.host}]` : config.host;
  return `${config.tls?.cert ? 'https' : 'http'}://${host}:${listeningPort ?? config.port}`;
}
