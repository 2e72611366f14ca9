import { availableParallelism } from 'node:os';
import { readdir, stat } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { isValidTenantId, TENANT_ID_RULE } from '../fhir/ids.js';
import type { ResourceStore } from '../store/ports.js';
import type { PreparedResource } from '../fhir/resource.js';
import { startThread } from '../threads/start-thread.js';
import { type ParseEvent, parseFiles, planTasks, TaskAssembler, type TaskEvent } from './parse.js';
import { unpackResources, type WireBatch } from './wire.js';

export interface Rejection {
  file: string;
  /** 1-based line (NDJSON) or entry index (Bundle, as `entry[i]`). */
  line: number | string;
  message: string;
}

export interface ImportResult {
  /** Per type: resources created, updated (content changed), unchanged and deleted. */
  counts: Record<string, { created: number; updated: number; unchanged: number; deleted: number }>;
  accepted: number;
  rejected: Rejection[];
  /** Rejections beyond the first `maxReported` are counted but not kept. */
  rejectedCount: number;
  files: number;
}

export interface ImportOptions {
  resources: ResourceStore;
  tenant: string;
  paths: string[];
  /** Resources per atomic write (default `DEFAULT_BATCH_SIZE`); a write also ends at a file's end, at a delete and at 16 MB. */
  batchSize?: number;
  maxGroupMembers: number;
  maxReported?: number;
  /** Parse on worker threads while this thread writes (default), or here. */
  thread?: boolean;
  /** Parsing threads (default: one less than the machine runs in parallel, at least 1, at most 3). */
  parseThreads?: number;
  /** Plain NDJSON files are parsed in line-aligned ranges of about this many bytes, spread over the threads (default 8 MB). */
  rangeBytes?: number;
  onProgress?: (progress: { file: string; resources: number; bytes: number; totalBytes: number }) => void;
}

/**
 * Heap bound of the parsing thread. NDJSON needs little (batches are small and acknowledged one by one); a Bundle
 * file is parsed whole, so the bound is generous, and reaching it is reported as an error.
 */
const PARSE_THREAD_HEAP_MB = 1024;
/**
 * Young generation of the parsing thread: parsing makes much short-lived garbage, and each collection of the young
 * generation copies what is still in flight, so fewer, larger ones cost less (a fixed bound, whatever the input).
 */
const PARSE_THREAD_YOUNG_MB = 48;
const MAX_PARSE_THREADS = 3;
/**
 * Resources per atomic write. Larger writes are no faster (measured: 1,000 and 2,000 import 239,000 Synthea
 * resources at the same rate), and the resources waiting for a write are what the importing process holds most of:
 * its peak RSS was 265–300 MB at 1,000 against 315–340 MB at 2,000.
 */
export const DEFAULT_BATCH_SIZE = 1000;
/**
 * Resources per message of the parser: small, so that few are in flight however large a write is, and so that the
 * parser's young generation holds little of a batch when it is collected (measured on 239,000 Synthea resources:
 * 250 a message took about 8% less CPU than 1,000, 500 more).
 */
const PARSE_BATCH = 250;
/** A write ends when the JSON of its resources reaches this many characters, whatever the batch size. */
const MAX_BATCH_CHARS = 16 * 1024 * 1024;

async function listFiles(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const s = await stat(p);
    if (s.isDirectory()) {
      const entries = (await readdir(p)).sort();
      out.push(...(await listFiles(entries.map((e) => join(p, e)).filter((e) => /\.(ndjson|json)(\.gz)?$/.test(e)))));
    } else {
      out.push(p);
    }
  }
  return out;
}

/** Messages of one parsing thread, in the order it sent them. */
class ParseThread {
  private readonly queue: ({ index: number; events: TaskEvent[] } | { done: true } | { error: Error })[] = [];
  private wake: (() => void) | undefined;
  private readonly worker: Worker;

  constructor(workerData: object) {
    this.worker = startThread(new URL('./parse-thread.js', import.meta.url), {
      workerData,
      resourceLimits: { maxOldGenerationSizeMb: PARSE_THREAD_HEAP_MB, maxYoungGenerationSizeMb: PARSE_THREAD_YOUNG_MB },
    });
    this.worker.on('message', (m: { index: number; events: TaskEvent[] } | { done: true }) => this.push(m));
    this.worker.on('error', (e: Error & { code?: string }) =>
      this.push({
        error:
          e.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? new Error(`the import parser ran out of memory (${PARSE_THREAD_HEAP_MB} MB): split very large Bundle files, or import NDJSON`)
            : e,
      }),
    );
    this.worker.on('exit', (code) => this.push(code === 0 ? { done: true } : { error: new Error(`the import parser stopped (exit code ${code})`) }));
  }

  private push(m: (typeof this.queue)[number]): void {
    this.queue.push(m);
    this.wake?.();
  }

  /** The events of the next message (acknowledged at once, so the thread parses on), or undefined when it is done. */
  async next(): Promise<{ index: number; events: TaskEvent[] } | undefined> {
    while (this.queue.length === 0) await new Promise<void>((r) => (this.wake = r));
    const m = this.queue.shift() as (typeof this.queue)[number];
    if ('error' in m) throw m.error;
    if ('done' in m) return undefined;
    this.worker.postMessage('ack');
    for (const event of m.events) if (event.kind === 'resources') event.items = unpackResources(event.items as unknown as WireBatch);
    return m;
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * Parse events from worker threads. Task i goes to thread i mod n; the tasks' events are taken back in plan
 * order, each thread parsing ahead (up to `maxInFlight` unread messages) while this thread writes.
 */
async function* parseInThreads(
  files: string[],
  options: { maxGroupMembers: number; batchSize: number; maxInFlight: number; threads: number; rangeBytes?: number },
): AsyncIterable<ParseEvent> {
  const tasks = await planTasks(files, options.rangeBytes);
  const n = Math.max(1, Math.min(options.threads, tasks.length));
  const threads = Array.from(
    { length: n },
    (_, t) =>
      new ParseThread({
        tasks: tasks.flatMap((task, index) => (index % n === t ? [{ index, task }] : [])),
        maxGroupMembers: options.maxGroupMembers,
        batchSize: options.batchSize,
        maxInFlight: options.maxInFlight,
      }),
  );
  const assembler = new TaskAssembler(tasks);
  try {
    for (let index = 0; index < tasks.length; index++) {
      const thread = threads[index % n] as ParseThread;
      for (let done = false; !done; ) {
        const m = await thread.next();
        if (!m || m.index !== index) throw new Error('the import parser lost its place');
        for (const event of m.events) {
          if (event.kind === 'done') done = true;
          yield* assembler.accept(index, event);
        }
      }
    }
  } finally {
    await Promise.all(threads.map((t) => t.stop()));
  }
}

/**
 * Imports NDJSON files (`.ndjson`, `.ndjson.gz`), FHIR Bundles (`.json`, `.json.gz`) and directories of them.
 * Streams; parses on a worker thread while this thread writes atomic batches; skips and reports what is
 * malformed, with file and line.
 */
export async function importPaths(options: ImportOptions): Promise<ImportResult> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const maxReported = options.maxReported ?? 1000;
  const result: ImportResult = { counts: {}, accepted: 0, rejected: [], rejectedCount: 0, files: 0 };
  if (!isValidTenantId(options.tenant)) throw new Error(`${JSON.stringify(options.tenant)} is not a valid tenant id: ${TENANT_ID_RULE}.`);
  await options.resources.ensureTenant(options.tenant);
  const countsFor = (type: string) => (result.counts[type] ??= { created: 0, updated: 0, unchanged: 0, deleted: 0 });

  const write = async (items: PreparedResource[]): Promise<void> => {
    // The last occurrence of a resource in a batch wins; each type is written as one atomic batch (for counts).
    const byType = new Map<string, Map<string, PreparedResource>>();
    for (const item of items) {
      let m = byType.get(item.type);
      if (!m) byType.set(item.type, (m = new Map()));
      m.set(item.id, item);
    }
    for (const [type, m] of byType) {
      const w = await options.resources.writeBatch(options.tenant, [...m.values()]);
      const c = countsFor(type);
      c.created += w.created;
      c.updated += w.updated;
      c.unchanged += w.unchanged;
      result.accepted += m.size;
    }
  };

  // Parsed resources wait here until a write is full (fewer, larger transactions: each commit and each rewrite of
  // an index's hot pages is paid once per write, not once per parser message).
  let pending: PreparedResource[] = [];
  let pendingChars = 0;
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const items = pending;
    pending = [];
    pendingChars = 0;
    await write(items);
  };

  const files = await listFiles(options.paths);
  result.files = files.length;
  const endBulkLoad = await options.resources.beginBulkLoad();
  try {
    await load();
  } finally {
    await endBulkLoad();
  }
  // The planner's statistics would otherwise still describe the tables as they were before the import.
  await options.resources.refreshStatistics();
  return result;

  async function load(): Promise<void> {
    const parse = { maxGroupMembers: options.maxGroupMembers, batchSize: Math.min(batchSize, PARSE_BATCH) };
    // Enough messages ahead to fill the next two writes while this one runs (threads that share cores with
    // others run unevenly; a deeper queue keeps this thread writing meanwhile).
    const maxInFlight = 2 * Math.ceil(batchSize / parse.batchSize) + 1;
    // One core stays for this thread's writes: on two cores a second parser only competes with the writer.
    const threads = options.parseThreads ?? Math.max(1, Math.min(MAX_PARSE_THREADS, availableParallelism() - 1));
    const events =
      options.thread === false
        ? parseFiles(files, { ...parse, rangeBytes: options.rangeBytes })
        : parseInThreads(files, { ...parse, maxInFlight, threads, rangeBytes: options.rangeBytes });
    for await (const event of events) {
      switch (event.kind) {
        case 'resources':
          for (const item of event.items) {
            pending.push(item);
            pendingChars += item.template[0].length + item.template[1].length;
            if (pending.length >= batchSize || pendingChars >= MAX_BATCH_CHARS) await flush();
          }
          break;
        case 'reject':
          result.rejectedCount++;
          if (result.rejected.length < maxReported) result.rejected.push({ file: event.file, line: event.line, message: event.message });
          break;
        case 'delete':
          await flush();
          if (await options.resources.deleteResource(options.tenant, event.type, event.id)) countsFor(event.type).deleted++;
          break;
        case 'progress':
          if (event.fileDone) await flush();
          options.onProgress?.({ file: event.file, resources: result.accepted, bytes: event.bytes, totalBytes: event.totalBytes });
          break;
      }
    }
    await flush();
  }
}
