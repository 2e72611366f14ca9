/**
 * A view evaluated on worker threads: the calling thread reads the resources (a store scan, say) and hands their
 * JSON text, a batch at a time, to threads that parse, evaluate and encode it; the encoded batches come back in
 * the order they were read. Reading, parsing and encoding then use every core, as an export's chunks do.
 */
import type { Worker } from 'node:worker_threads';
import { patientCompartment, patientCompartmentPaths } from '../fhir/compartment.js';
import { FhirError } from '../fhir/errors.js';
import type { FhirResource } from '../fhir/resource.js';
import type { StoredResource } from '../store/ports.js';
import { startThread } from '../threads/start-thread.js';
import { compileView, type CompiledView } from './evaluate.js';
import { type BatchEncoding, type DuckDbOptions, type EncodedBatch, encodeRows, type FlatFormat, writeEncodedToFile } from './writers.js';

/** Whether a resource is in the Patient compartment of one of `members`. */
export function memberFilter(members: string[]): (r: Record<string, unknown>) => boolean {
  const set = new Set(members);
  const paths = patientCompartmentPaths();
  return (r) => patientCompartment(r as unknown as FhirResource, paths).some((id) => set.has(id));
}

/** Encoded text kept as a string before it becomes bytes: what stays on the heap while a batch is evaluated. */
const FLUSH_CHARS = 64 * 1024;

/**
 * Parses, evaluates and encodes one batch of resources (JSON text). The text goes to bytes every 64 KiB, so that
 * little of it stays on the JavaScript heap (where each scavenge would copy it) while the batch is parsed.
 */
export function encodeTexts(view: CompiledView, encoding: BatchEncoding, texts: string[], accept?: (r: Record<string, unknown>) => boolean): { bytes: Buffer; rows: number } {
  const parts: Buffer[] = [];
  let out = '';
  let rows = 0;
  for (const text of texts) {
    const resource = JSON.parse(text) as Record<string, unknown>;
    if (accept && !accept(resource)) continue;
    const produced = view.rows(resource);
    if (produced.length === 0) continue;
    rows += produced.length;
    out += encodeRows(encoding, view.columns, produced);
    if (out.length >= FLUSH_CHARS) {
      parts.push(Buffer.from(out));
      out = '';
    }
  }
  if (out.length > 0) parts.push(Buffer.from(out));
  return { bytes: parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts), rows };
}

/** A view over batches of stored resources, encoded batch by batch on the calling thread (see encodeTexts). */
export async function* encodeStored(
  view: CompiledView,
  encoding: BatchEncoding,
  batches: AsyncIterable<StoredResource[]>,
  options: { members?: string[]; onResources?: (n: number) => void } = {},
): AsyncIterable<EncodedBatch> {
  const accept = options.members ? memberFilter(options.members) : undefined;
  for await (const batch of resourceTexts(batches)) {
    const { bytes, rows } = encodeTexts(view, encoding, batch, accept);
    options.onResources?.(batch.length);
    yield { text: bytes, rows };
  }
}

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
  | { ready: true }
  | { seq: number; bytes: Uint8Array; rows: number; resources: number }
  | { seq: number; error: string; status?: number; code?: string };

interface Pending {
  promise: Promise<EncodedBatch & { resources: number }>;
  resolve: (b: EncodedBatch & { resources: number }) => void;
  reject: (e: Error) => void;
  /** The thread evaluating the batch (none when it was evaluated on the calling thread). */
  worker: Worker | undefined;
}

/** Batches in flight per thread: one being evaluated, one waiting, so no thread idles while the reader reads. */
const IN_FLIGHT_PER_THREAD = 2;
/** Batches evaluated on the calling thread before threads start: a small input never waits for them. */
const INLINE_BATCHES = 16;

/**
 * Encodes the rows a view (its definition, as compileView takes it) yields over batches of resources (JSON text)
 * on `threads` worker threads (at least one), in order. The first `inline` batches (default 16) are evaluated on
 * the calling thread, which goes on evaluating them until a thread has started; with `inline: 0` every batch
 * goes to a thread. A failure (a 422 on a column with several values, say) fails the iteration with the same
 * FhirError; the threads end with it.
 */
export async function* encodeInThreads(
  definition: unknown,
  encoding: BatchEncoding,
  texts: AsyncIterable<string[]>,
  options: { threads: number; members?: string[]; inline?: number; onResources?: (n: number) => void },
): AsyncIterable<EncodedBatch> {
  const data: ViewThreadData = { definition, encoding, ...(options.members ? { members: options.members } : {}) };
  const inline = options.inline ?? INLINE_BATCHES;
  const pending = new Map<number, Pending>();
  const load = new Map<Worker, number>();
  const workers: Worker[] = [];
  /** Threads that have loaded and compiled the view. */
  const ready = new Set<Worker>();
  let local: { view: CompiledView; accept: ((r: Record<string, unknown>) => boolean) | undefined } | undefined;
  let failure: Error | undefined;
  const fail = (w: Worker, e: Error): void => {
    failure ??= e;
    ready.delete(w);
    for (const p of pending.values()) if (p.worker === w) p.reject(e);
  };
  const start = (): void => {
    for (let i = 0; i < Math.max(1, options.threads); i++) {
      // A small young generation bounds a thread's resident size at little cost in scavenges.
      const w = startThread(new URL('./view-thread.js', import.meta.url), { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
      w.on('message', (m: ThreadReply) => {
        if ('ready' in m) {
          ready.add(w);
          return;
        }
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
  };
  if (inline === 0) start();

  /** Sends a batch to the least busy thread, or evaluates it here (answering true). */
  const dispatch = (seq: number, batch: string[]): boolean => {
    if (failure) throw failure;
    if (seq === inline && inline > 0) start();
    const candidates = ready.size > 0 ? [...ready] : inline === 0 ? workers : [];
    if (candidates.length === 0) {
      local ??= { view: compileView(definition), accept: options.members ? memberFilter(options.members) : undefined };
      const { bytes, rows } = encodeTexts(local.view, encoding, batch, local.accept);
      pending.set(seq, { promise: Promise.resolve({ text: bytes, rows, resources: batch.length }), resolve: () => undefined, reject: () => undefined, worker: undefined });
      return true;
    }
    let worker = candidates[0] as Worker;
    for (const w of candidates) if ((load.get(w) ?? 0) < (load.get(worker) ?? 0)) worker = w;
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
    return false;
  };

  const input = texts[Symbol.asyncIterator]();
  const limit = Math.max(1, options.threads) * IN_FLIGHT_PER_THREAD;
  let sent = 0;
  let received = 0;
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && sent - received < limit) {
        const next = await input.next();
        if (next.done) exhausted = true;
        // A store scan may never leave the microtask queue: after a batch evaluated here while threads start,
        // let their messages in.
        else if (next.value.length > 0 && dispatch(sent++, next.value) && workers.length > 0) await new Promise((r) => setImmediate(r));
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
  options: DuckDbOptions & { threads: number; header?: boolean; members?: string[]; inline?: number; onResources?: (n: number) => void },
): Promise<{ rows: number; bytes: number }> {
  const { threads, members, inline, onResources, ...write } = options;
  if (threads > 0) {
    const encoded = encodeInThreads(view.definition, format === 'parquet' ? 'staging' : format, resourceTexts(batches), {
      threads,
      ...(members ? { members } : {}),
      ...(inline !== undefined ? { inline } : {}),
      ...(onResources ? { onResources } : {}),
    });
    return writeEncodedToFile(format, view.columns, encoded, path, write);
  }
  const encoded = encodeStored(view, format === 'parquet' ? 'staging' : format, batches, { ...(members ? { members } : {}), ...(onResources ? { onResources } : {}) });
  return writeEncodedToFile(format, view.columns, encoded, path, write);
}
