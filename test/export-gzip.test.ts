/**
 * Export files with `Accept-Encoding: gzip` (local file storage): compressed on the fly with
 * `Content-Encoding: gzip` and `Vary`, the decompressed bytes exactly the file's; identity when gzip is refused
 * (`q=0`) or not asked for, and for Range requests (ranges are of the stored bytes).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPaths } from '../src/import/importer.js';
import { fixtureResources, writeNdjson } from './fixtures/population.js';
import { requestBytes } from './helpers/http.js';
import { auth, runExport, startServer, type TestServer } from './helpers/server.js';

const TENANT = 'tenant-gzip';
let server: TestServer;

const rawGet = (url: string, headers: Record<string, string> = {}) => requestBytes(url, { headers });

beforeAll(async () => {
  server = await startServer();
  const dir = await mkdtemp(join(tmpdir(), 'flatfhir-fixture-'));
  await writeNdjson(dir, fixtureResources());
  await importPaths({ resources: server.runtime.store.resources, tenant: TENANT, paths: [dir], maxGroupMembers: 100 });
  await rm(dir, { recursive: true });
});

afterAll(async () => {
  await server?.close();
});

describe('gzip downloads', () => {
  it('compress every file on the fly when asked, and only then', async () => {
    const { token } = await server.client(TENANT);
    const { manifest, byType, statusUrl } = await runExport(server, token, `${server.base(TENANT)}/Group/grp-main/$export`);
    expect(manifest.output.length).toBeGreaterThan(2);
    for (const o of manifest.output) {
      const redirect = await fetch(o.url, { headers: auth(token), redirect: 'manual' });
      const location = redirect.headers.get('location') as string;
      const plain = await rawGet(location, { 'accept-encoding': 'identity' });
      expect(plain.status).toBe(200);
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.headers['content-length']).toBe(String(plain.body.length));
      // The lines the manifest counts, as runExport read them.
      expect(plain.body.toString().split('\n').filter(Boolean)).toHaveLength(o.count as number);

      for (const accept of ['gzip', 'deflate, gzip;q=0.5', 'br;q=1.0, gzip']) {
        const gz = await rawGet(location, { 'accept-encoding': accept });
        expect(gz.status, accept).toBe(200);
        expect(gz.headers['content-encoding'], accept).toBe('gzip');
        expect(gz.headers['vary']).toMatch(/accept-encoding/i);
        expect(gz.headers['content-type']).toBe('application/fhir+ndjson');
        expect(gunzipSync(gz.body).equals(plain.body), accept).toBe(true);
        // NDJSON compresses well, except a file of a line or two (the gzip header and trailer cost 18 bytes).
        if (plain.body.length > 2000) expect(gz.body.length).toBeLessThan(plain.body.length / 2);
      }
      for (const accept of ['gzip;q=0', 'deflate', '']) {
        const id = await rawGet(location, accept ? { 'accept-encoding': accept } : {});
        expect(id.headers['content-encoding'], accept).toBeUndefined();
        expect(id.body.equals(plain.body), accept).toBe(true);
      }
      const ranged = await rawGet(location, { 'accept-encoding': 'gzip', range: 'bytes=5-' });
      expect(ranged.status).toBe(206);
      expect(ranged.headers['content-encoding']).toBeUndefined();
      expect(ranged.body.equals(plain.body.subarray(5))).toBe(true);
    }
    expect([...byType.values()].reduce((n, l) => n + l.length, 0)).toBe(manifest.output.reduce((n, o) => n + (o.count ?? 0), 0));
    await fetch(statusUrl, { method: 'DELETE', headers: auth(token) });
  });
});
