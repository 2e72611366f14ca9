import { Readable } from 'node:stream';
import { isClinicalType } from '../fhir/resource-types.js';
import type { ObjectStorage } from '../storage/ports.js';
import type { ExportChunk, ExportFile, ExportJob, JobStore, ReferencedScanRequest, ResourceStore, ScanRequest, StoredResource } from '../store/ports.js';
import type { ExportParams } from './kickoff.js';
import type { Slice } from './planner.js';
import { runBlocksChunk } from './blocks.js';
import { transformFor } from './transform.js';

export interface ChunkLimits {
  maxFileResources: number;
  maxFileBytes: number;
}

export type ChunkFile = Omit<ExportFile, 'jobId' | 'chunkSeq'>;

/** Thrown when the job stopped (deleted) while one of its chunks ran. */
export class JobCancelled extends Error {
  constructor() {
    super('export job cancelled');
  }
}

export const objectPrefix = (jobId: string): string => `jobs/${jobId}/`;

/** Removes a job marked deleted: its objects, then every trace of it in the store. */
export async function purgeDeletedJob(jobs: JobStore, storage: ObjectStorage, jobId: string): Promise<void> {
  await storage.deletePrefix(objectPrefix(jobId));
  await jobs.purgeJob(jobId);
}

const DELETED_PER_BUNDLE = 500;

/** An NDJSON line without its newline: text, or the stored UTF-8 bytes as a store read them. */
type Line = string | Buffer;

/**
 * Lines as the bytes of a file, each followed by a newline. Written straight into one buffer: joining the batch
 * into one string first would make a second copy of it on the heap, large enough to be allocated as a large
 * object and kept until a full collection.
 */
export function encodeLines(lines: Line[]): Buffer {
  // Sized by characters, which is exact when every line is ASCII (stored JSON nearly always is); a line that
  // writes another number of bytes than it has characters holds other text, and the batch is measured exactly.
  let chars = lines.length;
  for (const l of lines) chars += l.length;
  const guess = Buffer.allocUnsafe(chars);
  let pos = 0;
  let exact = true;
  for (const l of lines) {
    const n = typeof l === 'string' ? guess.write(l, pos) : l.copy(guess, pos);
    if (n !== l.length) {
      exact = false;
      break;
    }
    pos += n;
    guess[pos++] = 0x0a;
  }
  if (exact) return guess;
  let size = 0;
  for (const l of lines) size += Buffer.byteLength(l) + 1;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const l of lines) {
    at += typeof l === 'string' ? out.write(l, at) : l.copy(out, at);
    out[at++] = 0x0a;
  }
  return out;
}

/** What a chunk reads, as a store request; undefined for slices that read nothing or read through filters. */
function scanOf(job: ExportJob, params: ExportParams, chunk: ExportChunk, until: number): { scan: ScanRequest } | { referenced: ReferencedScanRequest } | undefined {
  const slice = chunk.slice as Slice;
  const base = { tenant: job.tenant, type: chunk.type, until, ...(params.since !== undefined ? { since: params.since } : {}) };
  const byPatients = job.kind !== 'system';
  switch (slice.mode) {
    case 'compartment':
      return {
        scan: {
          ...base,
          patients: { jobId: job.id, ...(slice.from !== undefined ? { from: slice.from } : {}), ...(slice.to !== undefined ? { to: slice.to } : {}) },
        },
      };
    case 'ids':
      return { scan: { ...base, ids: { ...(slice.after !== undefined ? { after: slice.after } : {}), ...(slice.to !== undefined ? { to: slice.to } : {}) } } };
    case 'deleted':
      return { scan: { ...base, deleted: true, ...(byPatients ? { patients: { jobId: job.id } } : {}) } };
    case 'referenced': {
      const sourceTypes = params.types.filter(isClinicalType);
      if (chunk.type !== 'Provenance' && sourceTypes.some((t) => params.typeFilters[t])) return undefined;
      return {
        referenced: {
          ...base,
          sourceTypes,
          ...(byPatients ? { jobId: job.id } : {}),
          ...(chunk.type === 'Provenance' && params.provenance === 'latest' ? { latestOnly: true } : {}),
        },
      };
    }
    case 'warnings':
    case 'plan':
    case 'blocks':
      return undefined;
  }
}

function rowsFor(resources: ResourceStore, job: ExportJob, params: ExportParams, chunk: ExportChunk, until: number): AsyncIterable<StoredResource[]> {
  const request = scanOf(job, params, chunk, until);
  if (request) return 'scan' in request ? resources.scan(request.scan) : resources.scanReferenced(request.referenced);
  if ((chunk.slice as Slice).mode === 'referenced') {
    return referencedByFiltered(resources, job, params, chunk.type, params.types.filter(isClinicalType), until);
  }
  return (async function* () {})();
}

/**
 * Location, Organization or Practitioner referenced by the resources a job exports when some source types are
 * filtered: the store answers for the unfiltered source types; the filtered ones are scanned, matched, and their
 * references collected, so nothing referenced only by filtered-out resources is exported.
 */
async function* referencedByFiltered(
  resources: ResourceStore,
  job: ExportJob,
  params: ExportParams,
  type: string,
  sourceTypes: string[],
  until: number,
): AsyncIterable<StoredResource[]> {
  const since = params.since !== undefined ? { since: params.since } : {};
  const seen = new Set<string>();
  const unfiltered = sourceTypes.filter((t) => !params.typeFilters[t]);
  if (unfiltered.length > 0) {
    for await (const batch of resources.scanReferenced({ tenant: job.tenant, type, until, ...since, sourceTypes: unfiltered, jobId: job.id })) {
      for (const r of batch) seen.add(r.id);
      yield batch;
    }
  }
  const { compileTypeFilters, matchesAny } = await import('../fhir/search-filter.js');
  const pattern = new RegExp(`"reference":"(?:[^"]*/)?${type}/([A-Za-z0-9\\-.]{1,64})(?:/_history/[^"]*)?"`, 'g');
  const wanted = new Set<string>();
  for (const source of sourceTypes.filter((t) => params.typeFilters[t])) {
    const filters = compileTypeFilters(params.typeFilters[source] ?? []);
    // The sources as exported (not only those changed since `_since`: an unchanged source still references).
    for await (const batch of resources.scan({ tenant: job.tenant, type: source, until, patients: { jobId: job.id } })) {
      for (const r of batch) {
        if (!r.json || !r.json.includes(`${type}/`) || !matchesAny(JSON.parse(r.json) as object, filters)) continue;
        for (const m of r.json.matchAll(pattern)) if (!seen.has(m[1] as string)) wanted.add(m[1] as string);
      }
    }
  }
  let batch: StoredResource[] = [];
  for (const id of [...wanted].sort()) {
    const r = await resources.readAt(job.tenant, type, id, until);
    if (!r || r.deleted || !r.json || (params.since !== undefined && r.lastUpdated <= params.since)) continue;
    batch.push(r);
    if (batch.length >= 500) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

const TARGET_REFERENCE = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

/**
 * With `_typeFilter`, only Provenance whose targets include a resource the filters let through: each target of a
 * filtered type is read as of the snapshot and matched (targets of unfiltered types pass as they are).
 */
export async function* provenanceOfFiltered(
  resources: ResourceStore,
  tenant: string,
  until: number,
  typeFilters: Record<string, string[]>,
  rows: AsyncIterable<StoredResource[]>,
): AsyncIterable<StoredResource[]> {
  const { compileTypeFilters, matchesAny } = await import('../fhir/search-filter.js');
  const filters = new Map(Object.entries(typeFilters).map(([type, queries]) => [type, compileTypeFilters(queries)]));
  const verdicts = new Map<string, boolean>();
  const passes = async (type: string, id: string): Promise<boolean> => {
    const list = filters.get(type);
    if (!list) return true;
    const key = `${type}/${id}`;
    let verdict = verdicts.get(key);
    if (verdict === undefined) {
      const target = await resources.readAt(tenant, type, id, until);
      verdict = !!target?.json && !target.deleted && matchesAny(JSON.parse(target.json) as object, list);
      if (verdicts.size > 100_000) verdicts.clear();
      verdicts.set(key, verdict);
    }
    return verdict;
  };
  for await (const batch of rows) {
    const kept: StoredResource[] = [];
    for (const row of batch) {
      const targets = ((JSON.parse(row.json ?? '{}') as { target?: { reference?: string }[] }).target ?? [])
        .map((t) => (typeof t?.reference === 'string' ? TARGET_REFERENCE.exec(t.reference) : null))
        .filter((m) => m !== null);
      let keep = false;
      for (const m of targets) {
        if (await passes(m[1] as string, m[2] as string)) {
          keep = true;
          break;
        }
      }
      if (keep) kept.push(row);
    }
    if (kept.length > 0) yield kept;
  }
}

/** Turns rows into NDJSON lines (strings without the newline). */
async function* linesFor(
  rows: AsyncIterable<StoredResource[]>,
  chunk: ExportChunk,
  transform: ((json: string) => string | null) | null,
  errors: string[],
): AsyncIterable<string[]> {
  const slice = chunk.slice as Slice;
  if (slice.mode === 'deleted') {
    let entries: string[] = [];
    const flush = (): string => {
      const bundle = `{"resourceType":"Bundle","type":"transaction","entry":[${entries.join(',')}]}`;
      entries = [];
      return bundle;
    };
    for await (const batch of rows) {
      const out: string[] = [];
      for (const r of batch) {
        entries.push(JSON.stringify({ request: { method: 'DELETE', url: `${r.type}/${r.id}` } }));
        if (entries.length >= DELETED_PER_BUNDLE) out.push(flush());
      }
      if (out.length > 0) yield out;
    }
    if (entries.length > 0) yield [flush()];
    return;
  }
  for await (const batch of rows) {
    const out: string[] = [];
    for (const r of batch) {
      if (r.json === null) continue;
      if (!transform) {
        out.push(r.json);
        continue;
      }
      try {
        const line = transform(r.json);
        if (line !== null) out.push(line);
      } catch (e) {
        errors.push(`${r.type}/${r.id} could not be exported: ${(e as Error).message}`);
      }
    }
    if (out.length > 0) yield out;
  }
}

/** Transformed JSON lines (a resource the transform drops or cannot handle is left out; the latter with an error). */
async function* transformed(batches: AsyncIterable<Line[]>, transform: (json: string) => string | null, errors: string[]): AsyncIterable<string[]> {
  for await (const batch of batches) {
    const out: string[] = [];
    for (const line of batch) {
      const json = typeof line === 'string' ? line : line.toString('utf8');
      try {
        const line = transform(json);
        if (line !== null) out.push(line);
      } catch (e) {
        errors.push(`${lineName(json)} could not be exported: ${(e as Error).message}`);
      }
    }
    if (out.length > 0) yield out;
  }
}

/**
 * With a client's `_maximumFileSize`, a resource whose line alone is larger than a file may be is not exported
 * (an error says so) rather than written to an oversized file.
 */
export async function* withinFileSize<T>(
  batches: AsyncIterable<T[]>,
  maxBytes: number,
  errors: string[],
  size: (item: T) => { bytes: number; what: string },
): AsyncIterable<T[]> {
  for await (const batch of batches) {
    const kept = batch.filter((item) => {
      const { bytes, what } = size(item);
      if (bytes <= maxBytes) return true;
      errors.push(`${what} is larger (${bytes} bytes) than _maximumFileSize (${maxBytes} bytes) allows a file to be; it is not exported.`);
      return false;
    });
    if (kept.length > 0) yield kept;
  }
}

/** Names a resource line in an error (its type and id, when near the start). */
export const lineName = (line: string | Buffer): string => {
  const m = /"resourceType":"([A-Za-z]+)"(?:.*?)"id":"([^"]+)"/.exec(typeof line === 'string' ? line.slice(0, 300) : line.subarray(0, 300).toString());
  return m ? `${m[1]}/${m[2]}` : 'A resource';
};

export const outcomeLine = (severity: 'error' | 'warning', code: string, diagnostics: string): string =>
  JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics }] });

export interface RunChunkDeps {
  resources: ResourceStore;
  storage: ObjectStorage;
  limits: ChunkLimits;
  /** Throws JobCancelled when the job has stopped; called between batches. */
  checkCancelled: () => Promise<void>;
  onProgress?: (lines: number) => void;
  /** For $sql-export chunks: the embedded DuckDB's memory limit (FLATFHIR_VIEWS_DUCKDB_MEMORY_LIMIT). */
  duckdb?: { memoryLimit?: string };
}

/**
 * Runs one chunk: streams its rows from the store into NDJSON objects bounded by lines and bytes, each written
 * to a temporary object and committed atomically under a name derived from (job, chunk, part), so a rerun of
 * the chunk rewrites exactly the same objects. Returns the files and the number of resources written.
 */
export async function runChunk(deps: RunChunkDeps, job: ExportJob, chunk: ExportChunk): Promise<{ files: ChunkFile[]; count: number }> {
  const params = job.params as ExportParams;
  const slice = chunk.slice as Slice;
  const until = params.until !== undefined ? Math.min(params.until, job.transactionTime) : job.transactionTime;
  if (params.maxFileSize !== undefined) deps = { ...deps, limits: { ...deps.limits, maxFileBytes: Math.min(deps.limits.maxFileBytes, params.maxFileSize) } };
  if (params.views !== undefined && slice.mode !== 'warnings') {
    // An $sql-export job (src/views): the same slices at the same snapshot, evaluated through its ViewDefinitions.
    const { runViewChunk } = await import('../views/export-job.js');
    return runViewChunk(deps, job, chunk, () => rowsFor(deps.resources, job, params, chunk, until));
  }
  if (slice.mode === 'blocks') return runBlocksChunk(deps, job, chunk, until);
  const errors: string[] = [];
  const files: ChunkFile[] = [];
  const kind: ChunkFile['kind'] = slice.mode === 'deleted' ? 'deleted' : slice.mode === 'warnings' ? 'error' : 'output';
  const seq = String(chunk.seq).padStart(4, '0');
  const fileBase = `${job.id}-${chunk.type}-${seq}`;

  let source: AsyncIterator<Line[]>;
  if (slice.mode === 'warnings') {
    const lines = params.warnings.map((w) => outcomeLine('warning', 'not-supported', w));
    source = (async function* () {
      yield lines;
    })()[Symbol.asyncIterator]();
  } else {
    const transform =
      slice.mode === 'deleted'
        ? null
        : await transformFor(chunk.type, {
            fhirBase: params.fhirBase ?? '',
            ...(params.elements ? { elements: params.elements } : {}),
            ...(params.typeFilters[chunk.type] ? { typeFilters: params.typeFilters[chunk.type] } : {}),
          });
    const filtered = Object.keys(params.typeFilters).length > 0;
    // Live rows (not Provenance filtered by its targets) are read as their JSON alone, when the store can.
    const direct = slice.mode !== 'deleted' && !(chunk.type === 'Provenance' && filtered) && deps.resources.scanJson ? scanOf(job, params, chunk, until) : undefined;
    let lines: AsyncIterable<Line[]>;
    if (direct && deps.resources.scanJson) {
      const json = deps.resources.scanJson(direct);
      lines = transform ? transformed(json, transform, errors) : json;
    } else {
      let rows = rowsFor(deps.resources, job, params, chunk, until);
      if (chunk.type === 'Provenance' && filtered) rows = provenanceOfFiltered(deps.resources, job.tenant, until, params.typeFilters, rows);
      lines = linesFor(rows, chunk, transform, errors);
    }
    source = (params.maxFileSize !== undefined ? withinFileSize(lines, deps.limits.maxFileBytes, errors, (line) => ({ bytes: Buffer.byteLength(line) + 1, what: lineName(line) })) : lines)[Symbol.asyncIterator]();
  }

  let pending: Line[] = [];
  let exhausted = false;
  const next = async (): Promise<boolean> => {
    if (pending.length > 0) return true;
    if (exhausted) return false;
    await deps.checkCancelled();
    const r = await source.next();
    if (r.done) {
      exhausted = true;
      return false;
    }
    pending = r.value;
    return true;
  };

  let total = 0;
  let part = 0;
  try {
    while (await next()) {
      let lines = 0;
      let bytes = 0;
      const body = async function* (): AsyncIterable<Buffer> {
        while (await next()) {
          // Fast path: the whole batch fits the current part (encoded once, written as is).
          const whole = encodeLines(pending);
          if (lines + pending.length <= deps.limits.maxFileResources && bytes + whole.length <= deps.limits.maxFileBytes) {
            lines += pending.length;
            bytes += whole.length;
            deps.onProgress?.(pending.length);
            pending = [];
            yield whole;
            continue;
          }
          let take = 0;
          let size = 0;
          while (take < pending.length) {
            const len = Buffer.byteLength(pending[take] as Line) + 1;
            if (lines + take >= deps.limits.maxFileResources) break;
            if (lines + take > 0 && bytes + size + len > deps.limits.maxFileBytes) break;
            size += len;
            take++;
          }
          if (take === 0) return;
          const out = pending.slice(0, take);
          pending = pending.slice(take);
          lines += take;
          bytes += size;
          deps.onProgress?.(take);
          yield encodeLines(out);
          if (pending.length > 0) return;
        }
      };
      const id = `${fileBase}-${part}`;
      const key = `${objectPrefix(job.id)}${seq}-${part}.${chunk.type}.ndjson`;
      const written = await deps.storage.put(key, body());
      files.push({ id, kind, type: chunk.type, part, objectKey: key, count: lines, bytes: written.bytes });
      if (kind === 'output') total += lines;
      part++;
    }
  } finally {
    // A chunk that failed midway (storage full, say) closes its scan, so the store releases the connection.
    await source.return?.();
  }

  if (errors.length > 0) {
    const key = `${objectPrefix(job.id)}${seq}-errors.ndjson`;
    const body = `${errors.map((e) => outcomeLine('error', 'processing', e)).join('\n')}\n`;
    const written = await deps.storage.put(key, Readable.from([body]));
    files.push({ id: `${fileBase}-errors`, kind: 'error', type: 'OperationOutcome', part, objectKey: key, count: errors.length, bytes: written.bytes });
  }
  return { files, count: total };
}
