import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidTenantId, TENANT_ID_RULE } from '../fhir/ids.js';
import type { ResourceStore } from '../store/ports.js';
import type { PreparedResource } from '../fhir/resource.js';
import { startThread } from '../threads/start-thread.js';
import { type ParseEvent, parseFiles } from './parse.js';

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
  batchSize?: number;
  maxGroupMembers: number;
  maxReported?: number;
  /** Parse on a worker thread while this thread writes (default), or here. */
  thread?: boolean;
  onProgress?: (progress: { file: string; resources: number; bytes: number; totalBytes: number }) => void;
}

/**
 * Heap bound of the parsing thread. NDJSON needs little (batches are small and acknowledged one by one); a Bundle
 * file is parsed whole, so the bound is generous, and reaching it is reported as an error.
 */
const PARSE_THREAD_HEAP_MB = 1024;

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

/** Parse events from a worker thread, acknowledged one message at a time (the thread keeps a few in flight). */
async function* parseInThread(files: string[], options: { maxGroupMembers: number; batchSize: number }): AsyncIterable<ParseEvent> {
  const worker = startThread(new URL('./parse-thread.js', import.meta.url), {
    workerData: { files, ...options },
    resourceLimits: { maxOldGenerationSizeMb: PARSE_THREAD_HEAP_MB },
  });
  const queue: ({ events: ParseEvent[] } | { done: true } | { error: Error })[] = [];
  let wake: (() => void) | undefined;
  const push = (m: (typeof queue)[number]): void => {
    queue.push(m);
    wake?.();
  };
  worker.on('message', (m: { events: ParseEvent[] } | { done: true }) => push(m));
  worker.on('error', (e: Error & { code?: string }) =>
    push({
      error:
        e.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new Error(`the import parser ran out of memory (${PARSE_THREAD_HEAP_MB} MB): split very large Bundle files, or import NDJSON`)
          : e,
    }),
  );
  worker.on('exit', (code) => push(code === 0 ? { done: true } : { error: new Error(`the import parser stopped (exit code ${code})`) }));
  try {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      const m = queue.shift() as (typeof queue)[number];
      if ('error' in m) throw m.error;
      if ('done' in m) return;
      yield* m.events;
      worker.postMessage('ack');
    }
  } finally {
    await worker.terminate();
  }
}

/**
 * Imports NDJSON files (`.ndjson`, `.ndjson.gz`), FHIR Bundles (`.json`, `.json.gz`) and directories of them.
 * Streams; parses on a worker thread while this thread writes atomic batches; skips and reports what is
 * malformed, with file and line.
 */
export async function importPaths(options: ImportOptions): Promise<ImportResult> {
  const batchSize = options.batchSize ?? 2000;
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

  const files = await listFiles(options.paths);
  result.files = files.length;
  const parse = { maxGroupMembers: options.maxGroupMembers, batchSize };
  const events = options.thread === false ? parseFiles(files, parse) : parseInThread(files, parse);
  for await (const event of events) {
    switch (event.kind) {
      case 'resources':
        await write(event.items);
        break;
      case 'reject':
        result.rejectedCount++;
        if (result.rejected.length < maxReported) result.rejected.push({ file: event.file, line: event.line, message: event.message });
        break;
      case 'delete':
        if (await options.resources.deleteResource(options.tenant, event.type, event.id)) countsFor(event.type).deleted++;
        break;
      case 'progress':
        options.onProgress?.({ file: event.file, resources: result.accepted, bytes: event.bytes, totalBytes: event.totalBytes });
        break;
    }
  }
  // The planner's statistics would otherwise still describe the tables as they were before the import.
  await options.resources.refreshStatistics();
  return result;
}
