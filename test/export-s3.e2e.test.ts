/**
 * An export end to end with the export files in an S3-compatible store (an S3-protocol server on a free port),
 * beside the same export with local files from the same store: the same files, downloads through pre-signed S3
 * URLs (Range as on the fs path; no gzip, which S3 does not do), objects deleted with their job. The two servers
 * share one data directory, so each runs its export worker only while its own export runs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPaths } from '../src/import/importer.js';
import { fixtureResources, writeNdjson } from './fixtures/population.js';
import { startS3, type TestS3 } from './helpers/s3.js';
import { requestBytes } from './helpers/http.js';
import { auth, runExport, startServer, type TestServer } from './helpers/server.js';

const TENANT = 'tenant-s3';
let s3: TestS3;
let onS3: TestServer;
let onFs: TestServer;

async function seed(s: TestServer): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flatfhir-fixture-'));
  await writeNdjson(dir, fixtureResources());
  await importPaths({ resources: s.runtime.store.resources, tenant: TENANT, paths: [dir], maxGroupMembers: 100 });
  await rm(dir, { recursive: true });
}

const rawGet = (url: string, headers: Record<string, string> = {}) => requestBytes(url, { headers });

const location = async (url: string, token: string): Promise<string> => {
  const res = await fetch(url, { headers: auth(token), redirect: 'manual' });
  expect(res.status).toBe(307);
  return res.headers.get('location') as string;
};

/** Runs an export on one of the servers, its worker running meanwhile. */
async function exportOn(server: TestServer, token: string, url: string): Promise<Awaited<ReturnType<typeof runExport>>> {
  await server.runtime.worker.start();
  try {
    return await runExport(server, token, url);
  } finally {
    await server.runtime.worker.stop();
  }
}

beforeAll(async () => {
  s3 = await startS3();
  const exportSettings = { maxFileResources: 3, chunkResources: 4, presignSeconds: 120 };
  onFs = await startServer({ export: exportSettings }, { worker: false });
  onS3 = await startServer({ dataDir: onFs.dataDir, storage: s3.storageConfig('deployment-a'), export: exportSettings }, { worker: false });
  await seed(onFs);
});

afterAll(async () => {
  await onS3?.close();
  await onFs?.close();
  await s3?.close();
});

describe('export with S3 object storage', () => {
  it('writes the same files as local storage, served through pre-signed S3 URLs, and deletes them with the job', async () => {
    const url = (s: TestServer) => `${s.base(TENANT)}/Group/grp-main/$export?_type=Patient,Condition,Observation,Provenance`;
    const a = await onS3.client(TENANT);
    const b = await onFs.client(TENANT);
    const viaS3 = await exportOn(onS3, a.token, url(onS3));
    const viaFs = await exportOn(onFs, b.token, url(onFs));
    expect(viaS3.manifest.output.length).toBeGreaterThan(3);
    expect(viaS3.manifest.output.map((o) => [o.type, o.count])).toEqual(viaFs.manifest.output.map((o) => [o.type, o.count]));
    expect(viaS3.byType).toEqual(viaFs.byType);

    const jobId = viaS3.statusUrl.split('/').pop() as string;
    const keys = await s3.listKeys(`deployment-a/jobs/${jobId}/`);
    expect(keys.length).toBe(viaS3.manifest.output.length);

    for (const [i, o] of viaS3.manifest.output.entries()) {
      const signed = new URL(await location(o.url, a.token));
      // Signed for the store, at request time, for the configured lifetime.
      expect(signed.origin).toBe(s3.endpoint);
      expect(signed.searchParams.get('X-Amz-Expires')).toBe('120');
      const date = signed.searchParams.get('X-Amz-Date') as string;
      const signedAt = Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
      expect(Math.abs(Date.now() - signedAt)).toBeLessThan(5_000);
      const file = await rawGet(signed.toString());
      expect(file.status).toBe(200);
      expect(file.headers['content-type']).toBe('application/fhir+ndjson');
      const local = await rawGet(await location(viaFs.manifest.output[i]?.url as string, b.token));
      expect(file.body.equals(local.body)).toBe(true);
    }
    // Without the token the file endpoint refuses; the S3 URL needs none.
    expect((await fetch(viaS3.manifest.output[0]?.url as string, { redirect: 'manual' })).status).toBe(401);

    expect((await fetch(viaS3.statusUrl, { method: 'DELETE', headers: auth(a.token) })).status).toBe(202);
    expect(await s3.listKeys(`deployment-a/jobs/${jobId}/`)).toEqual([]);
    expect((await fetch(viaS3.manifest.output[0]?.url as string, { headers: auth(a.token), redirect: 'manual' })).status).toBe(404);
  });

  it('downloads: Range as on the fs path; gzip only on the fs path, S3 sends the same bytes uncompressed', async () => {
    const url = (s: TestServer) => `${s.base(TENANT)}/Group/grp-main/$export?_type=Observation`;
    const a = await onS3.client(TENANT);
    const b = await onFs.client(TENANT);
    const viaS3 = await exportOn(onS3, a.token, url(onS3));
    const viaFs = await exportOn(onFs, b.token, url(onFs));
    const s3Url = await location(viaS3.manifest.output[0]?.url as string, a.token);
    const fsUrl = await location(viaFs.manifest.output[0]?.url as string, b.token);
    const whole = (await rawGet(fsUrl)).body;
    expect(whole.length).toBeGreaterThan(200);

    for (const range of ['bytes=0-99', 'bytes=100-', `bytes=${whole.length - 50}-${whole.length + 500}`]) {
      const [x, y] = await Promise.all([rawGet(s3Url, { range }), rawGet(fsUrl, { range })]);
      expect([x.status, y.status]).toEqual([206, 206]);
      expect(x.headers['content-range']).toBe(y.headers['content-range']);
      expect(x.headers['content-length']).toBe(y.headers['content-length']);
      expect(x.body.equals(y.body)).toBe(true);
    }
    const [x416, y416] = await Promise.all([rawGet(s3Url, { range: `bytes=${whole.length}-` }), rawGet(fsUrl, { range: `bytes=${whole.length}-` })]);
    expect([x416.status, y416.status]).toEqual([416, 416]);
    for (const r of [x416, y416]) expect(r.headers['accept-ranges'] ?? 'bytes').toBe('bytes');

    const [xz, yz] = await Promise.all([rawGet(s3Url, { 'accept-encoding': 'gzip' }), rawGet(fsUrl, { 'accept-encoding': 'gzip' })]);
    expect(yz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(yz.body).equals(whole)).toBe(true);
    expect(xz.headers['content-encoding']).toBeUndefined();
    expect(xz.body.equals(whole)).toBe(true);
  });
});
