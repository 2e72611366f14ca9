import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, constants, mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DOWNLOAD_PATH, isValidObjectKey, type ObjectStorage } from '../ports.js';

/** Bytes read at a time when serving a download. */
const READ_BYTES = 256 * 1024;
/**
 * Read buffers of finished downloads, kept for the next ones (pairs, up to this many): a download that allocated
 * its own would leave them to the garbage collector, and a burst of downloads would hold many pairs at once.
 */
const SPARE_PAIRS = 4;
const spare: Buffer[][] = [];

/** Objects as files under a root directory; downloads served by flatfhir under a signed, expiring URL. */
export class FsObjectStorage implements ObjectStorage {
  private readonly root: string;

  constructor(root: string, private readonly secret: Buffer) {
    this.root = resolve(root);
  }

  private path(key: string): string {
    if (!isValidObjectKey(key)) throw new Error(`Invalid object key ${key}`);
    const p = join(this.root, key);
    if (!p.startsWith(this.root + sep)) throw new Error(`Invalid object key ${key}`);
    return p;
  }

  async put(key: string, body: Readable | AsyncIterable<Buffer | string>): Promise<{ bytes: number }> {
    const target = this.path(key);
    // Export files hold patient data: 0600 files in 0700 folders.
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    const out = createWriteStream(temp, { mode: 0o600 });
    try {
      // One batch read ahead of the write, not sixteen (Readable.from's default): a chunk's memory is a batch or two.
      await pipeline(body instanceof Readable ? body : Readable.from(body, { highWaterMark: 1 }), out);
      const handle = await open(temp, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
    } catch (e) {
      await rm(temp, { force: true });
      throw e;
    }
    return { bytes: out.bytesWritten };
  }

  async get(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    const p = this.path(key);
    await stat(p);
    // Reads of 256 KiB (not the default 64 KiB): a download takes a quarter of the event-loop turns and system calls.
    return createReadStream(p, { highWaterMark: 256 * 1024, ...(range ? { start: range.start, ...(range.end !== undefined ? { end: range.end } : {}) } : {}) });
  }

  async writeTo(key: string, out: Writable, range: { start: number; end?: number } | undefined, opened: () => void): Promise<void> {
    const handle = await open(this.path(key), 'r');
    try {
      const end = range?.end ?? (await handle.stat()).size - 1;
      opened();
      const buffers = spare.pop() ?? [Buffer.allocUnsafeSlow(READ_BYTES), Buffer.allocUnsafeSlow(READ_BYTES)];
      let reusable = false;
      // A client that goes away closes `out`, or fails a write (its 'error' is taken here, not left uncaught).
      let onClose: () => void = () => undefined;
      let onError: (e: Error) => void = () => undefined;
      const closed = new Promise<never>((_, reject) => {
        onClose = () => reject(new Error('the download was closed before it was written'));
        onError = reject;
      });
      closed.catch(() => undefined);
      out.once('close', onClose);
      out.on('error', onError);
      try {
        let flushed: Promise<void> = Promise.resolve();
        for (let position = range?.start ?? 0, turn = 0; position <= end; turn ^= 1) {
          // This buffer's previous write was awaited one turn ago, before the other buffer's was issued.
          const buffer = buffers[turn] as Buffer;
          const { bytesRead } = await handle.read(buffer, 0, Math.min(READ_BYTES, end - position + 1), position);
          if (bytesRead === 0) break;
          position += bytesRead;
          await Promise.race([flushed, closed]);
          if (out.destroyed) throw new Error('the download was closed before it was written');
          flushed = new Promise<void>((resolve, reject) => {
            out.write(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead), (e) => (e ? reject(e) : resolve()));
          });
          // Awaited after the next read; a failure meanwhile is not an unhandled rejection.
          flushed.catch(() => undefined);
        }
        await Promise.race([flushed, closed]);
        // Every write has completed: nothing refers to the buffers any more.
        reusable = true;
      } finally {
        // The error listener stays: a write still pending when `out` closed may fail after this.
        out.off('close', onClose);
        if (reusable && spare.length < SPARE_PAIRS) spare.push(buffers);
      }
    } finally {
      await handle.close();
    }
  }

  async stat(key: string): Promise<{ bytes: number } | undefined> {
    try {
      const s = await stat(this.path(key));
      return { bytes: s.size };
    } catch {
      return undefined;
    }
  }

  async delete(key: string): Promise<void> {
    await unlink(this.path(key)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  async deletePrefix(prefix: string): Promise<void> {
    const clean = prefix.replace(/\/+$/, '');
    // A writer may still be adding files under the prefix (a job deleted while a chunk runs): retry ENOTEMPTY.
    await rm(this.path(clean), { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }

  private sign(key: string, expiresAt: number): string {
    return createHmac('sha256', this.secret).update(`${key}\n${expiresAt}`).digest('base64url');
  }

  async presign(key: string, expiresAt: number, origin: string): Promise<string> {
    this.path(key);
    const encoded = key.split('/').map(encodeURIComponent).join('/');
    return `${origin}${DOWNLOAD_PATH}/${encoded}?expires=${expiresAt}&signature=${this.sign(key, expiresAt)}`;
  }

  verifyPresigned(key: string, expiresAt: number, signature: string, now: number): boolean {
    if (!Number.isFinite(expiresAt) || expiresAt < now) return false;
    const expected = Buffer.from(this.sign(key, expiresAt));
    const given = Buffer.from(signature);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  async check(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await access(this.root, constants.W_OK);
  }

  async close(): Promise<void> {}
}
