/**
 * `$sql-run`: one subject evaluated synchronously over the tenant's data at a snapshot taken now (or over the
 * resources supplied in the request), bounded by a row and a time limit beyond which the answer is an
 * OperationOutcome pointing to `$sql-export`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Caller } from '../auth/access.js';
import { patientCompartment, patientCompartmentPaths } from '../fhir/compartment.js';
import { FhirError, notFound } from '../fhir/errors.js';
import { activeMembers } from '../fhir/group.js';
import type { FhirResource } from '../fhir/resource.js';
import type { ResourceStore } from '../store/ports.js';
import { checkScopes } from './export-job.js';
import type { ColumnInfo, CompiledView, ViewRow } from './evaluate.js';
import { paramError, type SqlOperationRequest } from './request.js';
import { runSqlQuery } from './sql-query.js';
import { viewRows } from './sources.js';
import { type DuckDbOptions, encodeText, MEDIA_TYPES, privateTempDir, writeParquetFile } from './writers.js';

export interface SqlRunDeps {
  resources: ResourceStore;
  limits: { maxRows: number; maxSeconds: number };
  duckdb?: DuckDbOptions;
  now?: () => number;
}

export interface SqlRunResult {
  contentType: string;
  body: Buffer;
}

class TooLarge extends FhirError {
  constructor(what: string) {
    super(422, 'too-costly', `${what}; run it asynchronously with $sql-export (same parameters, subject repetitions).`);
  }
}

/** The rows a view yields over the request's data: supplied resources, or the store's scoped by patient/group/_since. */
async function sourceRows(
  deps: SqlRunDeps,
  tenant: string,
  request: SqlOperationRequest,
  view: CompiledView,
  until: number,
  deadline: number,
): Promise<AsyncIterable<ViewRow[]>> {
  const check = (): void => {
    if ((deps.now ?? Date.now)() > deadline) throw new TooLarge(`The evaluation takes longer than ${deps.limits.maxSeconds} s`);
  };
  if (request.resources) {
    const resources = request.resources;
    return (async function* () {
      const out: ViewRow[] = [];
      for (const r of resources) {
        check();
        out.push(...view.rows(r));
      }
      yield out;
    })();
  }
  let patients: Set<string> | undefined;
  if (request.groupId !== undefined) {
    const group = await deps.resources.readAt(tenant, 'Group', request.groupId, until);
    if (!group || group.deleted || !group.json) throw paramError(400, 'not-found', `Group/${request.groupId} was not found.`, 'group');
    patients = new Set(activeMembers(JSON.parse(group.json) as object, until).map((m) => m.patientId));
    if (request.patients) patients = new Set(request.patients.filter((p) => patients?.has(p)));
  } else if (request.patients) {
    const present = new Set(await deps.resources.presentIds(tenant, 'Patient', request.patients, until));
    const missing = request.patients.filter((p) => !present.has(p));
    if (missing.length > 0) throw paramError(400, 'not-found', `Patient with reference 'Patient/${missing[0]}' not found.`, 'patient');
    patients = present;
  }
  const paths = patientCompartmentPaths();
  const accept = patients ? (r: Record<string, unknown>) => patientCompartment(r as unknown as FhirResource, paths).some((id) => patients.has(id)) : undefined;
  const scan = deps.resources.scan({ tenant, type: view.resource, until, ...(request.since !== undefined ? { since: request.since } : {}) });
  return viewRows(
    view,
    (async function* () {
      for await (const batch of scan) {
        check();
        yield batch;
      }
    })(),
    accept,
  );
}

/** Collects at most `limit` rows (the `_limit`), or fails once more than `max` come (the server's bound). */
async function collect(batches: AsyncIterable<ViewRow[]>, limit: number | undefined, max: number): Promise<ViewRow[]> {
  const rows: ViewRow[] = [];
  const cap = limit !== undefined ? Math.min(limit, max) : max;
  const iterator = batches[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      for (const r of next.value) {
        if (rows.length >= cap) {
          if (limit !== undefined && limit <= max) return rows;
          throw new TooLarge(`The result has more than ${max} rows`);
        }
        rows.push(r);
      }
    }
  } finally {
    await iterator.return?.();
  }
  return rows;
}

const FHIR_VALUE: Record<string, string> = {
  boolean: 'valueBoolean',
  integer: 'valueInteger',
  positiveInt: 'valuePositiveInt',
  unsignedInt: 'valueUnsignedInt',
  integer64: 'valueInteger64',
  decimal: 'valueDecimal',
  date: 'valueDate',
  dateTime: 'valueDateTime',
  instant: 'valueInstant',
  time: 'valueTime',
  code: 'valueCode',
  id: 'valueId',
  uri: 'valueUri',
  url: 'valueUrl',
  canonical: 'valueCanonical',
  base64Binary: 'valueBase64Binary',
};

/** The SQL to FHIR type mapping of the ballot, for `_format=fhir`. */
function valueKey(column: ColumnInfo): string {
  if (column.type !== undefined) return FHIR_VALUE[column.type] ?? 'valueString';
  const t = (column.ansiType ?? 'VARCHAR').toUpperCase();
  if (t === 'BOOLEAN') return 'valueBoolean';
  if (['INTEGER', 'SMALLINT', 'TINYINT', 'UTINYINT', 'USMALLINT'].includes(t)) return 'valueInteger';
  if (['BIGINT', 'UINTEGER', 'HUGEINT'].includes(t)) return 'valueInteger64';
  if (t === 'DOUBLE' || t === 'REAL' || t === 'FLOAT' || t.startsWith('DECIMAL')) return 'valueDecimal';
  if (t === 'DATE') return 'valueDate';
  if (t === 'TIMESTAMP') return 'valueDateTime';
  if (t === 'TIMESTAMP WITH TIME ZONE' || t === 'TIMESTAMPTZ') return 'valueInstant';
  if (t === 'TIME') return 'valueTime';
  if (t === 'VARCHAR' || t === 'UUID') return 'valueString';
  if (t === 'BLOB') return 'valueBase64Binary';
  throw new FhirError(422, 'invalid', `Column ${column.name} has SQL type ${t}, which has no FHIR value[x] for _format=fhir.`);
}

function fhirRows(columns: readonly ColumnInfo[], rows: ViewRow[]): object {
  const keys = columns.map(valueKey);
  const toValue = (key: string, v: unknown): unknown => {
    if (key === 'valueInteger64') return String(v);
    if (key === 'valueInstant' || key === 'valueDateTime') return typeof v === 'string' && v.includes(' ') ? v.replace(' ', 'T') : v;
    return typeof v === 'object' ? JSON.stringify(v) : v;
  };
  const parameter = rows.map((row) => ({
    name: 'row',
    part: columns.flatMap((c, i) => {
      const v = row[i];
      const values = c.collection && Array.isArray(v) ? v : [v];
      return values.filter((x) => x !== null && x !== undefined).map((x) => ({ name: c.name, [keys[i] as string]: toValue(keys[i] as string, x) }));
    }),
  }));
  return parameter.length > 0 ? { resourceType: 'Parameters', parameter } : { resourceType: 'Parameters' };
}

async function encode(format: SqlOperationRequest['format'], columns: readonly ColumnInfo[], rows: ViewRow[], header: boolean, duckdb: DuckDbOptions | undefined): Promise<SqlRunResult> {
  if (format === 'fhir') return { contentType: 'application/fhir+json', body: Buffer.from(JSON.stringify(fhirRows(columns, rows))) };
  if (format === 'parquet') {
    const tmp = await privateTempDir(duckdb?.tempDir);
    try {
      const path = join(tmp.path, 'result.parquet');
      await writeParquetFile(columns, [rows], path, duckdb ?? {});
      return { contentType: MEDIA_TYPES.parquet, body: await readFile(path) };
    } finally {
      await tmp.remove();
    }
  }
  const parts: Buffer[] = [];
  for await (const b of encodeText(format, columns, [rows], { header })) parts.push(b);
  return { contentType: MEDIA_TYPES[format], body: Buffer.concat(parts) };
}

/** Runs `$sql-run`: checks scopes, evaluates the subject and encodes its rows in the requested format. */
export async function runSqlRun(deps: SqlRunDeps, tenant: string, caller: Caller, request: SqlOperationRequest): Promise<SqlRunResult> {
  checkScopes(caller, request);
  const now = deps.now ?? Date.now;
  const deadline = now() + deps.limits.maxSeconds * 1000;
  const until = await deps.resources.snapshotTime(tenant);
  const subject = request.subjects[0];
  if (!subject) throw notFound('No subject.');
  if (subject.kind === 'view') {
    const rows = await collect(await sourceRows(deps, tenant, request, subject.view, until, deadline), request.limit, deps.limits.maxRows);
    return encode(request.format, subject.view.columns, rows, request.header, deps.duckdb);
  }
  // A SQLQuery: its dependency views (whole, at the same snapshot) into Parquet, then the SQL over them.
  const tmp = await privateTempDir(deps.duckdb?.tempDir);
  try {
    const tables = [];
    for (const [i, t] of subject.tables.entries()) {
      const path = join(tmp.path, `${i}.parquet`);
      await writeParquetFile(t.view.columns, await sourceRows(deps, tenant, request, t.view, until, deadline), path, deps.duckdb ?? {});
      tables.push({ label: t.label, files: [path], columns: t.view.columns });
    }
    return await runSqlQuery(
      subject.query,
      tables,
      subject.params,
      async (columns, batches) => encode(request.format, columns, await collect(batches, request.limit, deps.limits.maxRows), request.header, deps.duckdb),
      deps.duckdb ?? {},
    );
  } finally {
    await tmp.remove();
  }
}
