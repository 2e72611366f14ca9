/**
 * The ObjectStorage contract, run identically over every adapter: fs (downloads served by flatfhir's download
 * route) and S3 (an S3-protocol server on a free port; downloads served by it).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppDeps } from '../src/http/context.js';
import { handleError } from '../src/http/errors.js';
import { downloadRoutes } from '../src/http/routes/downloads.js';
import { FsObjectStorage } from '../src/storage/fs/index.js';
import { OBJECT_CONTENT_TYPE, objectContentType, type ObjectStorage } from '../src/storage/ports.js';
import { S3ObjectStorage } from '../src/storage/s3/index.js';
import { startS3, type TestS3 } from './helpers/s3.js';

interface Harness {
  storage: ObjectStorage;
  /** The origin presign is given (flatfhir's own, for adapters it serves). */
  origin: string;
  /** The same storage, misconfigured so that it cannot be reached or written. */
  broken(): Promise<ObjectStorage>;
  close(): Promise<void>;
}

const MIB = 1024 * 1024;

async function fsHarness(): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'flatfhir-storage-'));
  const storage = new FsObjectStorage(join(dir, 'exports'), randomBytes(32));
  const app: FastifyInstance = Fastify();
  app.setErrorHandler(handleError);
  await app.register(downloadRoutes({ storage } as unknown as AppDeps));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    storage,
    origin,
    async broken() {
      await writeFile(join(dir, 'not-a-dir'), 'x');
      return new FsObjectStorage(join(dir, 'not-a-dir', 'exports'), randomBytes(32));
    },
    async close() {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function s3Harness(): Promise<Harness> {
  const s3: TestS3 = await startS3();
  const options = { bucket: s3.bucket, prefix: 'contract/', endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials, partSize: 5 * MIB, listPageSize: 7 };
  const storage = new S3ObjectStorage(options);
  const opened: ObjectStorage[] = [storage];
  return {
    storage,
    origin: 'http://flatfhir.invalid',
    async broken() {
      const other = new S3ObjectStorage({ ...options, bucket: 'no-such-bucket' });
      opened.push(other);
      return other;
    },
    async close() {
      for (const s of opened) await s.close();
      await s3.close();
    },
  };
}

const text = async (stream: Readable): Promise<string> => {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c as Buffer));
  return Buffer.concat(parts).toString();
};

const ndjson = (n: number, tag = 'r'): string => Array.from({ length: n }, (_, i) => `{"resourceType":"Patient","id":"${tag}${i}"}\n`).join('');

async function* failingBody(): AsyncIterable<string> {
  yield '{"partial":true}\n';
  await new Promise((r) => setTimeout(r, 10));
  throw new Error('the source failed');
}

describe.each([
  ['fs', fsHarness],
  ['s3', s3Harness],
] as const)('ObjectStorage contract: %s', (_name, open) => {
  let h: Harness;
  beforeAll(async () => {
    h = await open();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('puts a stream and reads it back whole and by byte range', async () => {
    const body = ndjson(200);
    const chunks = body.match(/[\s\S]{1,997}/g) as string[];
    const { bytes } = await h.storage.put('jobs/a/0000-0.Patient.ndjson', Readable.from(chunks.map((c) => Buffer.from(c))));
    expect(bytes).toBe(Buffer.byteLength(body));
    expect(await h.storage.stat('jobs/a/0000-0.Patient.ndjson')).toEqual({ bytes });
    expect(await text(await h.storage.get('jobs/a/0000-0.Patient.ndjson'))).toBe(body);
    expect(await text(await h.storage.get('jobs/a/0000-0.Patient.ndjson', { start: 10, end: 19 }))).toBe(body.slice(10, 20));
    expect(await text(await h.storage.get('jobs/a/0000-0.Patient.ndjson', { start: bytes - 7 }))).toBe(body.slice(-7));
    // An async iterable of strings works as well as a stream.
    const small = await h.storage.put('jobs/a/strings.ndjson', (async function* () {
      yield 'a\n';
      yield 'b\n';
    })());
    expect(small.bytes).toBe(4);
    expect(await text(await h.storage.get('jobs/a/strings.ndjson'))).toBe('a\nb\n');
  });

  it('streams an object larger than one upload part', async () => {
    const line = `${'x'.repeat(1023)}\n`;
    const total = 12 * MIB;
    const { bytes } = await h.storage.put('jobs/big/0000-0.Observation.ndjson', Readable.from((function* () {
      for (let i = 0; i < total / MIB; i++) yield Buffer.from(line.repeat(1024));
    })()));
    expect(bytes).toBe(total);
    expect((await h.storage.stat('jobs/big/0000-0.Observation.ndjson'))?.bytes).toBe(total);
    expect(await text(await h.storage.get('jobs/big/0000-0.Observation.ndjson', { start: total - 2048, end: total - 1 }))).toBe(line.repeat(2));
    await h.storage.delete('jobs/big/0000-0.Observation.ndjson');
  });

  it('a failed put leaves no object, or the earlier one unchanged; a put replaces', async () => {
    await expect(h.storage.put('jobs/f/new.ndjson', failingBody())).rejects.toThrow(/source failed/);
    expect(await h.storage.stat('jobs/f/new.ndjson')).toBeUndefined();
    await h.storage.put('jobs/f/kept.ndjson', Readable.from(['first\n']));
    await expect(h.storage.put('jobs/f/kept.ndjson', failingBody())).rejects.toThrow(/source failed/);
    expect(await text(await h.storage.get('jobs/f/kept.ndjson'))).toBe('first\n');
    await h.storage.put('jobs/f/kept.ndjson', Readable.from(['second\n']));
    expect(await text(await h.storage.get('jobs/f/kept.ndjson'))).toBe('second\n');
  });

  it('missing objects: get rejects, stat is undefined, delete succeeds', async () => {
    await expect(h.storage.get('jobs/none/x.ndjson')).rejects.toThrow();
    expect(await h.storage.stat('jobs/none/x.ndjson')).toBeUndefined();
    await h.storage.delete('jobs/none/x.ndjson');
    await h.storage.deletePrefix('jobs/none/');
  });

  it('refuses invalid keys', async () => {
    for (const key of ['../escape', 'jobs//x', 'jobs/./x', '/abs', 'jobs/a b']) {
      await expect(h.storage.put(key, Readable.from(['x']))).rejects.toThrow(/Invalid object key/);
      await expect(h.storage.presign(key, Date.now() + 60_000, h.origin)).rejects.toThrow(/Invalid object key/);
    }
  });

  it('delete removes one object; deletePrefix removes a folder and nothing beside it', async () => {
    for (const key of ['jobs/p/0-0.A.ndjson', 'jobs/p/0-1.A.ndjson', 'jobs/p/sub/x.ndjson', 'jobs/p2/0-0.A.ndjson', 'jobs/q/0-0.A.ndjson']) {
      await h.storage.put(key, Readable.from([`${key}\n`]));
    }
    await h.storage.delete('jobs/p/0-1.A.ndjson');
    expect(await h.storage.stat('jobs/p/0-1.A.ndjson')).toBeUndefined();
    expect(await h.storage.stat('jobs/p/0-0.A.ndjson')).toBeDefined();
    await h.storage.deletePrefix('jobs/p/');
    expect(await h.storage.stat('jobs/p/0-0.A.ndjson')).toBeUndefined();
    expect(await h.storage.stat('jobs/p/sub/x.ndjson')).toBeUndefined();
    expect(await h.storage.stat('jobs/p2/0-0.A.ndjson')).toBeDefined();
    // Without the trailing slash, the same folder.
    await h.storage.deletePrefix('jobs/q');
    expect(await h.storage.stat('jobs/q/0-0.A.ndjson')).toBeUndefined();
    expect(await h.storage.stat('jobs/p2/0-0.A.ndjson')).toBeDefined();
  });

  it('deletePrefix removes more objects than one listing page holds', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `jobs/many/${String(i).padStart(4, '0')}.ndjson`);
    await Promise.all(keys.map((k) => h.storage.put(k, Readable.from(['x\n']))));
    await h.storage.deletePrefix('jobs/many/');
    for (const k of keys) expect(await h.storage.stat(k)).toBeUndefined();
  });

  it('presigned URLs serve $sql-export outputs with the media type of their format', async () => {
    const wanted: [string, string][] = [
      ['jobs/v/0000-0.obs.csv', 'text/csv'],
      ['jobs/v/0000-0.obs.parquet', 'application/vnd.apache.parquet'],
      ['jobs/v/0000-0.obs.json', 'application/json'],
      ['jobs/v/0000-0.obs.ndjson', 'application/fhir+ndjson'],
    ];
    for (const [key, type] of wanted) {
      expect(objectContentType(key)).toBe(type);
      await h.storage.put(key, Readable.from(['a,b\r\n']));
      const r = await fetch(await h.storage.presign(key, Date.now() + 60_000, h.origin), { headers: { 'accept-encoding': 'identity' } });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')?.split(';')[0]).toBe(type);
      expect(await r.text()).toBe('a,b\r\n');
    }
  });

  it('presigned URLs: a plain GET reads the object as NDJSON, honours Range, and is refused once expired or altered', async () => {
    const body = ndjson(50, 'p');
    await h.storage.put('jobs/s/0000-0.Patient.ndjson', Readable.from([body]));
    const url = await h.storage.presign('jobs/s/0000-0.Patient.ndjson', Date.now() + 60_000, h.origin);
    const whole = await fetch(url, { headers: { 'accept-encoding': 'identity' } });
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe(OBJECT_CONTENT_TYPE);
    expect(await whole.text()).toBe(body);

    const ranged = await fetch(url, { headers: { range: 'bytes=100-199' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 100-199/${body.length}`);
    expect(await ranged.text()).toBe(body.slice(100, 200));
    const tail = await fetch(url, { headers: { range: `bytes=${body.length - 10}-` } });
    expect(tail.status).toBe(206);
    expect(await tail.text()).toBe(body.slice(-10));
    const beyond = await fetch(url, { headers: { range: `bytes=${body.length + 10}-` } });
    expect(beyond.status).toBe(416);
    await beyond.arrayBuffer();

    const expired = await h.storage.presign('jobs/s/0000-0.Patient.ndjson', Date.now() - 5_000, h.origin);
    expect((await fetch(expired)).status).toBe(403);
    const altered = url.replace(/(signature=|X-Amz-Signature=)([0-9a-zA-Z_-])/, (_m, p: string, c: string) => `${p}${c === 'a' ? 'b' : 'a'}`);
    expect(altered).not.toBe(url);
    expect((await fetch(altered)).status).toBe(403);
    // Another object under the same signature is refused.
    await h.storage.put('jobs/s/other.ndjson', Readable.from(['secret\n']));
    expect((await fetch(url.replace('0000-0.Patient.ndjson', 'other.ndjson'))).status).toBe(403);
  });

  it('a presigned URL works during its lifetime and is refused after it', async () => {
    await h.storage.put('jobs/t/x.ndjson', Readable.from(['x\n']));
    const url = await h.storage.presign('jobs/t/x.ndjson', Date.now() + 1000, h.origin);
    expect((await fetch(url)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    expect((await fetch(url)).status).toBe(403);
  });

  it('check resolves when the storage can be used and rejects when it cannot', async () => {
    await h.storage.check();
    await expect((await h.broken()).check()).rejects.toThrow();
  });
});
