/**
 * API nodes and worker nodes as separate processes over one PostgreSQL and one S3-protocol object store, each
 * process with a data directory of its own (nothing is shared through local files): a worker SIGKILLed
 * mid-export, an API node restarted mid-export, concurrent kick-offs at two API nodes, and a token and file URLs
 * from one API node used on the other. The processes of one test are reused by the next where that proves the
 * same (a surviving worker keeps working for the following tests), so the file starts few processes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { createTestClient, getAccessToken, type TestClient } from './helpers/auth.js';
import { type Cohort, writeCohort } from './helpers/cohort.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';
import { type FlatfhirProcess, killAll, startFlatfhir } from './helpers/processes.js';
import { startS3, type TestS3 } from './helpers/s3.js';
import { auth, download, KICKOFF_HEADERS, type ManifestJson, parseNdjson } from './helpers/server.js';

const TENANT = 'scale-tenant';
const PATIENTS = 3000;
const schema = freshSchema('scale');
const databaseUrl = `${TEST_DATABASE_URL}?schema=${schema.name}`;
let root: string;
let s3: TestS3;
let client: TestClient;
let cohort: Cohort;
let processes = 0;

/** Small chunks (many of them), short leases: a dead worker's chunk is taken over within seconds. */
const ENV = {
  FLATFHIR_EXPORT_CHUNK_RESOURCES: '500',
  FLATFHIR_EXPORT_LEASE_SECONDS: '2',
  FLATFHIR_EXPORT_HEARTBEAT_SECONDS: '1',
  FLATFHIR_EXPORT_QUEUE_POLL_MS: '200',
  FLATFHIR_EXPORT_THREADS: '0',
  FLATFHIR_EXPORT_CONCURRENCY: '2',
  // Several processes on one machine: each monitoring listener on a free port.
  FLATFHIR_MONITORING_PORT: '0',
};

/** The flags and environment of every process: the one database, the one bucket, a data directory of its own. */
function nodeArgs(): { args: string[]; env: Record<string, string> } {
  const storage = s3.storageConfig('scale');
  return {
    args: ['--data', join(root, `node-${++processes}`), '--database-url', databaseUrl, '--storage', storage.url as string, '--s3-endpoint', s3.endpoint, '--s3-path-style'],
    env: { ...ENV, FLATFHIR_S3_ACCESS_KEY_ID: s3.credentials.accessKeyId, FLATFHIR_S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey },
  };
}

/** Every process this file started, for the diagnostics of a poll that times out. */
const started: { name: string; process: FlatfhirProcess }[] = [];
const remember = async (name: string, p: Promise<FlatfhirProcess>): Promise<FlatfhirProcess> => {
  const process = await p;
  started.push({ name: `${name} ${started.length + 1}`, process });
  return process;
};
const api = (): Promise<FlatfhirProcess> => {
  const { args, env } = nodeArgs();
  return remember('api', startFlatfhir(['serve', ...args, '--port', '0', '--no-seed', '--no-workers'], env));
};
const worker = (): Promise<FlatfhirProcess> => {
  const { args, env } = nodeArgs();
  return remember('worker', startFlatfhir(['worker', ...args], env));
};
/** What each process wrote last (warnings and errors: they log at warn). */
const processOutputs = (): string =>
  started.map(({ name, process }) => `--- ${name} (${process.child.exitCode ?? process.child.signalCode ?? 'running'}):\n${process.output().slice(-3000)}`).join('\n');
/** A worker left running by an earlier test of this file (or a new one). */
let spareWorker: FlatfhirProcess | undefined;
const running = (p: FlatfhirProcess | undefined): p is FlatfhirProcess => !!p && p.child.exitCode === null && p.child.signalCode === null;
const aWorker = async (): Promise<FlatfhirProcess> => (running(spareWorker) ? spareWorker : (spareWorker = await worker()));
/** An API node left running by an earlier test of this file. */
let spareApi: FlatfhirProcess | undefined;
const tokenUrl = (origin: string): string => `${origin}/tenants/${TENANT}/protocols/oauth2/profiles/smart-v1/token`;

async function kickoff(origin: string, token: string, types = 'Patient,Observation,Condition'): Promise<string> {
  const r = await fetch(`${origin}/r4/${TENANT}/Group/${cohort.groupId}/$export?_type=${types}`, {
    headers: { ...KICKOFF_HEADERS, ...auth(token) },
  });
  expect(r.status).toBe(202);
  return new URL(r.headers.get('content-location') as string).pathname;
}

/** Polls until `done` says so; returns the last response. */
async function poll(url: string, token: string, done: (r: Response, progress: string) => boolean, timeoutMs = 120_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await fetch(url, { headers: auth(token) });
    const progress = r.headers.get('x-progress') ?? '';
    if (done(r, progress)) return r;
    await r.arrayBuffer();
    if (Date.now() > deadline) throw new Error(`${url} did not get there within ${timeoutMs} ms (last: ${r.status} ${progress})\n${processOutputs()}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

const percent = (progress: string): number => Number(/^(\d+)%/.exec(progress)?.[1] ?? 0);

/** Downloads every output file; checks each type's lines are exactly the expected ones, none twice. */
async function checkExport(manifest: ManifestJson, token: string, types = Object.keys(cohort.expected)): Promise<void> {
  expect(manifest.error).toEqual([]);
  expect(new Set(manifest.output.map((o) => o.type))).toEqual(new Set(types));
  const ids = new Map<string, string[]>();
  for (const o of manifest.output) {
    const lines = parseNdjson((await download(o.url, token)).text);
    expect(lines).toHaveLength(o.count as number);
    ids.set(o.type, [...(ids.get(o.type) ?? []), ...lines.map((l) => l['id'] as string)]);
  }
  for (const [type, n] of Object.entries(cohort.expected).filter(([t]) => types.includes(t))) {
    const list = ids.get(type) ?? [];
    expect(list, type).toHaveLength(n);
    expect(new Set(list).size, type).toBe(n);
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'flatfhir-scale-'));
  s3 = await startS3();
  const store = await openPostgresStore(TEST_DATABASE_URL, { schema: schema.name });
  cohort = await writeCohort(store.resources, TENANT, PATIENTS);
  await store.resources.refreshStatistics();
  client = await createTestClient(store.clients, TENANT);
  await store.close();
}, 180_000);

afterAll(async () => {
  await killAll();
  await schema.drop();
  await s3?.close();
  await rm(root, { recursive: true, force: true });
});

describe('API nodes and worker nodes on PostgreSQL and S3', () => {
  it('completes a Group export with exactly the expected lines although a worker is SIGKILLed midway', async () => {
    const node = await api();
    const [w1, w2] = await Promise.all([worker(), worker()]);
    spareWorker = w2;
    const token = await getAccessToken(tokenUrl(node.origin), client);
    const started = Date.now();
    const status = `${node.origin}${await kickoff(node.origin, token)}`;
    const kickoffMs = Date.now() - started;
    const midway = await poll(status, token, (r, p) => r.status !== 202 || percent(p) >= 10);
    expect(midway.status).toBe(202);
    await w1?.kill('SIGKILL');
    const done = await poll(status, token, (r) => r.status !== 202);
    expect(done.status).toBe(200);
    const manifest = (await done.json()) as ManifestJson;
    await checkExport(manifest, token);
    // The files are objects in the bucket, served through pre-signed URLs of the store.
    const signed = (await fetch(manifest.output[0]?.url as string, { headers: auth(token), redirect: 'manual' })).headers.get('location') as string;
    expect(new URL(signed).origin).toBe(s3.endpoint);
    const jobId = status.split('/').pop() as string;
    expect(await s3.listKeys(`scale/jobs/${jobId}/`)).toHaveLength(manifest.output.length);
    expect(kickoffMs).toBeLessThan(10_000);
    spareApi = node;
  }, 240_000);

  it('carries on when the API node restarts during an export', async () => {
    const first = running(spareApi) ? spareApi : await api();
    await aWorker();
    let token = await getAccessToken(tokenUrl(first.origin), client);
    const path = await kickoff(first.origin, token, 'Patient,Condition');
    const midway = await poll(`${first.origin}${path}`, token, (r, p) => r.status !== 202 || percent(p) >= 5);
    expect(midway.status).toBe(202);
    await first.kill('SIGKILL');
    const second = await api();
    token = await getAccessToken(tokenUrl(second.origin), client);
    const done = await poll(`${second.origin}${path}`, token, (r) => r.status !== 202);
    expect(done.status).toBe(200);
    await checkExport((await done.json()) as ManifestJson, token, ['Patient', 'Condition']);
    expect((await fetch(`${second.origin}${path}`, { method: 'DELETE', headers: auth(token) })).status).toBe(202);
    spareApi = second;
  }, 240_000);

  it('accepts exactly one of many concurrent kick-offs of one client at two API nodes; a token and file URLs of one node work on the other', async () => {
    const [a, b] = await Promise.all([running(spareApi) ? spareApi : api(), api(), aWorker()]);
    // The nodes share nothing but the database (signing keys, download-URL secret) and the bucket (export files).
    const token = await getAccessToken(tokenUrl(a?.origin as string), client);
    const url = (origin: string) => `${origin}/r4/${TENANT}/Group/${cohort.groupId}/$export?_type=Patient`;
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) => fetch(url(i % 2 ? (a?.origin as string) : (b?.origin as string)), { headers: { ...KICKOFF_HEADERS, ...auth(token) } })),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    const accepted = answers.find((r) => r.status === 202) as Response;
    const path = new URL(accepted.headers.get('content-location') as string).pathname;
    for (const r of answers) await r.arrayBuffer();

    // Polled and downloaded through node b with node a's token.
    const done = await poll(`${b?.origin}${path}`, token, (r) => r.status !== 202);
    expect(done.status).toBe(200);
    const manifest = (await done.json()) as ManifestJson;
    const file = manifest.output[0] as { url: string; count: number };
    expect(file.url.startsWith(b?.origin as string)).toBe(true);
    const onA = file.url.replace(b?.origin as string, a?.origin as string);
    expect(parseNdjson((await download(onA, token)).text)).toHaveLength(file.count);
    expect(parseNdjson((await download(file.url, token)).text)).toHaveLength(file.count);
    await Promise.all([a?.kill('SIGTERM'), b?.kill('SIGTERM'), spareWorker?.kill('SIGTERM')]);
  }, 240_000);
});
