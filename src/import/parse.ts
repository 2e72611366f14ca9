import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { open, readFile, stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, gunzipSync } from 'node:zlib';
import { memberCount } from '../fhir/group.js';
import { isFhirResourceType } from '../fhir/known-types.js';
import { isValidId, prepareResource } from '../fhir/prepare.js';
import type { FhirResource, PreparedResource } from '../fhir/resource.js';

/** What parsing input files yields, in order. */
export type ParseEvent =
  | { kind: 'resources'; items: PreparedResource[] }
  | { kind: 'reject'; file: string; line: number | string; message: string }
  | { kind: 'delete'; type: string; id: string }
  | { kind: 'progress'; file: string; bytes: number; totalBytes: number; fileDone: boolean };

const ATTACHMENT_HOLDERS: Record<string, (r: FhirResource) => Record<string, unknown>[]> = {
  DocumentReference: (r) =>
    (Array.isArray(r['content']) ? (r['content'] as Record<string, unknown>[]) : [])
      .map((c) => c?.['attachment'] as Record<string, unknown> | undefined)
      .filter((a): a is Record<string, unknown> => !!a && typeof a === 'object'),
  DiagnosticReport: (r) =>
    (Array.isArray(r['presentedForm']) ? (r['presentedForm'] as unknown[]) : []).filter(
      (a): a is Record<string, unknown> => !!a && typeof a === 'object',
    ),
};

/** Moves inline attachment data into Binary resources, leaving `url: Binary/{id}` (bulk files carry no inline data). */
export function extractAttachments(resource: FhirResource): FhirResource[] {
  const holders = ATTACHMENT_HOLDERS[resource.resourceType];
  if (!holders) return [];
  const binaries: FhirResource[] = [];
  for (const att of holders(resource)) {
    const data = att['data'];
    if (typeof data !== 'string') continue;
    const id = `att-${createHash('sha1').update(`${resource.resourceType}/${resource.id}\n`).update(data).digest('hex')}`;
    binaries.push({ resourceType: 'Binary', id, contentType: typeof att['contentType'] === 'string' ? att['contentType'] : 'application/octet-stream', data });
    delete att['data'];
    if (typeof att['url'] !== 'string') att['url'] = `Binary/${id}`;
  }
  return binaries;
}

/** Checks one parsed resource; returns why it is refused, if it is. */
export function validateResource(value: unknown, maxGroupMembers: number): string | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const r = value as Record<string, unknown>;
  if (typeof r['resourceType'] !== 'string') return 'resourceType is missing';
  if (!isFhirResourceType(r['resourceType'])) return `unknown resourceType "${String(r['resourceType']).slice(0, 64)}"`;
  if (r['id'] === undefined) return `${r['resourceType']} without id`;
  if (!isValidId(r['id'])) return `${r['resourceType']} id is not a valid FHIR id`;
  if (r['resourceType'] === 'Group' && memberCount(r) > maxGroupMembers) {
    return `Group/${r['id']} has ${memberCount(r)} members; the maximum is ${maxGroupMembers}`;
  }
  return undefined;
}

/**
 * Lines of a stream, pulled with backpressure (readline's async iterator queues lines without bound while the
 * consumer awaits, so memory would grow with the input).
 */
export async function* readLines(input: AsyncIterable<Buffer | string>): AsyncIterable<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of input) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      yield text.slice(start, end);
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  rest += decoder.end();
  if (rest.length > 0) yield rest;
}

/**
 * Rewrites `urn:uuid:` references of a Bundle to `Type/id`; returns the `urn:uuid:` references that name no entry
 * of the Bundle, with where they are (`Observation.subject`).
 */
function resolveReferences(node: unknown, map: Map<string, string>, path: string, dangling: { reference: string; path: string }[] = []): { reference: string; path: string }[] {
  if (Array.isArray(node)) {
    for (const item of node) resolveReferences(item, map, path, dangling);
  } else if (node && typeof node === 'object') {
    const obj = node as Record<string, unknown>;
    for (const [k, v] of Object.entries(obj)) {
      if (k === 'reference' && typeof v === 'string') {
        const target = map.get(v);
        if (target) obj[k] = target;
        else if (v.startsWith('urn:uuid:')) dangling.push({ reference: v, path });
      } else if (v && typeof v === 'object') {
        resolveReferences(v, map, `${path}.${k}`, dangling);
      }
    }
  }
  return dangling;
}

/** Remembers which resources one file gave, so that a second occurrence is reported rather than silently winning. */
class SeenInFile {
  private readonly first = new Map<string, number | string>();
  /** Where the resource first appeared in this file, if it did; else records `where`. */
  check(resource: { resourceType: string; id: string }, where: number | string): number | string | undefined {
    const key = `${resource.resourceType}/${resource.id}`;
    const before = this.first.get(key);
    if (before === undefined) this.first.set(key, where);
    return before;
  }
}

const duplicateMessage = (r: { resourceType: string; id: string }, first: number | string): string =>
  `${r.resourceType}/${r.id} appears again in this file (first at ${typeof first === 'number' ? `line ${first}` : first}); this occurrence is skipped`;

/**
 * A unit of parsing: a whole file, or a line-aligned byte range `[start, end)` of a plain NDJSON file (so that
 * several threads can parse one large file). Tasks are planned in file order; their events are put back in that
 * order by a `TaskAssembler`.
 */
export interface ParseTask {
  file: string;
  /** Byte range of a plain NDJSON file; `end` is -1 for a whole file. */
  start: number;
  end: number;
  /** Bytes the task covers. */
  size: number;
}

/** What parsing one task yields, in order. Lines are counted from the start of the task. */
export type TaskEvent =
  /** `lines[i]`: the line of `items[i]` (NDJSON; an extracted Binary shares the line of the resource it came from, which follows it). */
  | { kind: 'resources'; items: PreparedResource[]; lines?: number[] }
  /** `stopped`: reading the file stopped at this line (the assembler says so in the message, with the file's line). */
  | { kind: 'reject'; line: number | string; message: string; stopped?: boolean }
  | { kind: 'delete'; type: string; id: string }
  | { kind: 'progress'; bytes: number }
  | { kind: 'done'; lines: number };

const READ_BYTES = 256 * 1024;

/** Plain NDJSON files above this size are split into ranges of about this size. */
const RANGE_BYTES = 8 * 1024 * 1024;

/** The offset just after the first newline at or after `from` (the file's size if there is none). */
async function lineStartAfter(file: string, from: number, size: number): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(64 * 1024);
    for (let at = from; at < size; at += buffer.length) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, at);
      const nl = buffer.subarray(0, bytesRead).indexOf(10);
      if (nl >= 0) return at + nl + 1;
      if (bytesRead === 0) break;
    }
    return size;
  } finally {
    await handle.close();
  }
}

/** Splits the files into tasks: large plain `.ndjson` files into line-aligned ranges, every other file whole. */
export async function planTasks(files: string[], rangeBytes: number = RANGE_BYTES): Promise<ParseTask[]> {
  const tasks: ParseTask[] = [];
  for (const file of files) {
    const size = (await stat(file)).size;
    if (!file.endsWith('.ndjson') || size <= rangeBytes) {
      tasks.push({ file, start: 0, end: -1, size });
      continue;
    }
    let start = 0;
    while (start < size) {
      const end = start + rangeBytes >= size ? size : await lineStartAfter(file, start + rangeBytes - 1, size);
      tasks.push({ file, start, end, size: end - start });
      start = end;
    }
  }
  return tasks;
}

/**
 * Parses one task into prepared resources (in batches of about `batchSize`), rejections with the line (counted
 * from the task's start) or Bundle entry, and Bundle DELETE entries. A Bundle's repeated resources are found
 * here; an NDJSON file's by the assembler, which sees the whole file.
 */
export async function* parseTask(task: ParseTask, options: { maxGroupMembers: number; batchSize: number }): AsyncIterable<TaskEvent> {
  const { file } = task;
  const gz = file.endsWith('.gz');
  const name = gz ? file.slice(0, -3) : file;
  let items: PreparedResource[] = [];
  let lines: number[] = [];
  const add = (resource: FhirResource, line: number): void => {
    for (const binary of extractAttachments(resource)) {
      items.push(prepareResource(binary));
      lines.push(line);
    }
    items.push(prepareResource(resource));
    lines.push(line);
  };
  if (name.endsWith('.json')) {
    const seen = new SeenInFile();
    for await (const event of parseBundle(file, gz, options.maxGroupMembers)) {
      if (event.kind === 'resource') {
        const first = seen.check(event.resource, event.where);
        if (first !== undefined) yield { kind: 'reject', line: event.where, message: duplicateMessage(event.resource, first) };
        else add(event.resource, 0);
        continue;
      }
      if (event.kind === 'delete' && items.length > 0) {
        yield { kind: 'resources', items };
        items = [];
        lines = [];
      }
      yield event.kind === 'reject' ? { kind: 'reject', line: event.line, message: event.message } : event;
    }
    if (items.length > 0) yield { kind: 'resources', items };
    yield { kind: 'progress', bytes: task.size };
    yield { kind: 'done', lines: 0 };
    return;
  }
  // Reads of 256 KiB: a quarter of the system calls of the default 64 KiB.
  const raw = createReadStream(file, { highWaterMark: READ_BYTES, ...(task.end < 0 ? {} : { start: task.start, end: task.end - 1 }) });
  let read = 0;
  raw.on('data', (chunk) => {
    read += chunk.length;
  });
  // pipeline: a read error or corrupt gzip data ends the iteration with that error (pipe() would hang).
  const source = gz ? pipeline(raw, createGunzip(), () => undefined) : raw;
  let lineNo = 0;
  // Rejections go out in line order with the resources around them: the batch before a rejection is sent first.
  const flush = function* (): Iterable<TaskEvent> {
    if (items.length === 0) return;
    yield { kind: 'resources', items, lines };
    items = [];
    lines = [];
  };
  try {
    for await (const line of readLines(source)) {
      lineNo++;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (e) {
        yield* flush();
        yield { kind: 'reject', line: lineNo, message: `malformed JSON: ${(e as Error).message.slice(0, 120)}` };
        continue;
      }
      const problem = validateResource(value, options.maxGroupMembers);
      if (problem) {
        yield* flush();
        yield { kind: 'reject', line: lineNo, message: problem };
        continue;
      }
      add(value as FhirResource, lineNo);
      if (items.length >= options.batchSize) {
        yield* flush();
        yield { kind: 'progress', bytes: task.end < 0 ? read : Math.min(read, task.size) };
      }
    }
  } catch (e) {
    // What was read whole stays imported; the rest of the file cannot be read.
    yield* flush();
    const err = e as NodeJS.ErrnoException;
    const why = gz && err.code?.startsWith('Z_') ? `the gzip data is truncated or corrupt (${err.message})` : `the file could not be read (${err.code ?? err.message})`;
    yield { kind: 'reject', line: lineNo + 1, message: why, stopped: true };
  }
  yield* flush();
  yield { kind: 'progress', bytes: task.size };
  yield { kind: 'done', lines: lineNo };
}

/**
 * Puts the events of tasks, taken in plan order, back together as the events of whole files: lines counted from
 * the start of the file, an NDJSON file's repeated resources reported (the first occurrence is kept), progress
 * over all files.
 */
export class TaskAssembler {
  private file = '';
  private lineOffset = 0;
  private seen = new SeenInFile();
  private bytesDone = 0;
  private readonly totalBytes: number;

  constructor(private readonly tasks: readonly ParseTask[]) {
    this.totalBytes = tasks.reduce((n, t) => n + t.size, 0);
  }

  *accept(index: number, event: TaskEvent): Iterable<ParseEvent> {
    const task = this.tasks[index] as ParseTask;
    if (task.file !== this.file) {
      this.file = task.file;
      this.lineOffset = 0;
      this.seen = new SeenInFile();
    }
    const file = task.file;
    switch (event.kind) {
      case 'resources': {
        const lines = event.lines;
        if (!lines) {
          yield { kind: 'resources', items: event.items };
          return;
        }
        // Items of one line are consecutive, the resource last (after the Binary resources taken out of it).
        let kept: PreparedResource[] = [];
        for (let from = 0; from < event.items.length; ) {
          const line = lines[from] as number;
          let to = from + 1;
          while (to < event.items.length && lines[to] === line) to++;
          const resource = event.items[to - 1] as PreparedResource;
          const where = this.lineOffset + line;
          const first = this.seen.check({ resourceType: resource.type, id: resource.id }, where);
          if (first === undefined) {
            for (let i = from; i < to; i++) kept.push(event.items[i] as PreparedResource);
          } else {
            if (kept.length > 0) yield { kind: 'resources', items: kept };
            kept = [];
            yield { kind: 'reject', file, line: where, message: duplicateMessage({ resourceType: resource.type, id: resource.id }, first) };
          }
          from = to;
        }
        if (kept.length > 0) yield { kind: 'resources', items: kept };
        return;
      }
      case 'reject': {
        const line = typeof event.line === 'number' ? this.lineOffset + event.line : event.line;
        const message = event.stopped ? `${event.message}; reading stopped at line ${line}, lines before it were read` : event.message;
        yield { kind: 'reject', file, line, message };
        return;
      }
      case 'delete':
        yield event;
        return;
      case 'progress':
        yield { kind: 'progress', file, bytes: this.bytesDone + event.bytes, totalBytes: this.totalBytes, fileDone: false };
        return;
      case 'done': {
        this.lineOffset += event.lines;
        this.bytesDone += task.size;
        const next = this.tasks[index + 1];
        if (!next || next.file !== file) yield { kind: 'progress', file, bytes: this.bytesDone, totalBytes: this.totalBytes, fileDone: true };
        return;
      }
    }
  }
}

/**
 * Parses NDJSON files (`.ndjson`, `.ndjson.gz`) and FHIR Bundles (`.json`, `.json.gz`) into prepared resources
 * (in batches of about `batchSize`), rejections with file and line, and Bundle DELETE entries, on this thread.
 */
export async function* parseFiles(
  files: string[],
  options: { maxGroupMembers: number; batchSize: number; rangeBytes?: number },
): AsyncIterable<ParseEvent> {
  const tasks = await planTasks(files, options.rangeBytes);
  const assembler = new TaskAssembler(tasks);
  for (const [index, task] of tasks.entries()) {
    for await (const event of parseTask(task, options)) yield* assembler.accept(index, event);
  }
}

type BundleEvent = { kind: 'resource'; resource: FhirResource; where: number | string } | Extract<ParseEvent, { kind: 'reject' | 'delete' }>;

function* parseBundleEntries(file: string, bundle: unknown, maxGroupMembers: number): Iterable<BundleEvent> {
  const b = bundle as { resourceType?: unknown; entry?: unknown };
  if (!b || typeof b !== 'object' || b.resourceType !== 'Bundle') {
    // A single resource in a .json file.
    const problem = validateResource(bundle, maxGroupMembers);
    if (problem) yield { kind: 'reject', file, line: 1, message: problem };
    else yield { kind: 'resource', resource: bundle as FhirResource, where: 1 };
    return;
  }
  const entries = Array.isArray(b.entry) ? (b.entry as Record<string, unknown>[]) : [];
  const map = new Map<string, string>();
  for (const e of entries) {
    const r = e?.['resource'] as Record<string, unknown> | undefined;
    const fullUrl = e?.['fullUrl'];
    if (!r || typeof r['resourceType'] !== 'string') continue;
    if (r['id'] === undefined && typeof fullUrl === 'string' && fullUrl.startsWith('urn:uuid:')) r['id'] = fullUrl.slice(9);
    if (typeof fullUrl === 'string' && typeof r['id'] === 'string') map.set(fullUrl, `${r['resourceType']}/${r['id']}`);
  }
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as Record<string, unknown>;
    const where = `entry[${i}]`;
    const request = e?.['request'] as { method?: string; url?: string } | undefined;
    if (request?.method === 'DELETE') {
      const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(request.url ?? '');
      if (!m) yield { kind: 'reject', file, line: where, message: 'DELETE entry without a Type/id url' };
      else yield { kind: 'delete', type: m[1] as string, id: m[2] as string };
      continue;
    }
    const resource = e?.['resource'];
    const problem = validateResource(resource, maxGroupMembers);
    if (problem) {
      yield { kind: 'reject', file, line: where, message: problem };
      continue;
    }
    const dangling = resolveReferences(resource, map, (resource as FhirResource).resourceType);
    if (dangling.length > 0) {
      const list = dangling.slice(0, 5).map((d) => `"${d.reference}" (${d.path})`).join(', ');
      yield { kind: 'reject', file, line: where, message: `reference ${list}${dangling.length > 5 ? ', …' : ''} resolves to no entry of the Bundle` };
      continue;
    }
    yield { kind: 'resource', resource: resource as FhirResource, where };
  }
}

async function* parseBundle(file: string, gz: boolean, maxGroupMembers: number): AsyncIterable<BundleEvent> {
  let bundle: unknown;
  try {
    const raw = await readFile(file);
    bundle = JSON.parse((gz ? gunzipSync(raw) : raw).toString('utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code?.startsWith('Z_')
      ? `the gzip data is truncated or corrupt (${err.message})`
      : err.code
        ? `the file could not be read (${err.code})`
        : `malformed JSON: ${err.message.slice(0, 120)}`;
    yield { kind: 'reject', file, line: 1, message: why };
    return;
  }
  yield* parseBundleEntries(file, bundle, maxGroupMembers);
}
