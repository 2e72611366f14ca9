import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { readFile, stat } from 'node:fs/promises';
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
 * Parses NDJSON files (`.ndjson`, `.ndjson.gz`) and FHIR Bundles (`.json`, `.json.gz`) into prepared resources
 * (in batches of about `batchSize`), rejections with file and line, and Bundle DELETE entries.
 */
export async function* parseFiles(files: string[], options: { maxGroupMembers: number; batchSize: number }): AsyncIterable<ParseEvent> {
  const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
  const totalBytes = sizes.reduce((a, b) => a + b, 0);
  let bytesDone = 0;
  let items: PreparedResource[] = [];
  const add = (resource: FhirResource): void => {
    for (const binary of extractAttachments(resource)) items.push(prepareResource(binary));
    items.push(prepareResource(resource));
  };
  for (const [index, file] of files.entries()) {
    const gz = file.endsWith('.gz');
    const name = gz ? file.slice(0, -3) : file;
    const seen = new SeenInFile();
    if (name.endsWith('.json')) {
      for await (const event of parseBundle(file, gz, options.maxGroupMembers)) {
        if (event.kind === 'resource') {
          const first = seen.check(event.resource, event.where);
          if (first !== undefined) yield { kind: 'reject', file, line: event.where, message: duplicateMessage(event.resource, first) };
          else add(event.resource);
          continue;
        }
        if (event.kind === 'delete' && items.length > 0) {
          yield { kind: 'resources', items };
          items = [];
        }
        yield event;
      }
    } else {
      const raw = createReadStream(file);
      let read = 0;
      raw.on('data', (chunk) => {
        read += chunk.length;
      });
      // pipeline: a read error or corrupt gzip data ends the iteration with that error (pipe() would hang).
      const source = gz ? pipeline(raw, createGunzip(), () => undefined) : raw;
      let lineNo = 0;
      try {
        for await (const line of readLines(source)) {
          lineNo++;
          if (line.trim() === '') continue;
          let value: unknown;
          try {
            value = JSON.parse(line);
          } catch (e) {
            yield { kind: 'reject', file, line: lineNo, message: `malformed JSON: ${(e as Error).message.slice(0, 120)}` };
            continue;
          }
          const problem = validateResource(value, options.maxGroupMembers);
          if (problem) {
            yield { kind: 'reject', file, line: lineNo, message: problem };
            continue;
          }
          const first = seen.check(value as FhirResource, lineNo);
          if (first !== undefined) {
            yield { kind: 'reject', file, line: lineNo, message: duplicateMessage(value as FhirResource, first) };
            continue;
          }
          add(value as FhirResource);
          if (items.length >= options.batchSize) {
            yield { kind: 'resources', items };
            items = [];
            yield { kind: 'progress', file, bytes: bytesDone + read, totalBytes, fileDone: false };
          }
        }
      } catch (e) {
        // What was read whole stays imported; the rest of the file cannot be read.
        const err = e as NodeJS.ErrnoException;
        const why = gz && err.code?.startsWith('Z_') ? `the gzip data is truncated or corrupt (${err.message})` : `the file could not be read (${err.code ?? err.message})`;
        yield { kind: 'reject', file, line: lineNo + 1, message: `${why}; reading stopped at line ${lineNo + 1}, lines before it were read` };
      }
    }
    bytesDone += sizes[index] as number;
    if (items.length > 0) {
      yield { kind: 'resources', items };
      items = [];
    }
    yield { kind: 'progress', file, bytes: bytesDone, totalBytes, fileDone: true };
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
