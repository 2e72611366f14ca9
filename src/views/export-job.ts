/**
 * `$sql-export` on the bulk export engine: a job whose chunks (resource type × slice of the patient set, all at the
 * job's one snapshot) evaluate ViewDefinitions instead of copying NDJSON. Each chunk writes one file per view (and
 * format) over its type; SQLQuery subjects run over the Parquet outputs of their dependency views once the job is
 * done. The manifest is the ballot's `Parameters`, with one `output` per subject.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { Caller } from '../auth/access.js';
import { FhirError, forbidden, invalid, notFound, throttled } from '../fhir/errors.js';
import type { ExportParams } from '../export/kickoff.js';
import { checkKickoffData, PLAN_CHUNK_TYPE, type Slice } from '../export/planner.js';
import type { ChunkFile, RunChunkDeps } from '../export/runner.js';
import type { JobQueue } from '../queue/ports.js';
import type { ObjectStorage } from '../storage/ports.js';
import type { ExportChunk, ExportFile, ExportJob, JobStore, ResourceStore, StoredResource } from '../store/ports.js';
import { compileView, type CompiledView } from './evaluate.js';
import { paramError, type SqlOperationRequest, typesRead } from './request.js';
import { runSqlQuery, type SqlQuery } from './sql-query.js';
import type { ViewDefinition } from './view-definition.js';
import { encodeStored } from './parallel.js';
import { type DuckDbOptions, EXTENSIONS, FLAT_FORMATS, type FlatFormat, frameEncoded, privateTempDir, writeEncodedToFile, writeRowsToFile } from './writers.js';

/** A view the job computes, with the formats it is written in (a SQLQuery's dependencies: Parquet). */
export interface ViewTableSpec {
  definition: ViewDefinition;
  resource: string;
  name: string;
  formats: FlatFormat[];
}

export type ViewSubjectSpec =
  | { kind: 'view'; name: string; table: number }
  | { kind: 'query'; name: string; query: SqlQuery; params: Record<string, unknown>; tables: { label: string; table: number }[] };

/** What an `$sql-export` job stores in `ExportParams.views`. */
export interface ViewJobParams {
  format: FlatFormat;
  header: boolean;
  clientTrackingId?: string;
  tables: ViewTableSpec[];
  subjects: ViewSubjectSpec[];
}

export const viewJobOf = (job: ExportJob): ViewJobParams | undefined => (job.params as ExportParams & { views?: ViewJobParams }).views;

export interface SqlExportDeps {
  resources: ResourceStore;
  jobs: JobStore;
  storage: ObjectStorage;
  queue: JobQueue;
  log: Logger;
  settings: { retentionSeconds: number; retryAfterSeconds: number; presignSeconds: number; maxPatients: number };
  duckdb?: DuckDbOptions;
  now?: () => number;
}

/** Refuses a request reading a type the caller's scopes do not grant (as export types are gated). */
export function checkScopes(caller: Caller, request: SqlOperationRequest): void {
  const refused = typesRead(request).filter((t) => !caller.canRead(t));
  if (refused.length > 0) throw forbidden(`The access token does not grant read access to ${refused.join(', ')}.`);
}

function jobTables(request: SqlOperationRequest, format: FlatFormat): { tables: ViewTableSpec[]; subjects: ViewSubjectSpec[] } {
  const tables: ViewTableSpec[] = [];
  const tableFor = (view: CompiledView, fmt: FlatFormat): number => {
    const key = JSON.stringify(view.definition);
    let i = tables.findIndex((t) => JSON.stringify(t.definition) === key);
    if (i < 0) {
      const name = view.definition.name && /^[A-Za-z0-9_]{1,64}$/.test(view.definition.name) ? view.definition.name : `view${tables.length}`;
      tables.push({ definition: view.definition, resource: view.resource, name, formats: [] });
      i = tables.length - 1;
    }
    const t = tables[i] as ViewTableSpec;
    if (!t.formats.includes(fmt)) t.formats.push(fmt);
    return i;
  };
  const subjects: ViewSubjectSpec[] = request.subjects.map((s) =>
    s.kind === 'view'
      ? { kind: 'view', name: s.name, table: tableFor(s.view, format) }
      : { kind: 'query', name: s.name, query: s.query, params: s.params, tables: s.tables.map((t) => ({ label: t.label, table: tableFor(t.view, 'parquet') })) },
  );
  return { tables, subjects };
}

/** Kick-off: checks scopes and filters, then creates the job (planned by a worker, like a bulk export). */
export async function kickoffSqlExport(
  deps: SqlExportDeps,
  input: { tenant: string; caller: Caller; request: SqlOperationRequest; requestUrl: string; fhirBase: string },
): Promise<ExportJob> {
  const now = (deps.now ?? Date.now)();
  const { request, tenant, caller } = input;
  checkScopes(caller, request);
  const format = request.format === 'fhir' ? 'ndjson' : request.format;
  if (request.patients && request.patients.length > deps.settings.maxPatients) {
    throw paramError(400, 'invalid', `At most ${deps.settings.maxPatients} patients.`, 'patient');
  }
  const { tables, subjects } = jobTables(request, format);
  const kind = request.groupId !== undefined ? 'group' : request.patients ? 'patient' : 'system';
  const views: ViewJobParams = {
    format,
    header: request.header,
    ...(request.clientTrackingId !== undefined ? { clientTrackingId: request.clientTrackingId } : {}),
    tables,
    subjects,
  };
  const params: ExportParams & { views: ViewJobParams } = {
    kind,
    ...(request.groupId !== undefined ? { groupId: request.groupId } : {}),
    types: [...new Set(tables.map((t) => t.resource))].sort(),
    outputFormat: 'application/fhir+ndjson',
    ...(request.since !== undefined ? { since: request.since } : {}),
    typeFilters: {},
    provenance: null,
    ...(request.patients ? { patients: request.patients } : {}),
    warnings: [],
    fhirBase: input.fhirBase,
    views,
  };
  const transactionTime = await deps.resources.snapshotTime(tenant);
  try {
    await checkKickoffData(deps.resources, tenant, params, transactionTime);
  } catch (e) {
    if (e instanceof FhirError && (e.status === 404 || e.status === 400)) {
      const which = e.message.startsWith('Group') || e.message.startsWith('Not members') ? 'group' : 'patient';
      throw paramError(400, e.status === 404 ? 'not-found' : 'invalid', e.message, which);
    }
    throw e;
  }
  const created = await deps.jobs.createJob({
    id: randomUUID(),
    tenant,
    clientId: caller.clientId,
    kind,
    request: input.requestUrl,
    requestHash: `sql-export:${randomUUID()}`,
    params,
    transactionTime,
    createdAt: now,
    expiresAt: now + deps.settings.retentionSeconds * 1000,
    chunks: [{ type: PLAN_CHUNK_TYPE, slice: { mode: 'plan' } satisfies Slice, estimate: 0 }],
  });
  if ('conflict' in created) {
    throw throttled('An export of this client is already in progress for this tenant; wait for it to complete or delete it.', deps.settings.retryAfterSeconds);
  }
  const job = created.job;
  const log = deps.log.child({ jobId: job.id, tenant });
  try {
    await deps.queue.send([{ jobId: job.id, seq: 0 }]);
  } catch (e) {
    log.error({ err: e }, 'queueing the export job failed');
  }
  log.info({ kind, subjects: subjects.length, views: tables.length, format }, 'sql-export job accepted');
  return job;
}

const FILE_KEY = /\/(\d+)-(\d+)\.([A-Za-z0-9_]+)\.([a-z]+)$/;

/**
 * Runs one chunk of an `$sql-export` job: for every view over the chunk's type and every format it is wanted in,
 * the chunk's resources (one scan each, at the job's snapshot) become rows written to a local private file, then
 * put to the job's objects under a name derived from (job, chunk, view), so a rerun rewrites the same objects.
 */
export async function runViewChunk(
  deps: RunChunkDeps & { duckdb?: DuckDbOptions },
  job: ExportJob,
  chunk: ExportChunk,
  scan: () => AsyncIterable<StoredResource[]>,
): Promise<{ files: ChunkFile[]; count: number }> {
  const spec = viewJobOf(job) as ViewJobParams;
  const seq = String(chunk.seq).padStart(4, '0');
  const files: ChunkFile[] = [];
  let count = 0;
  let first = true;
  const tmp = await privateTempDir(deps.duckdb?.tempDir);
  try {
    for (const [t, table] of spec.tables.entries()) {
      if (table.resource !== chunk.type) continue;
      const view = compileView(table.definition);
      for (const format of table.formats) {
        const counting = first;
        first = false;
        const checked = async function* (): AsyncIterable<StoredResource[]> {
          for await (const batch of scan()) {
            await deps.checkCancelled();
            if (counting) {
              count += batch.length;
              deps.onProgress?.(batch.length);
            }
            yield batch;
          }
        };
        const ext = EXTENSIONS[format];
        const key = `jobs/${job.id}/${seq}-${t}.${table.name}.${ext}`;
        let written: { rows: number };
        let stored: { bytes: number };
        if (format === 'parquet') {
          // DuckDB writes a file: a local one, then put.
          const local = join(tmp.path, `${t}.${ext}`);
          written = await writeEncodedToFile(format, view.columns, encodeStored(view, 'staging', checked()), local, { ...deps.duckdb });
          stored = await deps.storage.put(key, createReadStream(local));
        } else {
          // Text goes to storage as it is encoded, as a bulk export's NDJSON does.
          const counted = { rows: 0 };
          stored = await deps.storage.put(key, frameEncoded(format, view.columns, encodeStored(view, format, checked()), { header: spec.header, onRows: (n) => (counted.rows += n) }));
          written = counted;
        }
        files.push({
          id: `${job.id}-${seq}-${t}-${ext}`,
          kind: 'output',
          type: chunk.type,
          part: t * FLAT_FORMATS.length + FLAT_FORMATS.indexOf(format),
          objectKey: key,
          count: written.rows,
          bytes: stored.bytes,
        });
      }
    }
  } finally {
    await tmp.remove();
  }
  return { files, count };
}

/** The files of a job's view (table) in one format, in chunk order. */
function tableFiles(files: ExportFile[], table: number, format: FlatFormat): ExportFile[] {
  return files.filter((f) => {
    const m = FILE_KEY.exec(f.objectKey);
    return f.kind === 'output' && m && Number(m[2]) === table && m[4] === EXTENSIONS[format];
  });
}

export type SqlExportStatus =
  | { state: 'in-progress'; progress: string; retryAfter: number; body: object }
  | { state: 'done' };

export interface SqlExportService {
  kickoff: typeof kickoffSqlExport extends (d: SqlExportDeps, i: infer I) => Promise<ExportJob> ? (i: I) => Promise<ExportJob> : never;
  status(tenant: string, jobId: string, caller: Caller): Promise<SqlExportStatus>;
  /** The manifest Parameters of a completed job; throws the job's failure as a 500 OperationOutcome. */
  result(tenant: string, jobId: string, caller: Caller, fhirBase: string): Promise<object>;
  /** A signed URL for an output computed once the job is done (a SQLQuery's result, or an empty view's file). */
  derivedLocation(tenant: string, jobId: string, index: number, caller: Caller, origin: string): Promise<string>;
}

/** Status, result and derived outputs of `$sql-export` jobs (cancel and file downloads are the bulk export's). */
export function createSqlExportService(deps: SqlExportDeps): SqlExportService {
  const now = deps.now ?? Date.now;
  const running = new Map<string, Promise<void>>();

  async function ownedJob(tenant: string, jobId: string, caller: Caller): Promise<ExportJob & { views: ViewJobParams }> {
    const job = await deps.jobs.getJob(jobId);
    const views = job ? viewJobOf(job) : undefined;
    if (!job || !views || job.tenant !== tenant || job.clientId !== caller.clientId || job.status === 'deleted' || job.expiresAt < now()) {
      throw notFound(`Export job ${jobId} was not found.`);
    }
    return Object.assign(job, { views });
  }

  const derivedKey = (job: ExportJob, views: ViewJobParams, index: number): string => {
    const s = views.subjects[index] as ViewSubjectSpec;
    const safe = s.name.replace(/[^A-Za-z0-9_\-.]/g, '_').slice(0, 64) || 'output';
    return `jobs/${job.id}/derived-${index}.${safe}.${EXTENSIONS[views.format]}`;
  };

  /** Writes a derived output (once per process at a time; a concurrent writer elsewhere writes the same bytes). */
  async function computeDerived(job: ExportJob, views: ViewJobParams, index: number, key: string): Promise<void> {
    const subject = views.subjects[index] as ViewSubjectSpec;
    const tmp = await privateTempDir(deps.duckdb?.tempDir);
    try {
      const out = join(tmp.path, `out.${EXTENSIONS[views.format]}`);
      if (subject.kind === 'view') {
        const view = compileView((views.tables[subject.table] as ViewTableSpec).definition);
        await writeRowsToFile(views.format, view.columns, [], out, { ...deps.duckdb, header: views.header });
      } else {
        const files = await deps.jobs.listFiles(job.id);
        const tables = [];
        for (const t of subject.tables) {
          const spec = views.tables[t.table] as ViewTableSpec;
          const locals: string[] = [];
          for (const [i, f] of tableFiles(files, t.table, 'parquet').entries()) {
            const local = join(tmp.path, `${t.table}-${i}.parquet`);
            await pipeline(await deps.storage.get(f.objectKey), createWriteStream(local, { mode: 0o600 }));
            locals.push(local);
          }
          tables.push({ label: t.label, files: locals, columns: compileView(spec.definition).columns });
        }
        await runSqlQuery(subject.query, tables, subject.params, (columns, batches) =>
          writeRowsToFile(views.format, columns, batches, out, { ...deps.duckdb, header: views.header }), deps.duckdb ?? {});
      }
      await deps.storage.put(key, createReadStream(out));
    } finally {
      await tmp.remove();
    }
  }

  return {
    kickoff: (input) => kickoffSqlExport(deps, input),

    async status(tenant, jobId, caller) {
      const job = await ownedJob(tenant, jobId, caller);
      if (job.status === 'in-progress') {
        const progress = job.totalResources > 0 ? `${Math.min(100, Math.floor((job.doneResources / job.totalResources) * 100))}%` : '0%';
        return {
          state: 'in-progress',
          progress,
          retryAfter: deps.settings.retryAfterSeconds,
          body: {
            resourceType: 'Parameters',
            parameter: [
              { name: 'exportId', valueString: job.id },
              { name: 'status', valueCode: 'in-progress' },
            ],
          },
        };
      }
      return { state: 'done' };
    },

    async result(tenant, jobId, caller, fhirBase) {
      const job = await ownedJob(tenant, jobId, caller);
      if (job.status === 'in-progress') throw paramError(404, 'not-found', `Export job ${jobId} has not finished; poll its status URL.`);
      if (job.status === 'failed') throw new FhirError(500, 'exception', `The export failed: ${job.error ?? 'unknown error'}`);
      const files = await deps.jobs.listFiles(job.id);
      const { views } = job;
      const outputs = views.subjects.map((s, i) => {
        const all = s.kind === 'view' ? tableFiles(files, s.table, views.format) : [];
        // Parts with rows; a view with no rows at all keeps one (header-only or empty) file.
        const nonEmpty = all.filter((f) => f.count > 0);
        const located = nonEmpty.length > 0 ? nonEmpty : all.slice(0, 1);
        const locations = located.length > 0 ? located.map((f) => `${fhirBase}/bulk-export/files/${f.id}`) : [`${fhirBase}/sql-export/jobs/${job.id}/outputs/${i}`];
        return {
          name: 'output',
          part: [{ name: 'name', valueString: s.name }, ...locations.map((l) => ({ name: 'location', valueUri: l }))],
        };
      });
      const end = job.completedAt ?? now();
      return {
        resourceType: 'Parameters',
        parameter: [
          { name: 'exportId', valueString: job.id },
          ...(views.clientTrackingId !== undefined ? [{ name: 'clientTrackingId', valueString: views.clientTrackingId }] : []),
          { name: 'status', valueCode: 'completed' },
          { name: '_format', valueCode: views.format },
          { name: 'transactionTime', valueInstant: new Date(job.transactionTime).toISOString() },
          { name: 'exportStartTime', valueInstant: new Date(job.createdAt).toISOString() },
          { name: 'exportEndTime', valueInstant: new Date(end).toISOString() },
          { name: 'exportDuration', valueInteger: Math.max(0, Math.round((end - job.createdAt) / 1000)) },
          ...outputs,
        ],
      };
    },

    async derivedLocation(tenant, jobId, index, caller, origin) {
      const job = await ownedJob(tenant, jobId, caller);
      const subject = job.views.subjects[index];
      if (job.status !== 'completed' || !subject) throw notFound(`Output ${index} of export job ${jobId} was not found.`);
      const types = subject.kind === 'view' ? [(job.views.tables[subject.table] as ViewTableSpec).resource] : subject.tables.map((t) => (job.views.tables[t.table] as ViewTableSpec).resource);
      const refused = types.filter((t) => !caller.canRead(t));
      if (refused.length > 0) throw forbidden(`The access token does not grant read access to ${refused.join(', ')}.`);
      if (subject.kind === 'view' && tableFiles(await deps.jobs.listFiles(job.id), subject.table, job.views.format).length > 0) {
        throw invalid(`Output ${index} of export job ${jobId} is in the manifest's files.`);
      }
      const key = derivedKey(job, job.views, index);
      if (!(await deps.storage.stat(key))) {
        let pending = running.get(key);
        if (!pending) {
          pending = computeDerived(job, job.views, index, key).finally(() => running.delete(key));
          running.set(key, pending);
        }
        await pending;
      }
      return deps.storage.presign(key, now() + deps.settings.presignSeconds * 1000, origin);
    },
  };
}
