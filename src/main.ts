/**
 * The composition root: reads config, builds adapters (store/open.ts and storage/open.ts choose them, for the
 * export worker threads' entry too), wires services, starts HTTP and the export worker.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import type { Server as TlsServer } from 'node:tls';
import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { type DestinationStream, type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import { type AuditTrail, createAuditTrail } from './manage/audit-trail.js';
import { ensureSandboxClient } from './auth/sandbox-client.js';
import { type AuthService, createAuthService } from './auth/service.js';
import { type Config, DEFAULT_WORKER_MONITORING_PORT, SANDBOX_GROUP_LARGE, SANDBOX_GROUP_SMALL, SANDBOX_TENANT } from './config/index.js';
import { type ChunkPool, createChunkPool } from './export/chunk-pool.js';
import { createExportCounters, type ExportCounts, type ExportEvents } from './export/events.js';
import { createExportService, type ExportService } from './export/service.js';
import { createExportWorker, type ExportWorker } from './export/worker.js';
import { prepareResource } from './fhir/prepare.js';
import { buildApp } from './http/app.js';
import { createSqlExportService } from './views/export-job.js';
import { fhirBase, listeningOrigin } from './http/context.js';
import { type MonitoringServer, startMonitoringServer } from './http/monitoring-server.js';
import type { MonitoringDeps } from './http/routes/monitoring.js';
import { readTlsCredentials, reloadTls, type TlsCredentials } from './http/tls.js';
import { importPaths } from './import/importer.js';
import { exportMetricsEvents } from './monitoring/export-events.js';
import { createReadiness, dependencyChecks, type Readiness } from './monitoring/health.js';
import { instrumentStorage, instrumentStore } from './monitoring/instrument.js';
import { createPrometheusMetrics, type PrometheusMetrics } from './monitoring/prometheus.js';
import { createRequestContext, type RequestContext } from './monitoring/request-context.js';
import { openQueue } from './queue/open.js';
import type { JobQueue } from './queue/ports.js';
import { openStorage } from './storage/open.js';
import type { ObjectStorage } from './storage/ports.js';
import { openStore } from './store/open.js';
import type { Store } from './store/ports.js';
import { generatePopulation } from './synthetic/index.js';

/** Fastify's own announcement of each address it listens on: the server says once where it listens (serve()). */
const FASTIFY_LISTENING = 'Server listening at ';

/**
 * The process's logger: no credentials, paths without query strings. Written to `destination` when given, else to
 * stdout: human-readable (pino-pretty) on a terminal, one JSON object per line otherwise. With a request context,
 * every line written while a request is served carries its `reqId` (Fastify's request logger has it already).
 */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: NodeJS.WritableStream, requestContext?: RequestContext): Logger {
  const target: DestinationStream | undefined =
    destination !== undefined
      ? (destination as unknown as DestinationStream)
      : process.stdout.isTTY === true
        ? pretty({ colorize: true, sync: true, destination: 1, ignore: 'pid,hostname,service' })
        : undefined;
  return pino(
    {
      level: config.logLevel,
      ...(requestContext
        ? {
            mixin(_object: object, _level: number, logger: Logger) {
              const reqId = requestContext.current();
              return reqId === undefined || 'reqId' in logger.bindings() ? {} : { reqId };
            },
          }
        : {}),
      hooks: {
        logMethod(args, method) {
          if (typeof args[0] === 'string' && args[0].startsWith(FASTIFY_LISTENING)) return;
          method.apply(this, args);
        },
      },
      base: { service: 'flatfhir' },
      redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization', '*.access_token', '*.client_assertion'], remove: true },
      serializers: {
        // Query strings can carry patient references and search values: log the path only.
        req: (req: { method?: string; url?: string; id?: string }) => ({ id: req.id, method: req.method, path: (req.url ?? '').split('?')[0] }),
      },
    },
    target as never,
  );
}

/**
 * The logger for what a process must always say (where it listens, the sandbox's URL), at info even when the
 * configured level is warn or error; nothing when it is silent.
 */
function announcer(log: Logger): Logger {
  return log.level === 'silent' || log.isLevelEnabled('info') ? log : log.child({}, { level: 'info' });
}

export interface Runtime {
  config: Config;
  log: Logger;
  store: Store;
  storage: ObjectStorage;
  queue: JobQueue;
  auth: AuthService;
  exports: ExportService;
  /** The audit trail (records are written in batches; `flush` waits for them). */
  audit: AuditTrail;
  worker: ExportWorker;
  /** What the export engine did since start (jobs accepted, completed, failed by reason, chunks, resources). */
  exportCounts: ExportCounts;
  app: FastifyInstance;
  metrics: PrometheusMetrics;
  readiness: Readiness;
  /** Resolves once the chunk threads (if any) have started: their start-up loads the export code and opens stores. */
  threadsStarted(): Promise<void>;
  /** The origin clients see: the configured public base URL, else the address the app listens on. */
  origin(): string;
  close(): Promise<void>;
}

/**
 * Starts a process's monitoring listener on `monitoring.host` and `monitoring.port` (else `defaultPort`):
 * `/livez`, `/readyz` over its store and object storage, and `/metrics` (with `monitoring.metricsToken` when set).
 * API processes start it when `monitoring.port` is set; worker processes always (default port 9464).
 */
export async function startMonitoring(
  config: Config,
  deps: { store: Store; storage: ObjectStorage; metrics: PrometheusMetrics; log: Logger; readiness?: Readiness },
  defaultPort?: number,
): Promise<MonitoringServer> {
  const port = config.monitoring.port ?? defaultPort;
  if (port === undefined) throw new Error('monitoring.port is not set');
  const readiness = deps.readiness ?? createReadiness(dependencyChecks(deps), { log: deps.log.child({ component: 'readiness' }) });
  return startMonitoringServer({
    host: config.monitoring.host,
    port,
    log: deps.log.child({ component: 'monitoring' }),
    readiness,
    exposition: deps.metrics,
    ...(config.monitoring.metricsToken ? { metricsToken: config.monitoring.metricsToken } : {}),
  });
}

/**
 * A process's metrics (role api or worker) and its store and storage instrumented to count their errors; the
 * gauges read jobs and chunks by state from the store and the queue's depth.
 */
async function observedDependencies(
  config: Config,
  role: 'api' | 'worker',
  opened: Store,
  log: Logger,
): Promise<{ metrics: PrometheusMetrics; store: Store; storage: ObjectStorage; queue: JobQueue }> {
  const queue = await openQueue(config, (e) => log.error({ err: e }, 'export queue error'));
  const metrics = createPrometheusMetrics({ role, counts: () => opened.jobs.countByStatus(), queueDepth: () => queue.depth() });
  const store = instrumentStore(opened, metrics);
  const storage = instrumentStorage(await openStorage(config, store.keys), metrics);
  return { metrics, store, storage, queue };
}

/**
 * Creates the data directory (mode 0700: it holds patient data and keys) in every mode, the PostgreSQL one
 * included, and removes what an interrupted sandbox seeding left behind.
 */
export async function prepareDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  for (const entry of await readdir(dataDir)) {
    if (entry.startsWith('.seed-')) await rm(join(dataDir, entry), { recursive: true, force: true });
  }
}

/** Combines the counters every runtime keeps with observers given from outside (metrics, tests). */
function observe(...extras: (ExportEvents | undefined)[]): { events: ExportEvents; counts: ExportCounts } {
  const counters = createExportCounters();
  const all = [counters, ...extras.filter((e): e is ExportEvents => e !== undefined)];
  const events: ExportEvents = {};
  for (const key of ['jobAccepted', 'jobCompleted', 'jobFailed', 'chunkCompleted', 'chunkFailed'] as const) {
    const handlers = all.map((o) => o[key] as ((...args: unknown[]) => void) | undefined).filter((h) => h !== undefined);
    (events as Record<string, unknown>)[key] = (...args: unknown[]) => {
      for (const h of handlers) h(...args);
    };
  }
  return { events, counts: counters.counts };
}

/** The export worker of a process, with the chunk threads it runs chunks on. */
function buildWorker(
  config: Config,
  parts: { store: Store; storage: ObjectStorage; queue: JobQueue; log: Logger; events: ExportEvents; audit: AuditTrail },
): { worker: ExportWorker; pool: ChunkPool | undefined } {
  // An API node that runs no chunks (`--no-workers`) starts no chunk threads: each would open its own store and
  // storage, and load the export code, for nothing (and compete with the first requests while it starts).
  const pool =
    config.export.threads > 0 && config.export.workers
      ? createChunkPool({ entry: new URL('./export/chunk-thread.js', import.meta.url), size: config.export.threads, workerData: config })
      : undefined;
  const worker = createExportWorker({
    jobs: parts.store.jobs,
    resources: parts.store.resources,
    cohorts: parts.store.cohorts,
    asyncRequests: parts.store.asyncRequests,
    maxGroupMembers: config.export.maxGroupMembers,
    storage: parts.storage,
    queue: parts.queue,
    log: parts.log.child({ component: 'export-worker' }),
    events: parts.events,
    settings: config.export,
    audit: { trail: parts.audit, retentionDays: config.audit.retentionDays },
    // The embedded SQLite store has one server process: leases left running are its previous run's.
    soleWorker: parts.store.kind === 'sqlite',
    // Planning's queries (counts and id boundaries over whole types) run on a chunk thread too.
    ...(pool ? { execute: pool.execute, planJob: pool.planner({ auditPatients: true }) } : {}),
    duckdb: { memoryLimit: config.views.duckdbMemoryLimit },
  });
  return { worker, pool };
}

/** Builds everything a server process runs, without listening yet (the worker is started by the caller). */
export async function createRuntime(
  config: Config,
  options: { log?: Logger; store?: Store; events?: ExportEvents; tls?: TlsCredentials; plugins?: FastifyPluginAsync[]; requestContext?: RequestContext } = {},
): Promise<Runtime> {
  const requestContext = options.requestContext ?? createRequestContext();
  const log = options.log ?? createLogger(config, undefined, requestContext);
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const { metrics, store, storage, queue } = await observedDependencies(config, 'api', options.store ?? (await openStore(config)), log);
  const readiness = createReadiness(dependencyChecks({ store, storage }), { log: log.child({ component: 'readiness' }) });
  // /metrics on the main listener only behind its credential; a monitoring port serves it instead (serve()).
  const monitoring: MonitoringDeps = {
    readiness,
    ...(config.monitoring.port === undefined && config.monitoring.metricsToken
      ? { exposition: metrics, metricsToken: config.monitoring.metricsToken }
      : {}),
  };
  const { events, counts } = observe(options.events, exportMetricsEvents(metrics));
  const auth = await createAuthService({
    metrics,
    config,
    keys: store.keys,
    clients: store.clients,
    tenants: () => store.resources.listTenants(),
    log: log.child({ component: 'auth' }),
  });
  const audit = createAuditTrail({ store: store.audit, log: log.child({ component: 'audit' }) });
  const { worker, pool } = buildWorker(config, { store, storage, queue, log, events, audit });
  const exports = createExportService({
    resources: store.resources,
    jobs: store.jobs,
    storage,
    queue,
    log: log.child({ component: 'export' }),
    events,
    settings: config.export,
  });
  const sqlExports = createSqlExportService({
    resources: store.resources,
    jobs: store.jobs,
    storage,
    queue,
    log: log.child({ component: 'views' }),
    settings: config.export,
    duckdb: { memoryLimit: config.views.duckdbMemoryLimit },
  });
  const app = await buildApp({
    config,
    store,
    storage,
    auth,
    exports,
    audit,
    sqlExports,
    log,
    metrics,
    monitoring,
    requestContext,
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.plugins ? { plugins: options.plugins } : {}),
  });
  const origin = (): string => listeningOrigin(config, app.server);
  return {
    config,
    log,
    store,
    storage,
    queue,
    auth,
    exports,
    worker,
    exportCounts: counts,
    app,
    metrics,
    readiness,
    threadsStarted: async () => pool?.ready(),
    origin,
    audit,
    async close() {
      await app.close();
      await worker.stop();
      await audit.flush();
      await queue.close();
      await pool?.close();
      await storage.close();
      await store.close();
    },
  };
}

/**
 * Seeds the sandbox tenant (population and the two groups of the vendor docs) unless it is complete. The groups
 * are written last, so they mark a finished seeding: a start interrupted half-way seeds again on the next start
 * (the population is deterministic and re-importing it changes nothing).
 */
export async function seedSandbox(config: Config, store: Store, log: Logger): Promise<boolean> {
  const marker = await store.resources.read(SANDBOX_TENANT, 'Group', SANDBOX_GROUP_LARGE);
  if (marker && !marker.deleted) return false;
  const dir = await mkdtemp(join(config.dataDir, '.seed-'));
  try {
    log.info({ patients: config.sandboxPatients }, 'seeding the sandbox tenant');
    await generatePopulation({ patients: config.sandboxPatients, seed: 'flatfhir-sandbox', out: dir });
    const result = await importPaths({ resources: store.resources, tenant: SANDBOX_TENANT, paths: [dir], maxGroupMembers: config.export.maxGroupMembers });
    const patients: string[] = [];
    for await (const batch of store.resources.scan({ tenant: SANDBOX_TENANT, type: 'Patient', until: Date.now() + 60_000 })) {
      for (const r of batch) patients.push(r.id);
    }
    const group = (id: string, name: string, members: string[]) => ({
      resourceType: 'Group',
      id,
      type: 'person',
      actual: true,
      name,
      quantity: members.length,
      member: members.map((p) => ({ entity: { reference: `Patient/${p}` } })),
    });
    await store.resources.writeBatch(SANDBOX_TENANT, [
      prepareResource(group(SANDBOX_GROUP_SMALL, 'Sandbox group with 3 patients', patients.slice(0, 3))),
      prepareResource(group(SANDBOX_GROUP_LARGE, 'Sandbox group with 10 patients', patients.slice(0, 10))),
    ]);
    log.info({ resources: result.accepted }, 'sandbox tenant seeded');
    return true;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The page cache of a server's SQLite write connection (KiB). A server writes job state, tokens and the audit
 * trail, and reads them back, through it (scans and planning read on connections of their own): the default 32 MiB,
 * sized for imports, would fill over time with whatever passed through it and stay resident.
 */
const SERVER_WRITER_CACHE_KB = 4096;

/** Starts a server: seeds the sandbox on first start, listens, runs the worker, stops cleanly on SIGTERM/SIGINT. */
export async function serve(config: Config): Promise<Runtime> {
  const requestContext = createRequestContext();
  const log = createLogger(config, undefined, requestContext);
  await prepareDataDir(config.dataDir);
  const store = await openStore(config, { sqliteWriterCacheKb: SERVER_WRITER_CACHE_KB });
  if (config.seedSandbox) await seedSandbox(config, store, log);
  const tlsFiles = config.tls.cert && config.tls.key ? { cert: config.tls.cert, key: config.tls.key } : undefined;
  const tls = tlsFiles ? await readTlsCredentials(tlsFiles) : undefined;
  const runtime = await createRuntime(config, { log, store, requestContext, ...(tls ? { tls } : {}) });
  const monitor =
    config.monitoring.port !== undefined
      ? await startMonitoring(config, { store: runtime.store, storage: runtime.storage, metrics: runtime.metrics, readiness: runtime.readiness, log })
      : undefined;
  if (monitor) log.info({ host: config.monitoring.host, port: monitor.port }, `monitoring on http://${config.monitoring.host}:${monitor.port}`);
  // The chunk threads start before the server listens: the first requests do not share the cores with their
  // start-up (each loads the export code and opens its store).
  await runtime.threadsStarted();
  const address = await runtime.app.listen({ port: config.port, host: config.host });
  const origin = runtime.origin();
  if (tlsFiles) {
    // SIGHUP re-reads the certificate and key (after a renewal); a file that does not load keeps the current pair.
    process.on('SIGHUP', () => {
      readTlsCredentials(tlsFiles)
        .then((credentials) => {
          reloadTls(runtime.app.server as unknown as TlsServer, credentials);
          log.info('TLS certificate reloaded');
        })
        .catch((e: unknown) => log.error({ err: e }, 'TLS certificate reload failed; the current certificate stays'));
    });
  }
  const sandbox = (await store.resources.listTenants()).includes(SANDBOX_TENANT);
  if (sandbox) {
    const clientFile = join(config.dataDir, 'sandbox-client.json');
    await ensureSandboxClient({
      clients: store.clients,
      dataDir: config.dataDir,
      tenant: SANDBOX_TENANT,
      fhirBaseUrl: fhirBase(origin, SANDBOX_TENANT),
      tokenUrl: runtime.auth.tokenUrl(origin, SANDBOX_TENANT),
    });
    log.info({ clientFile }, 'sandbox client ready');
  }
  if (config.export.workers) await runtime.worker.start();
  announcer(log).info({ address, origin, workers: config.export.workers }, `flatfhir is listening on ${origin}`);
  // Only a sandbox that exists gets its URL printed (with --no-seed on a fresh store it would answer 403).
  if (sandbox) announcer(log).info({ fhirBaseUrl: fhirBase(origin, SANDBOX_TENANT) }, `Sandbox FHIR base URL: ${fhirBase(origin, SANDBOX_TENANT)}`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    Promise.resolve(monitor?.close())
      .then(() => runtime.close())
      .then(() => process.exit(0))
      .catch((e: unknown) => {
        log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return runtime;
}

/** A worker node: runs export chunks from the shared queue, no HTTP API; stops cleanly on SIGTERM/SIGINT. */
export async function runWorker(config: Config): Promise<{ worker: ExportWorker; exportCounts: ExportCounts; close(): Promise<void> }> {
  const log = createLogger(config);
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const { metrics, store, storage, queue } = await observedDependencies(config, 'worker', await openStore(config), log);
  const { events, counts } = observe(exportMetricsEvents(metrics));
  const audit = createAuditTrail({ store: store.audit, log: log.child({ component: 'audit' }) });
  const { worker, pool } = buildWorker(config, { store, storage, queue, log, events, audit });
  await pool?.ready();
  const monitor = await startMonitoring(config, { store, storage, metrics, log }, DEFAULT_WORKER_MONITORING_PORT);
  await worker.start();
  announcer(log).info(
    { concurrency: config.export.concurrency, threads: config.export.threads },
    `flatfhir worker running (monitoring on http://${config.monitoring.host}:${monitor.port})`,
  );
  const close = async (): Promise<void> => {
    await monitor.close();
    await worker.stop();
    await queue.close();
    await pool?.close();
    await storage.close();
    await store.close();
  };
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    close()
      .then(() => process.exit(0))
      .catch((e: unknown) => {
        log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return { worker, exportCounts: counts, close };
}
