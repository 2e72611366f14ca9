/**
 * The composition root: reads config, builds adapters (store/open.ts and storage/open.ts choose them, for the
 * export worker threads' entry too), wires services, starts HTTP and the export worker.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { type Logger, pino } from 'pino';
import { ensureSandboxClient } from './auth/sandbox-client.js';
import { type AuthService, createAuthService } from './auth/service.js';
import { type Config, SANDBOX_GROUP_LARGE, SANDBOX_GROUP_SMALL, SANDBOX_TENANT } from './config/index.js';
import { createChunkPool } from './export/chunk-pool.js';
import { createExportService, type ExportService } from './export/service.js';
import { createExportWorker, type ExportWorker } from './export/worker.js';
import { prepareResource } from './fhir/prepare.js';
import { buildApp } from './http/app.js';
import { fhirBase, listeningOrigin } from './http/context.js';
import { importPaths } from './import/importer.js';
import { openStorage } from './storage/open.js';
import type { ObjectStorage } from './storage/ports.js';
import { openStore } from './store/open.js';
import type { Store } from './store/ports.js';
import { generatePopulation } from './synthetic/index.js';

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { service: 'flatfhir' },
      redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization', '*.access_token', '*.client_assertion'], remove: true },
      serializers: {
        // Query strings can carry patient references and search values: log the path only.
        req: (req: { method?: string; url?: string; id?: string }) => ({ id: req.id, method: req.method, path: (req.url ?? '').split('?')[0] }),
      },
    },
    destination as never,
  );
}

export interface Runtime {
  config: Config;
  log: Logger;
  store: Store;
  storage: ObjectStorage;
  auth: AuthService;
  exports: ExportService;
  worker: ExportWorker;
  app: FastifyInstance;
  /** The origin clients see: the configured public base URL, else the address the app listens on. */
  origin(): string;
  close(): Promise<void>;
}

/** Builds everything a server process runs, without listening yet. */
export async function createRuntime(
  config: Config,
  options: { log?: Logger; store?: Store; plugins?: FastifyPluginAsync[] } = {},
): Promise<Runtime> {
  const log = options.log ?? createLogger(config);
  const store = options.store ?? (await openStore(config));
  const storage = await openStorage(config);
  const auth = await createAuthService({
    config,
    dataDir: config.dataDir,
    clients: store.clients,
    tenants: () => store.resources.listTenants(),
    log: log.child({ component: 'auth' }),
  });
  const pool =
    config.export.threads > 0
      ? createChunkPool({ entry: new URL('./export/chunk-thread.js', import.meta.url), size: config.export.threads, workerData: config })
      : undefined;
  const worker = createExportWorker({
    jobs: store.jobs,
    resources: store.resources,
    storage,
    log: log.child({ component: 'export-worker' }),
    settings: config.export,
    ...(pool ? { execute: pool.execute } : {}),
  });
  const exports = createExportService({
    resources: store.resources,
    jobs: store.jobs,
    storage,
    log: log.child({ component: 'export' }),
    settings: config.export,
    onPlanned: () => worker.wake(),
  });
  const app = await buildApp({ config, store, storage, auth, exports, log, ...(options.plugins ? { plugins: options.plugins } : {}) });
  const origin = (): string => listeningOrigin(config, app.server);
  return {
    config,
    log,
    store,
    storage,
    auth,
    exports,
    worker,
    app,
    origin,
    async close() {
      await app.close();
      await worker.stop();
      await pool?.close();
      await store.close();
    },
  };
}

/** Seeds the sandbox tenant (population and the two groups of the vendor docs) when it does not exist yet. */
export async function seedSandbox(config: Config, store: Store, log: Logger): Promise<boolean> {
  const tenants = await store.resources.listTenants();
  if (tenants.includes(SANDBOX_TENANT)) return false;
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

/** Starts a server: seeds the sandbox on first start, listens, runs the worker, stops cleanly on SIGTERM/SIGINT. */
export async function serve(config: Config): Promise<Runtime> {
  const log = createLogger(config);
  const store = await openStore(config);
  if (config.seedSandbox) await seedSandbox(config, store, log);
  const runtime = await createRuntime(config, { log, store });
  const address = await runtime.app.listen({ port: config.port, host: config.host });
  const origin = runtime.origin();
  const tenants = await store.resources.listTenants();
  if (tenants.includes(SANDBOX_TENANT)) {
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
  runtime.worker.start();
  log.info({ address }, 'flatfhir listening');
  process.stdout.write(`flatfhir is listening on ${origin}\nSandbox FHIR base URL: ${fhirBase(origin, SANDBOX_TENANT)}\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    runtime
      .close()
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
