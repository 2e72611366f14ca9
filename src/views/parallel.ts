/**
 * A view evaluated on worker threads: the calling thread reads the resources (a store scan, say) and hands their
 * JSON text, a batch at a time, to threads that parse, evaluate and encode it; the encoded batches come back in
 * the order they were read. Reading, parsing and encoding then use every core, as an export's chunks do.
 */
import type { Worker } from 'node:worker_threads';
import { FhirError } from '../fhir/errors.js';
import type { StoredResource } from '../store/ports.js';
import { startThread } from '../threads/start-thread.js';
import type { CompiledView } from './evaluate.js';
import { viewRows } from './sources.js';
import { type BatchEncoding, type DuckDbOptions, type EncodedBatch, type FlatFormat, writeEncodedToFile, writeRowsToFile } from './writers.js';

/** What a view thread starts with. */
export interface ViewThreadData {
  definition: unknown;
  encoding: BatchEncoding;
  /** Only resources in the Patient compartment of one of these patients (a Group's members). */
  members?: string[];
}

export interface ThreadRequest {
  seq: number;
  texts: string[];
}

export type ThreadReply =
  | { seq: number; bytes: Uint8Array; rows: number; resources: number }
  | { seq: number; error: string; status?: number; code?: string };

interface Pending {
  promise: Promise<EncodedBatch & { resources: number }>;
  resolve: (b: EncodedBatch & { resources: number }) => void;
  reject: (e: Error) => void;
  worker: Worker;
}

/** Batches in flight per thread: one being evaluated, one waiting, so no thread idles while the reader reads. */
const IN_FLIGHT_PER_THREAD = 2;

/**
 * Encodes the rows a view (its definition, as compileView takes it) yields over batches of resources (JSON text)
 * on `threads` worker threads (at least one), in order. A thread's failure (a 422 on a column with several
 * values, say) fails the iteration with the same FhirError; the threads end with it.
 */
export async function* encodeInThreads(
  definition: unknown,
  encoding: BatchEncoding,
  texts: AsyncIterable<string[]>,
  options: { threads: number; members?: string[]; onResources?: (n: number) => void },
): AsyncIterable<EncodedBatch> {
  const data: ViewThreadData = { definition, encoding, ...(options.members ? { members: options.members } : {}) };
  const pending = new Map<number, Pending>();
  const load = new Map<Worker, number>();
  const workers: Worker[] = [];
  let failure: Error | undefined;
  const fail = (w: Worker, e: Error): void => {
    failure ??= e;
    for (const p of pending.values()) if (p.worker === w) p.reject(e);
  };
  for (let i = 0; i < Math.max(1, options.threads); i++) {
    const w = startThread(new URL('./view-thread.js', import.meta.url), { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
    w.on('message', (m: ThreadReply) => {
      const p = pending.get(m.seq);
      if (!p) return;
      load.set(w, (load.get(w) ?? 1) - 1);
      if ('error' in m) p.reject(m.status !== undefined ? new FhirError(m.status, m.code ?? 'processing', m.error) : new Error(m.error));
      else p.resolve({ text: m.bytes, rows: m.rows, resources: m.resources });
    });
    w.on('error', (e) => fail(w, e));
    w.on('exit', (code) => fail(w, new Error(`view thread exited (code ${code})`)));
    workers.push(w);
    load.set(w, 0);
  }
  const dispatch = (seq: number, batch: string[]): void => {
    if (failure) throw failure;
    let worker = workers[0] as Worker;
    for (const w of workers) if ((load.get(w) ?? 0) < (load.get(worker) ?? 0)) worker = w;
    let resolve!: Pending['resolve'];
    let reject!: Pending['reject'];
    const promise = new Promise<EncodedBatch & { resources: number }>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Awaited in order later; a failure before then must not count as unhandled.
    promise.catch(() => undefined);
    pending.set(seq, { promise, resolve, reject, worker });
    load.set(worker, (load.get(worker) ?? 0) + 1);
    worker.postMessage({ seq, texts: batch } satisfies ThreadRequest);
  };

  const input = texts[Symbol.asyncIterator]();
  const limit = workers.length * IN_FLIGHT_PER_THREAD;
  let sent = 0;
  let received = 0;
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && sent - received < limit) {
        const next = await input.next();
        if (next.done) exhausted = true;
        else if (next.value.length > 0) dispatch(sent++, next.value);
      }
      if (received === sent) break;
      const head = pending.get(received) as Pending;
      const result = await head.promise;
      pending.delete(received);
      received++;
      options.onResources?.(result.resources);
      yield { text: result.text, rows: result.rows };
    }
  } finally {
    if (!exhausted) await input.return?.();
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** The JSON text of stored resources (tombstones have none). */
export async function* resourceTexts(batches: AsyncIterable<StoredResource[]>): AsyncIterable<string[]> {
  for await (const batch of batches) {
    const texts: string[] = [];
    for (const r of batch) if (r.json !== null) texts.push(r.json);
    yield texts;
  }
}

/**
 * Writes a view over batches of stored resources to `path` in a flat format: on `threads` worker threads when
 * threads > 0 (see encodeInThreads), else on the calling thread. Resolves with the rows and bytes written.
 */
export async function writeViewFile(
  view: CompiledView,
  format: FlatFormat,
  batches: AsyncIterable<StoredResource[]>,
  path: string,
  options: DuckDbOptions & { threads: number; header?: boolean; members?: string[]; onResources?: (n: number) => void },
): Promise<{ rows: number; bytes: number }> {
  const { threads, members, onResources, ...write } = options;
  if (threads > 0) {
    const encoded = encodeInThreads(view.definition, format === 'parquet' ? 'staging' : format, resourceTexts(batches), {
      threads,
      ...(members ? { members } : {}),
      ...(onResources ? { onResources } : {}),
    });
    return writeEncodedToFile(format, view.columns, encoded, path, write);
  }
  const accept = members ? await memberFilter(members) : undefined;
  return writeRowsToFile(format, view.columns, viewRows(view, batches, accept, onResources), path, write);
}

async function memberFilter(members: string[]): Promise<(r: Record<string, unknown>) => boolean> {
  const { patientCompartment, patientCompartmentPaths } = await import('../fhir/compartment.js');
  const set = new Set(members);
  const paths = patientCompartmentPaths();
  return (r) => patientCompartment(r as never, paths).some((id) => set.has(id));
}
