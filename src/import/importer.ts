import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { gunzipSync, createGunzip } from 'node:zlib';
import { memberCount } from '../fhir/group.js';
import { isFhirResourceType } from '../fhir/known-types.js';
import { isValidId, prepareResource } from '../fhir/prepare.js';
import type { FhirResource, PreparedResource, ResourceStore } from '../store/ports.js';

export interface Rejection {
  file: string;
  /** 1-based line (NDJSON) or entry index (Bundle, as `entry[i]`). */
  line: number | string;
  message: string;
}

export interface ImportResult {
  /** Per type: resources created, updated (content changed) and unchanged. */
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
  onProgress?: (progress: { file: string; resources: number; bytes: number; totalBytes: number }) => void;
}

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
function validate(value: unknown, maxGroupMembers: number): string | undefined {
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

/** Rewrites `urn:uuid:` references of a Bundle to `Type/id`. */
function resolveReferences(node: unknown, map: Map<string, string>): void {
  if (Array.isArray(node)) {
    for (const item of node) resolveReferences(item, map);
  } else if (node && typeof node === 'object') {
    const obj = node as Record<string, unknown>;
    for (const [k, v] of Object.entries(obj)) {
      if (k === 'reference' && typeof v === 'string') {
        const target = map.get(v);
        if (target) obj[k] = target;
      } else if (v && typeof v === 'object') {
        resolveReferences(v, map);
      }
    }
  }
}

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

/**
 * Imports NDJSON files (`.ndjson`, `.ndjson.gz`), FHIR Bundles (`.json`, `.json.gz`) and directories of them.
 * Streams NDJSON; writes in atomic batches; skips and reports what is malformed, with file and line.
 */
export async function importPaths(options: ImportOptions): Promise<ImportResult> {
  const batchSize = options.batchSize ?? 2000;
  const maxReported = options.maxReported ?? 1000;
  const result: ImportResult = { counts: {}, accepted: 0, rejected: [], rejectedCount: 0, files: 0 };
  await options.resources.ensureTenant(options.tenant);
  let batch = new Map<string, PreparedResource>();

  const reject = (file: string, line: number | string, message: string): void => {
    result.rejectedCount++;
    if (result.rejected.length < maxReported) result.rejected.push({ file, line, message });
  };
  const countsFor = (type: string) => (result.counts[type] ??= { created: 0, updated: 0, unchanged: 0, deleted: 0 });

  const flush = async (): Promise<void> => {
    if (batch.size === 0) return;
    const items = [...batch.values()];
    batch = new Map();
    // Count per type by writing each type's items as one atomic batch.
    const byType = new Map<string, PreparedResource[]>();
    for (const item of items) {
      const list = byType.get(item.type);
      if (list) list.push(item);
      else byType.set(item.type, [item]);
    }
    for (const [type, list] of byType) {
      const w = await options.resources.writeBatch(options.tenant, list);
      const c = countsFor(type);
      c.created += w.created;
      c.updated += w.updated;
      c.unchanged += w.unchanged;
      result.accepted += list.length;
    }
  };

  const add = async (resource: FhirResource): Promise<void> => {
    for (const binary of extractAttachments(resource)) batch.set(`Binary/${binary.id}`, prepareResource(binary));
    const prepared = prepareResource(resource);
    batch.set(`${prepared.type}/${prepared.id}`, prepared);
    if (batch.size >= batchSize) await flush();
  };

  const files = await listFiles(options.paths);
  const totalBytes = (await Promise.all(files.map(async (f) => (await stat(f)).size))).reduce((a, b) => a + b, 0);
  let bytesDone = 0;
  for (const file of files) {
    result.files++;
    const size = (await stat(file)).size;
    const gz = file.endsWith('.gz');
    const name = gz ? file.slice(0, -3) : file;
    if (name.endsWith('.json')) {
      await importBundle(file, gz, add, reject, options.maxGroupMembers, async (type, id) => {
        await flush();
        if (await options.resources.deleteResource(options.tenant, type, id)) countsFor(type).deleted++;
      });
    } else {
      const raw = createReadStream(file);
      let compressedRead = 0;
      raw.on('data', (chunk) => {
        compressedRead += chunk.length;
      });
      const lines = createInterface({ input: gz ? raw.pipe(createGunzip()) : raw, crlfDelay: Infinity });
      let lineNo = 0;
      for await (const line of lines) {
        lineNo++;
        if (line.trim() === '') continue;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch (e) {
          reject(file, lineNo, `malformed JSON: ${(e as Error).message.slice(0, 120)}`);
          continue;
        }
        const problem = validate(value, options.maxGroupMembers);
        if (problem) {
          reject(file, lineNo, problem);
          continue;
        }
        await add(value as FhirResource);
        if (lineNo % 5000 === 0) options.onProgress?.({ file, resources: result.accepted + batch.size, bytes: bytesDone + compressedRead, totalBytes });
      }
    }
    bytesDone += size;
    options.onProgress?.({ file, resources: result.accepted + batch.size, bytes: bytesDone, totalBytes });
  }
  await flush();
  return result;
}

async function importBundle(
  file: string,
  gz: boolean,
  add: (r: FhirResource) => Promise<void>,
  reject: (file: string, line: number | string, message: string) => void,
  maxGroupMembers: number,
  remove: (type: string, id: string) => Promise<void>,
): Promise<void> {
  let bundle: unknown;
  try {
    const raw = await readFile(file);
    bundle = JSON.parse((gz ? gunzipSync(raw) : raw).toString('utf8'));
  } catch (e) {
    reject(file, 1, `malformed JSON: ${(e as Error).message.slice(0, 120)}`);
    return;
  }
  const b = bundle as { resourceType?: unknown; type?: unknown; entry?: unknown };
  if (!b || typeof b !== 'object' || b.resourceType !== 'Bundle') {
    // A single resource in a .json file.
    const problem = validate(bundle, maxGroupMembers);
    if (problem) reject(file, 1, problem);
    else await add(bundle as FhirResource);
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
      if (!m) reject(file, where, 'DELETE entry without a Type/id url');
      else await remove(m[1] as string, m[2] as string);
      continue;
    }
    const resource = e?.['resource'];
    const problem = validate(resource, maxGroupMembers);
    if (problem) {
      reject(file, where, problem);
      continue;
    }
    resolveReferences(resource, map);
    await add(resource as FhirResource);
  }
}
