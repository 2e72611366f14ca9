/**
 * Status polls read one job row and keep the answer for a fraction of the advised Retry-After; Retry-After
 * follows the job's progress. The job's progress is moved the way a worker moves it (claim, complete a chunk).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPaths } from '../src/import/importer.js';
import { fixtureResources, writeNdjson } from './fixtures/population.js';
import { auth, KICKOFF_HEADERS, startServer, type TestServer } from './helpers/server.js';

const TENANT = 'tenant-a';
let server: TestServer;
let token: string;

beforeAll(async () => {
  // No worker: the job stays in progress until the test moves it. Retry-After base 4 s: views kept 1 s.
  server = await startServer({ export: { retryAfterSeconds: 4 } }, { worker: false });
  const dir = await mkdtemp(join(tmpdir(), 'flatfhir-fixture-'));
  await writeNdjson(dir, fixtureResources());
  await importPaths({ resources: server.runtime.store.resources, tenant: TENANT, paths: [dir], maxGroupMembers: 100 });
  await rm(dir, { recursive: true });
  token = (await server.client(TENANT)).token;
});

afterAll(async () => {
  await server?.close();
});

const poll = async (url: string): Promise<{ status: number; progress: string | null; retryAfter: number }> => {
  const r = await fetch(url, { headers: auth(token) });
  await r.arrayBuffer();
  return { status: r.status, progress: r.headers.get('x-progress'), retryAfter: Number(r.headers.get('retry-after')) };
};

describe('status polls', () => {
  it('answer from a view kept a quarter of Retry-After, then from the job row, with Retry-After following progress', async () => {
    const kick = await fetch(`${server.base(TENANT)}/$export`, { headers: { ...KICKOFF_HEADERS, ...auth(token) } });
    expect(kick.status).toBe(202);
    const url = kick.headers.get('content-location') as string;
    const jobId = url.split('/').pop() as string;
    const jobs = server.runtime.store.jobs;
    const first = await poll(url);
    expect(first).toMatchObject({ status: 202, retryAfter: 4 });
    expect(first.progress).toMatch(/^0% \(0 of /);

    // A worker plans the job and completes one chunk: the job row changes, the kept view does not (yet).
    const at = Date.now();
    const lease = { owner: 'test-worker', until: at + 60_000 };
    expect(await jobs.claimChunk(jobId, 0, lease, at)).toBeDefined();
    const planned = await jobs.completePlan(
      jobId,
      0,
      [
        { type: 'Patient', slice: { mode: 'ids' }, estimate: 100 },
        { type: 'Observation', slice: { mode: 'ids' }, estimate: 100 },
      ],
      200,
      at,
    );
    const seq = planned?.seqs[0] as number;
    expect((await jobs.claimChunk(jobId, seq, lease, at))?.chunk.seq).toBe(seq);
    const done = 2;
    expect((await jobs.completeChunk(jobId, seq, [], done, at)).recorded).toBe(true);
    expect(await poll(url)).toEqual(first);

    await new Promise((r) => setTimeout(r, 1100));
    const later = await poll(url);
    expect(later.status).toBe(202);
    expect(later.progress).toMatch(new RegExp(`^\\d+% \\(${done} of `));
    // 2% done after more than a second: far more than 40 s to go, so the advice grows past the base.
    expect(later.retryAfter).toBeGreaterThan(4);
    expect(later.retryAfter).toBeLessThanOrEqual(60);

    // DELETE drops the kept view at once.
    expect((await fetch(url, { method: 'DELETE', headers: auth(token) })).status).toBe(202);
    expect((await poll(url)).status).toBe(404);
  });
});
