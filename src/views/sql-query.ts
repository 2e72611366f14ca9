import { join } from 'node:path';
import { invalid } from '../fhir/errors.js';
import type { ColumnInfo, ViewRow } from './evaluate.js';
import { unprocessable } from './view-definition.js';
import { type DuckDbOptions, privateTempDir } from './writers.js';

/** A SQLQuery Library (SQL on FHIR 3.0.0 ballot): its SQL, the tables it selects from, its declared parameters. */
export interface SqlQuery {
  name?: string;
  url?: string;
  sql: string;
  /** `relatedArtifact` of type depends-on: the canonical of a ViewDefinition and the table name the SQL uses. */
  dependencies: { canonical: string; label: string }[];
  parameters: { name: string; type: string }[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const TABLE_LABEL = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Whether a resource is a SQLQuery (or SQLView) Library rather than a ViewDefinition. */
export function isSqlLibrary(resource: unknown): boolean {
  return isObject(resource) && resource.resourceType === 'Library';
}

/** Reads a SQLQuery Library; throws 422 for a Library that is not one (no application/sql content, bad labels). */
export function parseSqlQuery(resource: unknown): SqlQuery {
  if (!isObject(resource) || resource.resourceType !== 'Library') throw unprocessable('The subject is not a SQLQuery Library.');
  const codes = ((resource.type as { coding?: { code?: unknown }[] } | undefined)?.coding ?? []).map((c) => c?.code);
  if (codes.includes('sql-view')) throw unprocessable('SQLView Libraries are not supported as subjects here; use a SQLQuery.');
  if (!codes.includes('sql-query')) throw unprocessable('The Library is not a SQLQuery (type sql-query).');
  const content = Array.isArray(resource.content) ? (resource.content as Record<string, unknown>[]) : [];
  const sqlContent = content.filter((c) => isObject(c) && typeof c.contentType === 'string' && c.contentType.startsWith('application/sql'));
  // The default (dialect-free) attachment, else a DuckDB one, else the first.
  const chosen =
    sqlContent.find((c) => c.contentType === 'application/sql') ??
    sqlContent.find((c) => /dialect=duckdb/i.test(String(c.contentType))) ??
    sqlContent[0];
  if (!chosen) throw unprocessable('The SQLQuery has no content with contentType application/sql.');
  let sql: string | undefined;
  if (typeof chosen.data === 'string') sql = Buffer.from(chosen.data, 'base64').toString('utf8');
  if (sql === undefined) {
    const ext = (Array.isArray(chosen.extension) ? (chosen.extension as Record<string, unknown>[]) : []).find((e) => String(e?.url).endsWith('/sql-text'));
    if (typeof ext?.valueString === 'string') sql = ext.valueString;
  }
  if (!sql || sql.trim() === '') throw unprocessable('The SQLQuery content holds no SQL.');
  checkReadOnly(sql);
  const related = Array.isArray(resource.relatedArtifact) ? (resource.relatedArtifact as Record<string, unknown>[]) : [];
  const dependencies = related
    .filter((r) => isObject(r) && r.type === 'depends-on')
    .map((r) => {
      if (typeof r.resource !== 'string' || typeof r.label !== 'string' || !TABLE_LABEL.test(r.label)) {
        throw unprocessable('Each depends-on relatedArtifact needs a resource (canonical) and a label usable as a table name.');
      }
      return { canonical: r.resource, label: r.label };
    });
  if (new Set(dependencies.map((d) => d.label.toLowerCase())).size !== dependencies.length) throw unprocessable('Two dependencies share a label.');
  const parameters = (Array.isArray(resource.parameter) ? (resource.parameter as Record<string, unknown>[]) : [])
    .filter((p) => isObject(p) && p.use !== 'out' && typeof p.name === 'string')
    .map((p) => ({ name: p.name as string, type: typeof p.type === 'string' ? p.type : 'string' }));
  return {
    ...(typeof resource.name === 'string' ? { name: resource.name } : {}),
    ...(typeof resource.url === 'string' ? { url: resource.url } : {}),
    sql,
    dependencies,
    parameters,
  };
}

/**
 * A first, cheap refusal of SQL that is not a query (the statement type is checked again by DuckDB before it
 * runs): the statement must start with SELECT, WITH, FROM, VALUES or TABLE (after comments and parentheses).
 */
export function checkReadOnly(sql: string): void {
  const head = sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ').replace(/^[\s(]+/, '');
  const keyword = /^[A-Za-z]+/.exec(head)?.[0]?.toUpperCase();
  if (!keyword || !['SELECT', 'WITH', 'FROM', 'VALUES', 'TABLE'].includes(keyword)) {
    throw unprocessable(`Only a read-only query (one SELECT) is accepted, not ${keyword ?? 'this statement'}.`);
  }
}

/** Binds supplied parameter values (a Parameters resource's value[x]) to the query's declared parameters. */
export function bindParameters(query: SqlQuery, supplied: unknown): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  if (supplied === undefined) return values;
  const list = isObject(supplied) && Array.isArray(supplied.parameter) ? (supplied.parameter as Record<string, unknown>[]) : undefined;
  if (!list) throw invalid('parameters must be a Parameters resource.');
  for (const p of list) {
    const declared = query.parameters.find((d) => d.name === p?.name);
    if (!declared) throw invalid(`The SQLQuery declares no parameter ${JSON.stringify(p?.name)}.`);
    const key = Object.keys(p).find((k) => k.startsWith('value'));
    const expected = `value${declared.type.charAt(0).toUpperCase()}${declared.type.slice(1)}`;
    if (key !== expected) throw invalid(`Parameter '${declared.name}' expects type '${declared.type}' but received '${key ?? 'no value'}'.`);
    values[declared.name] = p[key];
  }
  return values;
}

/** `:name` placeholders (SQL on FHIR's style) as DuckDB's `$name`, outside quoted text and `::` casts. */
function duckDbPlaceholders(sql: string): string {
  return sql.replace(/('(?:[^']|'')*')|("(?:[^"]|"")*")|(::)|:([A-Za-z_][A-Za-z0-9_]*)/g, (m, s1, s2, cast, name) =>
    s1 || s2 || cast ? m : `$${name as string}`,
  );
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const quoteText = (s: string): string => `'${s.replace(/'/g, "''")}'`;

export interface QueryTable {
  label: string;
  /** Parquet files holding the table's rows (one view's output). */
  files: string[];
  /** Its columns, for an empty table (no file). */
  columns: readonly ColumnInfo[];
}

/**
 * Runs a read-only SQL query over tables loaded from Parquet files, in a DuckDB database of its own in a private
 * temporary folder (within its memory limit, spilling to disk). Only one SELECT statement is accepted; the
 * query runs with external access off and the configuration locked, so it reads the loaded tables and
 * nothing else. Calls `consume` with the result columns and their batches of rows, then cleans up.
 */
export async function runSqlQuery<T>(
  query: SqlQuery,
  tables: QueryTable[],
  params: Record<string, unknown>,
  consume: (columns: ColumnInfo[], batches: AsyncIterable<ViewRow[]>) => Promise<T>,
  options: DuckDbOptions = {},
): Promise<T> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const tmp = await privateTempDir(options.tempDir);
  const instance = await DuckDBInstance.create(join(tmp.path, 'query.duckdb'), {
    memory_limit: options.memoryLimit ?? '128MB',
    threads: String(options.threads ?? 1),
    temp_directory: join(tmp.path, 'spill'),
  });
  const connection = await instance.connect();
  try {
    const { sqlType } = await import('./sql-types.js');
    for (const t of tables) {
      const source =
        t.files.length > 0
          ? `read_parquet([${t.files.map(quoteText).join(', ')}])`
          : `(SELECT ${t.columns.map((c) => `CAST(NULL AS ${sqlType(c)}) AS ${quoteIdent(c.name)}`).join(', ')} LIMIT 0)`;
      await connection.run(`CREATE TABLE ${quoteIdent(t.label)} AS SELECT * FROM ${source}`);
    }
    await connection.run('SET enable_external_access = false');
    await connection.run('SET lock_configuration = true');
    const extracted = await connection.extractStatements(duckDbPlaceholders(query.sql)).catch((e: unknown) => {
      throw unprocessable(`The SQL does not parse: ${(e as Error).message}`);
    });
    if (extracted.count !== 1) throw unprocessable('A SQLQuery holds exactly one SQL statement.');
    const prepared = await extracted.prepare(0).catch((e: unknown) => {
      throw unprocessable(`The SQL cannot run: ${(e as Error).message}`);
    });
    // StatementType.SELECT: anything else (INSERT, CREATE, COPY, PRAGMA, SET, ATTACH…) writes or reconfigures.
    if (Number(prepared.statementType) !== 1) throw unprocessable('Only a read-only query (one SELECT) is accepted.');
    const bound: Record<string, string | number | boolean | null> = {};
    for (let i = 1; i <= prepared.parameterCount; i++) {
      const name = prepared.parameterName(i);
      if (!(name in params)) throw invalid(`The query needs a value for parameter ${JSON.stringify(name)}.`);
      const v = params[name];
      bound[name] = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : v === null ? null : JSON.stringify(v);
    }
    if (prepared.parameterCount > 0) prepared.bind(bound);
    const result = await prepared.stream().catch((e: unknown) => {
      throw unprocessable(`The SQL failed: ${(e as Error).message}`);
    });
    const names = result.columnNames();
    const types = result.columnTypes().map((t) => String(t));
    const columns: ColumnInfo[] = names.map((name, i) => {
      const type = types[i] as string;
      const list = type.endsWith('[]');
      return { name, type: undefined, collection: list, ansiType: list ? type.slice(0, -2) : type };
    });
    const batches = (async function* (): AsyncIterable<ViewRow[]> {
      for await (const rows of result.yieldRowsJson()) yield rows as ViewRow[];
    })();
    return await consume(columns, batches);
  } finally {
    connection.closeSync();
    instance.closeSync();
    await tmp.remove();
  }
}
