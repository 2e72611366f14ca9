/**
 * Fault injection: export storage that refuses writes (EACCES) or is full (a file-size limit: EFBIG), the
 * database going away mid-export, a chunk thread dying. Each ends in a failed job (an OperationOutcome, the
 * client's slot free again) or a resumed one, never a stuck one.
 */

import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { createChunkPool } from '../src/export/chunk-pool.js';
import { createExportCounters } from '../src/export/events.js';
import { createExportWorker } from '../src/export/worker.js';
import type { JobQueue } from '../src/queue/ports.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { createTestClient, getAccessToken } from './helpers/auth.js';
import { writeCohort } from './helpers/cohort.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';
import { killAll, startFlatfhir } from './helpers/processes.js';
import { auth, KICKOFF_HEADERS, runExport, startServer, type TestServer, waitForJob } from './helpers/server.js';

const TENANT = 'fault-tenant';
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  await killAll();
  for (const c of cleanups.reverse()) await c();
});

const tokenUrl = (origin: string): string => `${origin}/tenants/${TENANT}/protocols/oauth2/profiles/smart-v1/token`;

async function kickoff(origin: string, token: string, query = '_type=Patient,Observation'): Promise<Response> {
  return fetch(`${origin}/r4/${TENANT}/Group/cohort/$export?${query}`, { headers: { ...KICKOFF_HEADERS, ...auth(token) } });
}

/** Waits for a job to end; expects it failed: a 5xx OperationOutcome naming the cause. */
async function expectFailed(statusUrl: string, token: string, cause: RegExp): Promise<void> {
  const { response } = await waitForJob(statusUrl, token, 90_000);
  expect(response.status).toBe(500);
  const outcome = (await response.json()) as { resourceType: string; issue: { diagnostics: string }[] };
  expect(outcome.resourceType).toBe('OperationOutcome');
  expect(outcome.issue[0]?.diagnostics).toMatch(cause);
  expect(outcome.issue[0]?.diagnostics).not.toContain('/');
}

describe('export storage faults', () => {
  it('fails the job when the export directory is unwritable (EACCES), frees the slot, and again after a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'flatfhir-eacces-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const store = openSqliteStore(join(dataDir, 'flatfhir.sqlite'));
    await writeCohort(store.resources, TENANT, 50);
    const client = await createTestClient(store.clients, TENANT);
    await store.close();
    // The server runs as an unprivileged user (root writes anywhere) that owns its data directory but cannot
    // write into exports/.
    await mkdir(join(dataDir, 'exports'), { mode: 0o555 });
    await chmod(join(dataDir, 'exports'), 0o555);
    const spawnAs = isRoot ? { uid: NOBODY, gid: NOBODY } : {};
    if (isRoot) {
      for (const f of ['', 'flatfhir.sqlite', 'flatfhir.sqlite-wal', 'flatfhir.sqlite-shm']) await chown(join(dataDir, f), NOBODY, NOBODY).catch(() => undefined);
    }
    const serve = () =>
      startFlatfhir(['serve', '--data', dataDir, '--port', '0', '--no-seed'], { FLATFHIR_EXPORT_THREADS: '0', FLATFHIR_EXPORT_MAX_CHUNK_ATTEMPTS: '2' }, { spawn: spawnAs });

    const first = await serve();
    let token = await getAccessToken(tokenUrl(first.origin), client);
    const kick = await kickoff(first.origin, token);
    expect(kick.status).toBe(202);
    await expectFailed(kick.headers.get('content-location') as string, token, /permission denied/);
    // The slot is free: the next kick-off is accepted (and fails the same way).
    const again = await kickoff(first.origin, token);
    expect(again.status).toBe(202);
    // Killed while that job runs: after the restart it ends failed too, not stuck.
    await first.kill('SIGKILL');
    const second = await serve();
    token = await getAccessToken(tokenUrl(second.origin), client);
    const path = new URL(again.headers.get('content-location') as string).pathname;
    await expectFailed(`${second.origin}${path}`, token, /permission denied|storage/);
    expect((await kickoff(second.origin, token)).status).toBe(202);
    await second.kill('SIGTERM');
  }, 180_000);

  it('fails the job when the export storage is full (a file-size limit: EFBIG)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'flatfhir-efbig-'));
    const schema = freshSchema('efbig');
    cleanups.push(async () => {
      await schema.drop();
      await rm(dataDir, { recursive: true, force: true });
    });
    const store = await openPostgresStore(TEST_DATABASE_URL, { schema: schema.name });
    await writeCohort(store.resources, TENANT, 1500, 6);
    const client = await createTestClient(store.clients, TENANT);
    await store.close();
    // Node ignores SIGXFSZ, so a write past the limit fails with EFBIG, as a full disk fails with ENOSPC. The
    // store is PostgreSQL, so only export files (about 2 MB of Observations here) meet the 1 MB limit.
    const server = await startFlatfhir(
      ['serve', '--data', dataDir, '--database-url', `${TEST_DATABASE_URL}?schema=${schema.name}`, '--port', '0', '--no-seed'],
      { FLATFHIR_EXPORT_THREADS: '0', FLATFHIR_EXPORT_MAX_CHUNK_ATTEMPTS: '2' },
      { wrap: ['prlimit', `--fsize=${1024 * 1024}`] },
    );
    const token = await getAccessToken(tokenUrl(server.origin), client);
    const kick = await kickoff(server.origin, token);
    expect(kick.status).toBe(202);
    await expectFailed(kick.headers.get('content-location') as string, token, /full/);
    // A small export still fits, and the slot was freed for it.
    const small = await kickoff(server.origin, token, '_type=Condition');
    expect(small.status).toBe(202);
    expect((await waitForJob(small.headers.get('content-location') as string, token)).response.status).toBe(200);
    await server.kill('SIGTERM');
  }, 180_000);
});

describe('database and thread faults', () => {
  let server: TestServer;
  const schema = freshSchema('dbfault');
  // A name of our own, so the test ends this server's connections only (other schemas share the database).
  const appName = `flatfhir_fault_${schema.name}`;

  beforeAll(async () => {
    server = await startServer({
      databaseUrl: `${TEST_DATABASE_URL}?schema=${schema.name}&application_name=${appName}`,
      export: { chunkResources: 500, threads: 0, maxChunkAttempts: 3 },
    });
    await writeCohort(server.runtime.store.resources, TENANT, 1500);
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await schema.drop();
  });

  it('resumes an export whose database connections are terminated midway (pg_terminate_backend)', async () => {
    const { token } = await server.client(TENANT);
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    try {
      const kick = await kickoff(server.origin, token, '_type=Patient,Observation,Condition');
      expect(kick.status).toBe(202);
      const statusUrl = kick.headers.get('content-location') as string;
      let terminated = 0;
      for (let i = 0; i < 40 && terminated === 0; i++) {
        const r = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'", [appName]);
        terminated = r.rowCount ?? 0;
        await new Promise((res) => setTimeout(res, 50));
      }
      expect(terminated).toBeGreaterThan(0);
      const { response } = await waitForJob(statusUrl, token, 90_000);
      expect(response.status).toBe(200);
      const manifest = (await response.json()) as { output: { type: string; count: number }[]; error: unknown[] };
      expect(manifest.error).toEqual([]);
      const count = (type: string) => manifest.output.filter((o) => o.type === type).reduce((n, o) => n + o.count, 0);
      expect([count('Patient'), count('Observation'), count('Condition')]).toEqual([1500, 6000, 1500]);
    } finally {
      await admin.end();
    }
  }, 120_000);

  it('redoes the chunk of a chunk thread that died, and counts the failed attempt', async () => {
    // A worker of its own beside the server's, running chunks on threads whose first one dies.
    await server.runtime.worker.stop();
    const config = loadConfig({ dataDir: server.dataDir, databaseUrl: server.runtime.config.databaseUrl, logLevel: 'silent' }, {});
    const pool = createChunkPool({ entry: new URL('./fixtures/threads/dying-chunk-thread.js', import.meta.url), size: 1, workerData: config });
    const counters = createExportCounters();
    const worker = createExportWorker({
      jobs: server.runtime.store.jobs,
      resources: server.runtime.store.resources,
      storage: server.runtime.storage,
      queue: server.runtime.queue,
      log: server.runtime.log,
      events: counters,
      execute: pool.execute,
      settings: { ...server.runtime.config.export, maxChunkAttempts: 3 },
    });
    await worker.start();
    try {
      const { token } = await server.client(TENANT);
      const { byType, errors } = await runExport(server, token, `${server.base(TENANT)}/Group/cohort/$export?_type=Patient,Condition`);
      expect(errors).toEqual([]);
      expect(byType.get('Patient')).toHaveLength(1500);
      expect(byType.get('Condition')).toHaveLength(1500);
      expect(counters.counts.chunkAttemptsFailed).toBeGreaterThanOrEqual(1);
      expect(counters.counts.jobsCompleted).toBe(1);
      expect(counters.counts.jobsFailed.error).toBe(0);
    } finally {
      await worker.stop();
      await pool.close();
      await server.runtime.worker.start();
    }
  }, 120_000);
});


describe('queue faults', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ export: { chunkResources: 500, threads: 0 } });
    await writeCohort(server.runtime.store.resources, TENANT, 1500);
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  /** A worker of its own in place of the server's, whose queue refuses the first `refusals` sends. */
  async function exportThroughRefusingQueue(refusals: number, orphanCheckMs?: number): Promise<void> {
    await server.runtime.worker.stop();
    const queue = server.runtime.queue;
    const refusing: JobQueue = {
      durable: queue.durable,
      async send(items) {
        if (refusals > 0) {
          refusals--;
          throw new Error('the queue is unreachable');
        }
        await queue.send(items);
      },
      consume: (handler, options) => queue.consume(handler, options),
      depth: () => queue.depth(),
      close: () => queue.close(),
    };
    const counters = createExportCounters();
    const worker = createExportWorker({
      jobs: server.runtime.store.jobs,
      resources: server.runtime.store.resources,
      storage: server.runtime.storage,
      queue: refusing,
      log: server.runtime.log,
      events: counters,
      settings: server.runtime.config.export,
      ...(orphanCheckMs ? { orphanCheckMs } : {}),
    });
    await worker.start();
    try {
      const { token } = await server.client(TENANT);
      const { byType, errors } = await runExport(server, token, `${server.base(TENANT)}/Group/cohort/$export?_type=Patient,Condition`);
      expect(refusals).toBe(0);
      expect(errors).toEqual([]);
      expect(new Set(byType.get('Patient')?.map((r) => r['id'])).size).toBe(1500);
      expect(byType.get('Patient')).toHaveLength(1500);
      expect(byType.get('Condition')).toHaveLength(1500);
      expect(counters.counts.jobsCompleted).toBe(1);
    } finally {
      await worker.stop();
      await server.runtime.worker.start();
    }
  }

  it('queues the chunks of a planned job when the queue refuses them at first, and exports each resource once', async () => {
    await exportThroughRefusingQueue(2);
  }, 120_000);

  it('queues them later when the queue refused them for longer than its retries', async () => {
    // Six refusals: every try at queueing the planned chunks fails, and the plan step fails after recording them.
    await exportThroughRefusingQueue(6, 500);
  }, 120_000);
});
