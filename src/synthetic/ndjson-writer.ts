import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { FhirResource } from '../fhir/resource.js';

/** Characters buffered per type before the buffer is handed to its stream. */
const CHUNK = 256 * 1024;
/** Bytes a stream may hold before `write()` asks us to wait for 'drain'. */
const HIGH_WATER_MARK = 1024 * 1024;

class TypeFile {
  buffer = '';
  count = 0;
  error: Error | undefined;
  readonly stream: WriteStream;

  constructor(file: string) {
    this.stream = createWriteStream(file, { highWaterMark: HIGH_WATER_MARK });
    // Recorded and rethrown at the next flush/close instead of crashing the process as an unhandled 'error'.
    this.stream.on('error', (err) => {
      this.error ??= err;
    });
  }

  async flush(): Promise<void> {
    if (this.error) throw this.error;
    if (this.buffer.length === 0) return;
    const chunk = this.buffer;
    this.buffer = '';
    if (!this.stream.write(chunk)) await this.drain();
  }

  private drain(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        this.stream.off('error', onError);
        resolve();
      };
      const onError = (err: Error): void => {
        this.stream.off('drain', onDrain);
        reject(err);
      };
      this.stream.once('drain', onDrain);
      this.stream.once('error', onError);
    });
  }

  async close(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve, reject) => {
      if (this.error) {
        reject(this.error);
        return;
      }
      this.stream.once('error', reject);
      this.stream.once('close', () => resolve());
      this.stream.end();
    });
    if (this.error) throw this.error;
  }
}

/**
 * One NDJSON file per resource type (`<Type>.ndjson`) in a directory. `add` only appends to an in-memory
 * buffer; `flush` (awaited by the caller between batches) hands full buffers to the file streams and waits
 * whenever a stream reports backpressure, so memory stays bounded whatever the number of resources.
 */
export class NdjsonWriter {
  private readonly files = new Map<string, TypeFile>();

  constructor(
    private readonly dir: string,
    types: readonly string[] = [],
  ) {
    for (const type of types) this.file(type);
  }

  private file(type: string): TypeFile {
    let file = this.files.get(type);
    if (!file) {
      file = new TypeFile(path.join(this.dir, `${type}.ndjson`));
      this.files.set(type, file);
    }
    return file;
  }

  readonly add = (resource: FhirResource): void => {
    const file = this.file(resource.resourceType);
    file.buffer += `${JSON.stringify(resource)}\n`;
    file.count++;
  };

  /** Writes out the buffers that reached the chunk size (all of them with `all`). */
  async flush(all = false): Promise<void> {
    for (const file of this.files.values()) {
      if (all || file.buffer.length >= CHUNK) await file.flush();
      else if (file.error) throw file.error;
    }
  }

  /** Flushes and closes every file; resolves once all are on disk. */
  async close(): Promise<void> {
    const results = await Promise.allSettled([...this.files.values()].map((f) => f.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Stops writing after a failure (files are left incomplete). */
  destroy(): void {
    for (const file of this.files.values()) file.stream.destroy();
  }

  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const [type, file] of [...this.files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) counts[type] = file.count;
    return counts;
  }
}
