/**
 * Health and metrics: /livez and /readyz (with the reasons of a 503), /metrics in Prometheus format behind its
 * credential or on a separate listener, what it counts, and the request id on every log line of a request.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { importPaths } from '../src/import/importer.js';
import { createLogger, createRuntime, startMonitoring } from '../src/main.js';
import { createPrometheusMetrics } from '../src/monitoring/prometheus.js';
import { createRequestContext } from '../src/monitoring/request-context.js';
import { fixtureResources, writeNdjson } from './fixtures/population.js';
import { createTestClient, getAccessToken, signAssertion, tokenForm } from './helpers/auth.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';
import { killAll, startFlatfhir } from './helpers/processes.js';
import { startS3 } from './helpers/s3.js';
import { auth, KICKOFF_HEADERS, startServer, type TestServer, waitForJob } from './helpers/server.js';

const TENANT = 'tenant-metrics';
const METRICS_TOKEN = 'metrics-credential-0123456789';

async function seed(s: TestServer): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flatfhir-fixture-'));
  await writeNdjson(dir, fixtureResources());
  await importPaths({ resources: s.runtime.store.resources, tenant: TENANT, paths: [dir], maxGroupMembers: 100 });
  await rm(dir, { recursive: true });
}

/** The value of one sample line of an exposition (`name{labels} value`), or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    const has = Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`));
    if (has) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('health', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('/livez and /readyz answer 200 while the store and storage are usable', async () => {
    const live = await fetch(`${server.origin}/livez`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${server.origin}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { store: 'ok', storage: 'ok' } });
  });

  it('/readyz answers 503 with the reason when migrations are missing', async () => {
    const db = new Database(join(server.dataDir, 'flatfhir.sqlite'));
    const row = db.prepare('SELECT * FROM schema_migrations WHERE version = 3').get() as { version: number; name: string; applied_at: number };
    db.prepare('DELETE FROM schema_migrations WHERE version = 3').run();
    try {
      const res = await fetch(`${server.origin}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'unavailable', checks: { store: 'migrations not applied: 3', storage: 'ok' } });
      expect((await fetch(`${server.origin}/livez`)).status).toBe(200);
    } finally {
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(row.version, row.name, row.applied_at);
      db.close();
    }
    expect((await fetch(`${server.origin}/readyz`)).status).toBe(200);
  });

  it('/readyz answers 503 when the object storage is down, and counts the storage errors', async () => {
    const s3 = await startS3();
    const onS3 = await startServer({ storage: s3.storageConfig(), monitoring: { metricsToken: METRICS_TOKEN } });
    try {
      expect((await fetch(`${onS3.origin}/readyz`)).status).toBe(200);
      await s3.close();
      const res = await fetch(`${onS3.origin}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'unavailable', checks: { store: 'ok', storage: 'the object storage cannot be reached or written' } });
      const text = await (await fetch(`${onS3.origin}/metrics`, { headers: auth(METRICS_TOKEN) })).text();
      expect(sample(text, 'flatfhir_dependency_errors_total', { component: 'storage', operation: 'check' })).toBeGreaterThanOrEqual(1);
    } finally {
      await onS3.close();
    }
  });
});

describe('metrics', () => {
  let server: TestServer;
  beforeAll(async () => {
    // The worker starts later, so the first job stays in progress while the refusals are made.
    server = await startServer({ monitoring: { metricsToken: METRICS_TOKEN }, auth: { kickoffsPerMinute: 2 } }, { worker: false });
    await seed(server);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('/metrics needs its credential on the main listener', async () => {
    expect((await fetch(`${server.origin}/metrics`)).status).toBe(401);
    expect((await fetch(`${server.origin}/metrics`, { headers: auth('not-the-metrics-credential') })).status).toBe(401);
    const res = await fetch(`${server.origin}/metrics`, { headers: auth(METRICS_TOKEN) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    // An access token is not the metrics credential.
    const { token } = await server.client(TENANT);
    expect((await fetch(`${server.origin}/metrics`, { headers: auth(token) })).status).toBe(401);
  });

  it('counts requests by route pattern, kick-offs by outcome, tokens, chunks, resources and bytes, and reads jobs and queue from the store', async () => {
    const { token, ...client } = await server.client(TENANT);
    const tokenUrl = server.tokenUrl(TENANT);
    const assertion = await signAssertion(client, tokenUrl);
    const form = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(tokenForm(assertion)) };
    expect((await fetch(tokenUrl, form)).status).toBe(200);
    expect((await fetch(tokenUrl, { ...form, body: new URLSearchParams(tokenForm(assertion)) })).status).toBe(401); // replayed jti

    const url = `${server.base(TENANT)}/Group/grp-main/$export?_type=Patient,Observation`;
    const kick = (headers: Record<string, string> = auth(token), at = url) => fetch(at, { headers: { ...KICKOFF_HEADERS, ...headers } });
    const deleted = await kick();
    expect(deleted.status).toBe(202);
    expect((await kick()).status).toBe(429); // one export at a time (refused: not counted by the rate limit)
    expect((await kick(auth(token), `${server.base(TENANT)}/$export?_type=NoSuchType`)).status).toBe(400);
    expect((await kick({})).status).toBe(401);
    expect((await fetch(deleted.headers.get('content-location') as string, { method: 'DELETE', headers: auth(token) })).status).toBe(202);
    const first = await kick();
    expect(first.status).toBe(202);
    expect((await kick()).status).toBe(429); // a third accepted one within the minute: the rate limit

    const waiting = await (await fetch(`${server.origin}/metrics`, { headers: auth(METRICS_TOKEN) })).text();
    expect(sample(waiting, 'flatfhir_export_jobs', { state: 'in-progress' })).toBe(1);
    expect(sample(waiting, 'flatfhir_export_chunks', { state: 'pending' })).toBeGreaterThan(0);
    expect(sample(waiting, 'flatfhir_export_queue_depth', {})).toBeGreaterThan(0);

    await server.runtime.worker.start();
    const statusUrl = first.headers.get('content-location') as string;
    const { response } = await waitForJob(statusUrl, token);
    expect(response.status).toBe(200);
    const manifest = (await response.json()) as { output: { type: string; count: number }[] };
    const exported = (type: string) => manifest.output.filter((o) => o.type === type).reduce((n, o) => n + o.count, 0);

    const text = await (await fetch(`${server.origin}/metrics`, { headers: auth(METRICS_TOKEN) })).text();
    expect(sample(text, 'flatfhir_http_requests_total', { route: '/r4/:tenant/Group/:id/$export', method: 'GET', status: '202' })).toBe(2);
    expect(sample(text, 'flatfhir_http_request_duration_seconds_count', { route: '/r4/:tenant/Group/:id/$export', status: '429' })).toBe(2);
    expect(sample(text, 'flatfhir_http_request_duration_seconds_bucket', { route: '/r4/:tenant/bulk-export/jobs/:jobId', le: '+Inf' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'flatfhir_export_kickoffs_total', { outcome: 'accepted' })).toBe(2);
    for (const reason of ['export-in-progress', 'invalid', 'unauthorized', 'rate-limited']) {
      expect(sample(text, 'flatfhir_export_kickoffs_total', { outcome: 'refused', reason })).toBe(1);
    }
    expect(sample(text, 'flatfhir_tokens_total', { outcome: 'issued' })).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'flatfhir_tokens_total', { outcome: 'refused', error: 'invalid_client' })).toBe(1);
    expect(sample(text, 'flatfhir_export_chunk_duration_seconds_count', { type: 'Observation' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'flatfhir_export_jobs_finished_total', { state: 'completed' })).toBe(1);
    expect(sample(text, 'flatfhir_export_resources_total', { type: 'Observation' })).toBe(exported('Observation'));
    expect(sample(text, 'flatfhir_export_resources_total', { type: 'Patient' })).toBe(exported('Patient'));
    expect(sample(text, 'flatfhir_export_bytes_total', { type: 'Observation' })).toBeGreaterThan(100);
    expect(sample(text, 'flatfhir_export_jobs', { state: 'completed' })).toBe(1);
    expect(sample(text, 'flatfhir_export_jobs', { state: 'in-progress' })).toBe(0);
    expect(sample(text, 'flatfhir_export_chunks', { state: 'pending' })).toBe(0);
    expect(sample(text, 'flatfhir_export_queue_depth', {})).toBe(0);
    expect(text).toContain('flatfhir_process_resident_memory_bytes');
    // Labels never carry tenants, ids or tokens.
    const jobId = statusUrl.split('/').pop() as string;
    for (const secret of [TENANT, jobId, token, client.clientId, 'grp-main']) expect(text).not.toContain(secret);
  });
});

describe('a separate monitoring listener', () => {
  it('serves /livez, /readyz and /metrics on its own address; the main listener then has no /metrics', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'flatfhir-monitor-'));
    const config = loadConfig({ dataDir, port: 0, logLevel: 'silent', seedSandbox: false, monitoring: { port: 0 }, export: { threads: 0 } }, {});
    const runtime = await createRuntime(config, { log: createLogger(config) });
    await runtime.app.listen({ port: 0, host: '127.0.0.1' });
    const address = runtime.app.server.address();
    const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    // As a worker process would: its own metrics, store and storage.
    const monitor = await startMonitoring(config, { store: runtime.store, storage: runtime.storage, metrics: createPrometheusMetrics({ role: 'worker' }), log: runtime.log });
    try {
      const at = `http://127.0.0.1:${monitor.port}`;
      expect(monitor.port).not.toBe(0);
      expect((await fetch(`${at}/livez`)).status).toBe(200);
      expect(await (await fetch(`${at}/readyz`)).json()).toEqual({ status: 'ok', checks: { store: 'ok', storage: 'ok' } });
      const metrics = await fetch(`${at}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('role="worker"');
      expect((await fetch(`${origin}/metrics`)).status).toBe(404);
      expect((await fetch(`${origin}/readyz`)).status).toBe(200);
    } finally {
      await monitor.close();
      await runtime.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a worker process', () => {
  it('answers /livez, /readyz and /metrics on its own monitoring port', async () => {
    const schema = freshSchema('monitor');
    const dataDir = await mkdtemp(join(tmpdir(), 'flatfhir-worker-'));
    try {
      const worker = await startFlatfhir(['worker', '--data', dataDir, '--database-url', `${TEST_DATABASE_URL}?schema=${schema.name}`, '--monitoring-port', '0'], {
        FLATFHIR_EXPORT_THREADS: '0',
      });
      expect(worker.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${worker.origin}/livez`)).status).toBe(200);
      expect(await (await fetch(`${worker.origin}/readyz`)).json()).toEqual({ status: 'ok', checks: { store: 'ok', storage: 'ok' } });
      const text = await (await fetch(`${worker.origin}/metrics`)).text();
      expect(text).toContain('role="worker"');
      expect(sample(text, 'flatfhir_export_queue_depth', {})).toBe(0);
      expect(sample(text, 'flatfhir_export_jobs', { state: 'in-progress' })).toBe(0);
      await worker.kill('SIGTERM');
      expect(worker.child.exitCode).toBe(0);
    } finally {
      await killAll();
      await rm(dataDir, { recursive: true, force: true });
      await schema.drop();
    }
  });
});

describe('request logs', () => {
  it('every log line written while a request is served carries its request id', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'flatfhir-reqid-'));
    const config = loadConfig({ dataDir, port: 0, logLevel: 'debug', seedSandbox: false, export: { threads: 0 } }, {});
    const lines: Record<string, unknown>[] = [];
    const sink = new PassThrough();
    sink.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)));
    const requestContext = createRequestContext();
    const runtime = await createRuntime(config, { log: createLogger(config, sink, requestContext), requestContext });
    try {
      await runtime.app.listen({ port: 0, host: '127.0.0.1' });
      const address = runtime.app.server.address();
      const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      await runtime.store.resources.ensureTenant('t');
      const client = await createTestClient(runtime.store.clients, 't');
      const token = await getAccessToken(runtime.auth.tokenUrl(origin, 't'), client);
      const kick = await fetch(`${origin}/r4/t/$export?_type=Patient`, { headers: { ...KICKOFF_HEADERS, ...auth(token) } });
      expect(kick.status).toBe(202);
      await new Promise((r) => setTimeout(r, 50));
      const issued = lines.find((l) => l['msg'] === 'token issued');
      const accepted = lines.find((l) => l['msg'] === 'export job accepted');
      const completed = lines.filter((l) => l['msg'] === 'request completed');
      expect(issued?.['reqId']).toBeTypeOf('string');
      expect(accepted?.['reqId']).toBeTypeOf('string');
      expect(accepted?.['reqId']).not.toBe(issued?.['reqId']);
      // The same ids as Fastify's own lines of those requests.
      const ids = completed.map((l) => l['reqId']);
      expect(ids).toContain(issued?.['reqId']);
      expect(ids).toContain(accepted?.['reqId']);
      // No line carries the key twice (Fastify's request logger has it already).
      const raw = lines.map((l) => JSON.stringify(l));
      for (const l of raw) expect(l.split('"reqId"').length).toBeLessThanOrEqual(2);
    } finally {
      await runtime.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
