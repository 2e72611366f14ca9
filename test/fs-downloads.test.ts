/**
 * Downloads of locally stored export files, served through the filesystem storage's `writeTo` (two read buffers,
 * passed on to later downloads): files larger than the buffers, ranges that cross them, many downloads at once, and
 * a client that goes away midway (then downloads after it are still whole).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStorage } from '../src/storage/fs/index.js';

/** A server answering every request with `writeTo` of one object (the range from `?start=&end=` when given). */
async function serve(storage: FsObjectStorage, key: string): Promise<{ origin: string; close: () => Promise<void>; ended: Promise<unknown>[] }> {
  const ended: Promise<unknown>[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const start = url.searchParams.get('start');
    const range = start === null ? undefined : { start: Number(start), end: Number(url.searchParams.get('end')) };
    const done = storage.writeTo(key, res, range, () => res.writeHead(200)).then(
      () => {
        res.end();
        return 'written';
      },
      (e: Error) => {
        res.destroy();
        return e.message;
      },
    );
    ended.push(done);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ended,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('filesystem storage writeTo', () => {
  let dir: string;
  let storage: FsObjectStorage;
  // Larger than the two 256 KiB buffers together, and not a multiple of them.
  const body = randomBytes(3 * 256 * 1024 + 12_345);
  const key = 'jobs/x/0000-0.Observation.ndjson';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flatfhir-downloads-'));
    storage = new FsObjectStorage(join(dir, 'exports'), randomBytes(32));
    await storage.put(key, Readable.from([body]));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the whole object and ranges that cross its read buffers, byte for byte', async () => {
    const s = await serve(storage, key);
    try {
      const whole = Buffer.from(await (await fetch(s.origin)).arrayBuffer());
      expect(whole.equals(body)).toBe(true);
      for (const [start, end] of [
        [0, 0],
        [256 * 1024 - 3, 256 * 1024 + 2],
        [100, 2 * 256 * 1024 + 700],
        [body.length - 10, body.length - 1],
      ] as const) {
        const part = Buffer.from(await (await fetch(`${s.origin}/?start=${start}&end=${end}`)).arrayBuffer());
        expect(part.equals(body.subarray(start, end + 1))).toBe(true);
      }
    } finally {
      await s.close();
    }
  });

  it('serves many downloads at once and one after the other byte for byte (read buffers passed on between downloads)', async () => {
    const other = 'jobs/x/0002-0.Observation.ndjson';
    const otherBody = randomBytes(2 * 256 * 1024 + 999);
    await storage.put(other, Readable.from([otherBody]));
    const a = await serve(storage, key);
    const b = await serve(storage, other);
    try {
      for (let round = 0; round < 3; round++) {
        // More at once than the buffers kept between downloads, from two objects of different sizes.
        const got = await Promise.all(
          Array.from({ length: 10 }, async (_, i) => Buffer.from(await (await fetch(i % 2 === 0 ? a.origin : `${b.origin}/?start=7&end=${otherBody.length - 1}`)).arrayBuffer())),
        );
        got.forEach((g, i) => expect(g.equals(i % 2 === 0 ? body : otherBody.subarray(7))).toBe(true));
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('rejects when the client goes away before the object is written, and leaves nothing open', async () => {
    const big = 'jobs/x/0001-0.Observation.ndjson';
    await storage.put(big, Readable.from([randomBytes(64 * 1024 * 1024)]));
    const s = await serve(storage, big);
    try {
      await new Promise<void>((resolve) => {
        const req = http.get(s.origin, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => undefined);
      });
      expect(await s.ended[0]).toMatch(/closed before it was written|EPIPE|ECONNRESET|destroyed/);
      // The abandoned download's buffers are not handed on: a download after it is whole.
      const after = await serve(storage, key);
      try {
        expect(Buffer.from(await (await fetch(after.origin)).arrayBuffer()).equals(body)).toBe(true);
      } finally {
        await after.close();
      }
    } finally {
      await s.close();
    }
  });

  it('rejects an object that does not exist without calling opened', async () => {
    let opened = false;
    const sink = new http.ServerResponse(new http.IncomingMessage(new (await import('node:net')).Socket()));
    await expect(storage.writeTo('jobs/x/missing.ndjson', sink, undefined, () => (opened = true))).rejects.toThrow(/ENOENT/);
    expect(opened).toBe(false);
  });
});
