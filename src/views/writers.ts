import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import type { ColumnInfo, ViewRow } from './evaluate.js';
import { sqlType } from './sql-types.js';

/** The flat formats of SQL on FHIR's `_format` (`fhir` is answered by $sql-run alone). */
export const FLAT_FORMATS = ['csv', 'ndjson', 'json', 'parquet'] as const;
export type FlatFormat = (typeof FLAT_FORMATS)[number];

export const MEDIA_TYPES: Record<FlatFormat, string> = {
  csv: 'text/csv',
  ndjson: 'application/x-ndjson',
  json: 'application/json',
  parquet: 'application/vnd.apache.parquet',
};

export const isFlatFormat = (v: unknown): v is FlatFormat => (FLAT_FORMATS as readonly unknown[]).includes(v);

const FLUSH_BYTES = 64 * 1024;

function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function jsonObject(columns: readonly ColumnInfo[], row: ViewRow): string {
  let s = '{';
  for (let i = 0; i < columns.length; i++) {
    const v = row[i];
    s += `${i === 0 ? '' : ','}${JSON.stringify((columns[i] as ColumnInfo).name)}:${v === undefined ? 'null' : JSON.stringify(v)}`;
  }
  return `${s}}`;
}

/**
 * Encodes batches of rows as CSV (RFC 4180: CRLF line ends, fields quoted when they hold a quote, comma or line
 * break, a header row unless `header` is false; null is an empty field, collections and objects JSON text),
 * NDJSON (one object per line) or JSON (one array of objects). Yields buffers of about 64 KiB as rows come, so
 * memory does not grow with the number of rows; `onRows` hears how many rows each batch held.
 */
export async function* encodeText(
  format: Exclude<FlatFormat, 'parquet'>,
  columns: readonly ColumnInfo[],
  batches: AsyncIterable<ViewRow[]> | Iterable<ViewRow[]>,
  options: { header?: boolean; onRows?: (n: number) => void } = {},
): AsyncIterable<Buffer> {
  let out = '';
  let first = true;
  if (format === 'csv' && options.header !== false) out += `${columns.map((c) => csvField(c.name)).join(',')}\r\n`;
  if (format === 'json') out += '[';
  for await (const batch of batches) {
    for (const row of batch) {
      if (format === 'csv') {
        let line = '';
        for (let i = 0; i < columns.length; i++) line += (i === 0 ? '' : ',') + csvField(row[i]);
        out += `${line}\r\n`;
      } else if (format === 'ndjson') {
        out += `${jsonObject(columns, row)}\n`;
      } else {
        out += (first ? '' : ',') + jsonObject(columns, row);
        first = false;
      }
      if (out.length >= FLUSH_BYTES) {
        yield Buffer.from(out);
        out = '';
      }
    }
    options.onRows?.(batch.length);
  }
  if (format === 'json') out += ']\n';
  if (out.length > 0) yield Buffer.from(out);
}

/** The text a value takes in the staging file DuckDB reads (every scalar as a string, cast by DuckDB). */
function stagingValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const quoteText = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** A DuckDB expression turning the staged text of a column into its SQL type (unparsable values become null). */
function castExpression(column: ColumnInfo): string {
  const target = sqlType(column);
  const ident = quoteIdent(column.name);
  if (target === 'VARCHAR' || target === 'VARCHAR[]') return ident;
  if (target === 'BLOB') return `TRY(from_base64(${ident}))`;
  if (target === 'BLOB[]') return `list_transform(${ident}, x -> TRY(from_base64(x)))`;
  return `TRY_CAST(${ident} AS ${target})`;
}

export interface DuckDbOptions {
  /** DuckDB's memory limit (e.g. '128MB'). */
  memoryLimit?: string;
  threads?: number;
  /** Where DuckDB and the staging files may spill; a private temporary folder when absent. */
  tempDir?: string;
}

async function openDuckDb(options: DuckDbOptions, spill: string) {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: options.memoryLimit ?? '128MB',
    threads: String(options.threads ?? 1),
    temp_directory: spill,
    enable_external_access: 'true',
  });
  const connection = await instance.connect();
  return {
    connection,
    close: (): void => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** A private (0700) temporary folder, removed by the returned function. */
export async function privateTempDir(parent?: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(parent ?? tmpdir(), 'flatfhir-view-'));
  await chmod(path, 0o700);
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * Writes batches of rows to a Parquet file (0600) with real column types (see sqlType) and nulls: the rows are
 * staged as NDJSON text in a private temporary folder as they come, then DuckDB casts and writes them in row
 * groups, within its memory limit. Resolves with the number of rows.
 */
export async function writeParquetFile(
  columns: readonly ColumnInfo[],
  batches: AsyncIterable<ViewRow[]> | Iterable<ViewRow[]>,
  path: string,
  options: DuckDbOptions & { onRows?: (n: number) => void } = {},
): Promise<{ rows: number; bytes: number }> {
  const tmp = await privateTempDir(options.tempDir);
  try {
    const staging = join(tmp.path, 'rows.ndjson');
    const file = createWriteStream(staging, { mode: 0o600 });
    let rows = 0;
    try {
      let out = '';
      for await (const batch of batches) {
        for (const row of batch) {
          const o: Record<string, unknown> = {};
          columns.forEach((c, i) => {
            const v = row[i];
            o[c.name] = c.collection && Array.isArray(v) ? v.map(stagingValue) : stagingValue(v);
          });
          out += `${JSON.stringify(o)}\n`;
          if (out.length >= FLUSH_BYTES) {
            if (!file.write(out)) await once(file, 'drain');
            out = '';
          }
        }
        rows += batch.length;
        options.onRows?.(batch.length);
      }
      if (out.length > 0) file.write(out);
    } finally {
      file.end();
      await once(file, 'close');
    }
    const db = await openDuckDb(options, tmp.path);
    try {
      const staged = columns.map((c) => `${quoteText(c.name)}: '${c.collection ? 'VARCHAR[]' : 'VARCHAR'}'`).join(', ');
      const select = columns.map((c) => `${castExpression(c)} AS ${quoteIdent(c.name)}`).join(', ');
      // An empty staging file still gives a typed, empty Parquet file.
      const source =
        rows === 0
          ? `(SELECT * FROM (VALUES (${columns.map(() => 'NULL').join(', ')})) AS t(${columns.map((c) => quoteIdent(c.name)).join(', ')}) LIMIT 0)`
          : `read_json(${quoteText(staging)}, format = 'newline_delimited', columns = {${staged}})`;
      const typed = rows === 0 ? columns.map((c) => `CAST(NULL AS ${sqlType(c)}) AS ${quoteIdent(c.name)}`).join(', ') : select;
      await db.connection.run(
        `COPY (SELECT ${typed} FROM ${source}) TO ${quoteText(path)} (FORMAT parquet, COMPRESSION zstd)`,
      );
    } finally {
      db.close();
    }
    await chmod(path, 0o600);
    return { rows, bytes: (await stat(path)).size };
  } finally {
    await tmp.remove();
  }
}

/** Streams a finished file and removes it (and its folder's cleanup) once read or on error. */
export function readAndRemove(path: string, cleanup: () => Promise<void>): Readable {
  const stream = createReadStream(path);
  const done = (): void => void cleanup().catch(() => undefined);
  stream.once('close', done);
  return stream;
}

/** Writes batches of rows to `path` (0600) in a flat format; resolves with the rows and bytes written. */
export async function writeRowsToFile(
  format: FlatFormat,
  columns: readonly ColumnInfo[],
  batches: AsyncIterable<ViewRow[]> | Iterable<ViewRow[]>,
  path: string,
  options: DuckDbOptions & { header?: boolean; onRows?: (n: number) => void } = {},
): Promise<{ rows: number; bytes: number }> {
  if (format === 'parquet') return writeParquetFile(columns, batches, path, options);
  let rows = 0;
  const file = createWriteStream(path, { mode: 0o600 });
  const closed = once(file, 'close');
  try {
    for await (const chunk of encodeText(format, columns, batches, {
      ...(options.header !== undefined ? { header: options.header } : {}),
      onRows: (n) => {
        rows += n;
        options.onRows?.(n);
      },
    })) {
      if (!file.write(chunk)) await once(file, 'drain');
    }
  } finally {
    file.end();
    await closed;
  }
  await chmod(path, 0o600);
  return { rows, bytes: (await stat(path)).size };
}

/** The file name extension of a format. */
export const EXTENSIONS: Record<FlatFormat, string> = { csv: 'csv', ndjson: 'ndjson', json: 'json', parquet: 'parquet' };
