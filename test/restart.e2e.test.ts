import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPaths } from '../src/import/importer.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { createTestClient, getAccessToken, type TestClient } from './helpers/auth.js';
import { auth, download, KICKOFF_HEADERS, type ManifestJson } from './helpers/server.js';

const TENANT = 'restart-tenant';
const SYNTHEA = join(import.meta.dirname, 'fixtures', 'synthea-100');
let dataDir: string;
let client: TestClient;
const children: ChildProcess[] = [];

/** Starts `flatfhir serve` as its own process on an ephemeral port; resolves with its origin. */
function startProcess(): Promise<{ child: ChildProcess; origin: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--data', dataDir, '--port', '0', '--no-seed'], {
    cwd: join(import.meta.dirname, '..'),
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      FLATFHIR_EXPORT_CHUNK_RESOURCES: '150',
      FLATFHIR_EXPORT_MAX_FILE_RESOURCES: '400',
      FLATFHIR_EXPORT_CONCURRENCY: '1',
      FLATFHIR_EXPORT_LEASE_SECONDS: '2',
      // chunks run on worker threads here, so that path is proven against a real kill too
      FLATFHIR_EXPORT_THREADS: '2',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve({ child, origin: m[1] as string });
    });
    child.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
    child.on('exit', (code) => reject(new Error(`server exited early with ${code}: ${out}`)));
  });
}

async function poll(statusUrl: string, token: string, until: (r: Response, progress: string) => boolean): Promise<Response> {
  for (;;) {
    const r = await fetch(statusUrl, { headers: auth(token) });
    if (until(r, r.headers.get('x-progress') ?? '')) return r;
    await r.arrayBuffer();
    await new Promise((res) => setTimeout(res, 25));
  }
}

/** Every file of a manifest: type, count and a hash of its bytes, in manifest order. */
async function fingerprint(manifest: ManifestJson, token: string): Promise<string[]> {
  const out: string[] = [];
  for (const o of manifest.output) {
    const { text } = await download(o.url, token);
    out.push(`${o.type} ${o.count} ${createHash('sha256').update(text).digest('hex')}`);
  }
  return out;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'flatfhir-restart-'));
  const store = openSqliteStore(join(dataDir, 'flatfhir.sqlite'));
  await importPaths({ resources: store.resources, tenant: TENANT, paths: [SYNTHEA], maxGroupMembers: 20_000 });
  client = await createTestClient(store.clients, TENANT);
  await store.close();
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

describe('a server killed mid-export', () => {
  it('resumes the job after restart and produces exactly the files of an uninterrupted run', async () => {
    const first = await startProcess();
    const tokenUrl = (origin: string) => `${origin}/tenants/${TENANT}/protocols/oauth2/profiles/smart-v1/token`;
    let token = await getAccessToken(tokenUrl(first.origin), client);
    const kick = await fetch(`${first.origin}/r4/${TENANT}/$export`, { headers: { ...KICKOFF_HEADERS, ...auth(token) } });
    expect(kick.status).toBe(202);
    const statusPath = new URL(kick.headers.get('content-location') as string).pathname;
    // Wait until some chunks are done but not all (as the store records them: status polls are answered from a
    // view kept a while, too coarse for this), then kill the process without warning.
    const jobId = statusPath.split('/').pop() as string;
    const db = new Database(join(dataDir, 'flatfhir.sqlite'), { readonly: true });
    let row: { status: string; done: number } | undefined;
    for (;;) {
      row = db.prepare('SELECT status, done FROM jobs WHERE id = ?').get(jobId) as typeof row;
      if (row && (row.status !== 'in-progress' || row.done > 0)) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    db.close();
    expect(row?.status).toBe('in-progress');
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = await startProcess();
    token = await getAccessToken(tokenUrl(second.origin), client);
    const done = await poll(`${second.origin}${statusPath}`, token, (r) => r.status !== 202);
    expect(done.status).toBe(200);
    const resumed = (await done.json()) as ManifestJson;
    const resumedFiles = await fingerprint(resumed, token);
    expect((await fetch(`${second.origin}${statusPath}`, { method: 'DELETE', headers: auth(token) })).status).toBe(202);

    // The same export, uninterrupted.
    const again = await fetch(`${second.origin}/r4/${TENANT}/$export`, { headers: { ...KICKOFF_HEADERS, ...auth(token) } });
    const againPath = new URL(again.headers.get('content-location') as string).pathname;
    const clean = (await (await poll(`${second.origin}${againPath}`, token, (r) => r.status !== 202)).json()) as ManifestJson;
    const cleanFiles = await fingerprint(clean, token);

    expect(resumedFiles.length).toBeGreaterThan(20);
    expect(resumedFiles).toEqual(cleanFiles);
    const total = resumed.output.reduce((n, o) => n + (o.count ?? 0), 0);
    // Synthea-100's exportable types (Claim, ExplanationOfBenefit and ImagingStudy are not exported; shared
    // resources only as referenced).
    expect(total).toBe(clean.output.reduce((n, o) => n + (o.count ?? 0), 0));
    expect(resumed.error).toEqual([]);
  }, 180_000);

  it('runs a _typeFilter export with worker threads without running out of memory', async () => {
    const { child, origin } = await startProcess();
    const token = await getAccessToken(`${origin}/tenants/${TENANT}/protocols/oauth2/profiles/smart-v1/token`, client);
    const filter = encodeURIComponent('Observation?category=laboratory');
    const kick = await fetch(`${origin}/r4/${TENANT}/$export?_type=Observation,Patient&_typeFilter=${filter}`, { headers: { ...KICKOFF_HEADERS, ...auth(token) } });
    expect(kick.status).toBe(202);
    const statusUrl = kick.headers.get('content-location') as string;
    const done = await poll(statusUrl, token, (r) => r.status !== 202);
    expect(done.status).toBe(200);
    const manifest = (await done.json()) as ManifestJson;
    expect(manifest.error).toEqual([]);
    const observations = manifest.output.filter((o) => o.type === 'Observation').reduce((n, o) => n + (o.count ?? 0), 0);
    // synthea-100 has 16,315 Observations, about a third of them laboratory results
    expect(observations).toBeGreaterThan(1000);
    expect(observations).toBeLessThan(16_315);
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
  }, 120_000);

  it('shuts down cleanly on SIGTERM and SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const { child, origin } = await startProcess();
      expect((await fetch(`${origin}/r4/${TENANT}/metadata`)).status).toBe(200);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill(signal);
      expect(await exited).toBe(0);
    }
  }, 60_000);
});
