/**
 * What the S3 adapter's uploads send: the body with an unsigned payload (no SHA-256 of every part), the request
 * still signed. A plain HTTP server stands in for the store and records the requests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { S3ObjectStorage } from '../src/storage/s3/index.js';

const seen: { method: string; url: string; sha256: string | undefined; authorization: string | undefined; bytes: number }[] = [];
let server: http.Server;
let endpoint: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', sha256: req.headers['x-amz-content-sha256'] as string | undefined, authorization: req.headers.authorization, bytes });
      res.writeHead(200, { etag: '"0123456789abcdef0123456789abcdef"' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

it('uploads an object with an unsigned payload in a signed request', async () => {
  const storage = new S3ObjectStorage({ bucket: 'b', prefix: 'p/', endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'k', secretAccessKey: 's' }, partSize: 5 * 1024 * 1024 });
  const written = await storage.put('jobs/x/0001-0.Patient.ndjson', Readable.from([Buffer.from('{"a":1}\n'), Buffer.from('{"b":2}\n')]));
  await storage.close();
  expect(written.bytes).toBe(16);
  const put = seen.find((r) => r.method === 'PUT');
  expect(put).toMatchObject({ url: expect.stringContaining('/b/p/jobs/x/0001-0.Patient.ndjson'), sha256: 'UNSIGNED-PAYLOAD', bytes: 16 });
  expect(put?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=k\//);
  expect(put?.authorization).toContain('x-amz-content-sha256');
});
