/**
 * Crash trials: a server process SIGKILLed at a random instant of an export, restarted, and the resumed
 * export's files compared line by line with those of an uninterrupted run. Used by test/crash-trials.e2e.test.ts
 * (one trial per store on a small generated cohort) and scripts/crash-trials.ts (many, on synthea-100).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importPaths } from '../../src/import/importer.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import type { Store } from '../../src/store/ports.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { createTestClient, getAccessToken, type TestClient } from './auth.js';
import { writeCohort } from './cohort.js';
import { freshSchema, TEST_DATABASE_URL } from './postgres.js';
import { type FlatfhirProcess, startFlatfhir } from './processes.js';
import { auth, download, KICKOFF_HEADERS, type ManifestJson } from './server.js';

export const SYNTHEA = join(import.meta.dirname, '..', 'fixtures', 'synthea-100');
const TENANT = 'crash-tenant';

/** Many small chunks and files, short leases: kills land in every phase (planning, chunks, last commit). */
const SYNTHEA_ENV = {
  FLATFHIR_EXPORT_CHUNK_RESOURCES: '300',
  FLATFHIR_EXPORT_MAX_FILE_RESOURCES: '400',
  FLATFHIR_EXPORT_CONCURRENCY: '2',
  FLATFHIR_EXPORT_LEASE_SECONDS: '2',
  FLATFHIR_EXPORT_HEARTBEAT_SECONDS: '1',
  FLATFHIR_EXPORT_QUEUE_POLL_MS: '200',
  // chunks run on worker threads, so that path is proven against a real kill too
  FLATFHIR_EXPORT_THREADS: '2',
};

/**
 * The trials' data: synthea-100 (28,676 lines in about a hundred files: realistic resources, attachments and
 * references), or a generated cohort of 800 patients with Practitioners and Provenance (about 4,800 lines), as many
 * files with smaller bounds, at a fraction of the cost.
 */
export type TrialPopulation = 'synthea' | 'cohort';

const ENV: Record<TrialPopulation, { sqlite: Record<string, string>; postgres: Record<string, string> }> = {
  // PostgreSQL round trips cost more per chunk: larger chunks keep a trial about as long as on SQLite.
  synthea: { sqlite: SYNTHEA_ENV, postgres: { ...SYNTHEA_ENV, FLATFHIR_EXPORT_CHUNK_RESOURCES: '1000' } },
  cohort: {
    sqlite: { ...SYNTHEA_ENV, FLATFHIR_EXPORT_CHUNK_RESOURCES: '120', FLATFHIR_EXPORT_MAX_FILE_RESOURCES: '100' },
    postgres: { ...SYNTHEA_ENV, FLATFHIR_EXPORT_CHUNK_RESOURCES: '250', FLATFHIR_EXPORT_MAX_FILE_RESOURCES: '100' },
  },
};

export interface TrialBed {
  store: 'sqlite' | 'postgres';
  start(): Promise<FlatfhirProcess>;
  client: TestClient;
  tenant: string;
  close(): Promise<void>;
}

/** A data directory (and, for PostgreSQL, a schema) holding the population and a client. */
export async function openTrialBed(kind: 'sqlite' | 'postgres', population: TrialPopulation = 'synthea'): Promise<TrialBed> {
  const dataDir = await mkdtemp(join(tmpdir(), `flatfhir-crash-${kind}-`));
  const schema = kind === 'postgres' ? freshSchema('crash') : undefined;
  const store: Store = schema
    ? await openPostgresStore(TEST_DATABASE_URL, { schema: schema.name })
    : openSqliteStore(join(dataDir, 'flatfhir.sqlite'));
  if (population === 'synthea') await importPaths({ resources: store.resources, tenant: TENANT, paths: [SYNTHEA], maxGroupMembers: 20_000 });
  else await writeCohort(store.resources, TENANT, 800, 3, true);
  const client = await createTestClient(store.clients, TENANT);
  await store.close();
  const db = schema ? ['--database-url', `${TEST_DATABASE_URL}?schema=${schema.name}`] : [];
  return {
    store: kind,
    client,
    tenant: TENANT,
    start: () => startFlatfhir(['serve', '--data', dataDir, ...db, '--port', '0', '--no-seed'], ENV[population][kind]),
    async close() {
      await schema?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ExportFiles {
  /** Per manifest entry, in manifest order: "type count" and its lines. */
  files: { entry: string; lines: string[] }[];
  ms: number;
}

const tokenUrl = (origin: string, tenant: string): string => `${origin}/tenants/${tenant}/protocols/oauth2/profiles/smart-v1/token`;

async function pollUntil(url: string, token: string, done: (r: Response) => boolean, timeoutMs = 180_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await fetch(url, { headers: auth(token) });
    if (done(r)) return r;
    await r.arrayBuffer();
    if (Date.now() > deadline) throw new Error(`export at ${url} not done within ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

async function filesOf(manifest: ManifestJson, token: string): Promise<ExportFiles['files']> {
  const out: ExportFiles['files'] = [];
  for (const o of manifest.output) out.push({ entry: `${o.type} ${o.count}`, lines: (await download(o.url, token)).text.split('\n') });
  for (const e of manifest.error) out.push({ entry: 'error', lines: (await download(e.url, token)).text.split('\n') });
  return out;
}

/** Kicks off the trial export (a system-level export of everything) and returns its status URL. */
async function kickoff(origin: string, bed: TrialBed, token: string): Promise<string> {
  const r = await fetch(`${origin}/r4/${bed.tenant}/$export`, { headers: { ...KICKOFF_HEADERS, ...auth(token) } });
  if (r.status !== 202) throw new Error(`kick-off answered ${r.status}: ${await r.text()}`);
  return new URL(r.headers.get('content-location') as string).pathname;
}

/** The uninterrupted run, on a running server; the job is deleted afterwards. */
export async function referenceRun(bed: TrialBed, server: FlatfhirProcess): Promise<ExportFiles> {
  const token = await getAccessToken(tokenUrl(server.origin, bed.tenant), bed.client);
  const started = Date.now();
  const path = await kickoff(server.origin, bed, token);
  const done = await pollUntil(`${server.origin}${path}`, token, (r) => r.status !== 202);
  const ms = Date.now() - started;
  if (done.status !== 200) throw new Error(`reference export answered ${done.status}`);
  const files = await filesOf((await done.json()) as ManifestJson, token);
  await fetch(`${server.origin}${path}`, { method: 'DELETE', headers: auth(token) });
  return { files, ms };
}

export interface TrialResult {
  killAtMs: number;
  /** Whether the kill came before the job was done (a kill after completion proves less). */
  killedMidway: boolean;
  /** From the restart to the completed manifest. */
  resumeMs: number;
  /** Empty when the resumed files equal the reference line by line; else what differed. */
  differences: string[];
}

/**
 * One trial: kick-off, SIGKILL after `killAtMs`, restart, finish, compare with `reference`. `running`: a server
 * already started on the bed (the reference run's), killed by the trial; else one is started.
 */
export async function crashTrial(bed: TrialBed, reference: ExportFiles, killAtMs: number, running?: FlatfhirProcess): Promise<TrialResult> {
  const first = running ?? (await bed.start());
  let token = await getAccessToken(tokenUrl(first.origin, bed.tenant), bed.client);
  const path = await kickoff(first.origin, bed, token);
  await new Promise((res) => setTimeout(res, killAtMs));
  const before = await fetch(`${first.origin}${path}`, { headers: auth(token) }).catch(() => undefined);
  const killedMidway = before?.status === 202;
  await before?.arrayBuffer();
  await first.kill('SIGKILL');

  const restarted = Date.now();
  const second = await bed.start();
  try {
    token = await getAccessToken(tokenUrl(second.origin, bed.tenant), bed.client);
    const done = await pollUntil(`${second.origin}${path}`, token, (r) => r.status !== 202);
    const resumeMs = Date.now() - restarted;
    const differences: string[] = [];
    if (done.status !== 200) {
      differences.push(`status ${done.status}: ${await done.text()}`);
    } else {
      const files = await filesOf((await done.json()) as ManifestJson, token);
      if (files.length !== reference.files.length) differences.push(`${files.length} files, reference ${reference.files.length}`);
      files.forEach((f, i) => {
        const ref = reference.files[i];
        if (!ref || ref.entry !== f.entry) differences.push(`file ${i}: ${f.entry}, reference ${ref?.entry ?? 'none'}`);
        else {
          const line = f.lines.findIndex((l, n) => l !== ref.lines[n]);
          if (line >= 0 || f.lines.length !== ref.lines.length) differences.push(`file ${i} (${f.entry}): line ${line >= 0 ? line + 1 : f.lines.length} differs`);
        }
      });
    }
    await fetch(`${second.origin}${path}`, { method: 'DELETE', headers: auth(token) });
    return { killAtMs, killedMidway, resumeMs, differences };
  } finally {
    await second.kill('SIGTERM');
  }
}
