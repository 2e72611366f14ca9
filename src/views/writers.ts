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

const QUOTED = /[",\r\n]/;
const QUOTES = /"/g;

function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return QUOTED.test(s) ? `"${s.replace(QUOTES, '""')}"` : s;
}

/** A field of the staging CSV DuckDB reads: empty for null, quoted when it must be or is the empty string. */
function stagingField(v: unknown, collection: boolean): string {
  if (v === null || v === undefined) return '';
  let s: string;
  if (collection && Array.isArray(v)) s = JSON.stringify(v.map(stagingValue));
  else if (typeof v === 'string') s = v;
  else s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return s === '' || QUOTED.test(s) ? `"${s.replace(QUOTES, '""')}"` : s;
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
 * The encodings of a batch of rows: a flat text format, or `staging`, the CSV (LF line ends, every value as text,
 * collections as JSON arrays of text) that DuckDB reads to write Parquet.
 */
export type BatchEncoding = Exclude<FlatFormat, 'parquet'> | 'staging';

/**
 * The text of a batch of rows, without what frames a whole file (the CSV header, JSON's brackets): CSV lines
 * ending in CRLF, NDJSON lines, JSON objects each followed by a comma, staging CSV lines ending in LF.
 */
export function encodeRows(encoding: BatchEncoding, columns: readonly ColumnInfo[], rows: readonly ViewRow[]): string {
  const width = columns.length;
  let out = '';
  switch (encoding) {
    case 'csv':
      for (const row of rows) {
        out += csvField(row[0]);
        for (let i = 1; i < width; i++) out += `,${csvField(row[i])}`;
        out += '\r\n';
      }
      return out;
    case 'staging': {
      const collection = columns.map((c) => c.collection);
      for (const row of rows) {
        out += stagingField(row[0], collection[0] as boolean);
        for (let i = 1; i < width; i++) out += `,${stagingField(row[i], collection[i] as boolean)}`;
        out += '\n';
      }
      return out;
    }
    case 'ndjson':
      for (const row of rows) out += `${jsonObject(columns, row)}\n`;
      return out;
    case 'json':
      for (const row of rows) out += `${jsonObject(columns, row)},`;
      return out;
  }
}

/** Encoded rows on their way to a file: the text of `rows` rows in one encoding. */
export interface EncodedBatch {
  text: string | Uint8Array;
  rows: number;
}

/** Batches of rows encoded as they come, one piece per batch. */
export async function* encodeBatches(
  encoding: BatchEncoding,
  columns: readonly ColumnInfo[],
  batches: AsyncIterable<ViewRow[]> | Iterable<ViewRow[]>,
): AsyncIterable<EncodedBatch> {
  for await (const batch of batches) yield { text: encodeRows(encoding, columns, batch), rows: batch.length };
}

/**
 * Encodes batches of rows as CSV (RFC 4180: CRLF line ends, fields quoted when they hold a quote, comma or line
 * break, a header row unless `header` is false; null is an empty field, collections and objects JSON text),
 * NDJSON (one object per line) or JSON (one array of objects). Yields buffers as rows come, so memory does not
 * grow with the number of rows; `onRows` hears how many rows each batch held.
 */
export function encodeText(
  format: Exclude<FlatFormat, 'parquet'>,
  columns: readonly ColumnInfo[],
  batches: AsyncIterable<ViewRow[]> | Iterable<ViewRow[]>,
  options: { header?: boolean; onRows?: (n: number) => void } = {},
): AsyncIterable<Buffer> {
  return frameEncoded(format, columns, encodeBatches(format, columns, batches), options);
}

/** Rows already encoded (encodeRows of the format) as the buffers of a whole file, as encodeText gives them. */
export async function* frameEncoded(
  format: Exclude<FlatFormat, 'parquet'>,
  columns: readonly ColumnInfo[],
  batches: AsyncIterable<EncodedBatch>,
  options: { header?: boolean; onRows?: (n: number) => void } = {},
): AsyncIterable<Buffer> {
  for await (const piece of framed(format, columns, batches, options.header !== false)) {
    if (piece.rows > 0) options.onRows?.(piece.rows);
    if (piece.text.length > 0) yield typeof piece.text === 'string' ? Buffer.from(piece.text) : Buffer.from(piece.text.buffer, piece.text.byteOffset, piece.text.byteLength);
  }
}

const COMMA = 0x2c;

/** Adds what frames a file to encoded batches: the CSV header, JSON's brackets (and no comma after the last object). */
async function* framed(
  format: Exclude<FlatFormat, 'parquet'>,
  columns: readonly ColumnInfo[],
  batches: AsyncIterable<EncodedBatch>,
  header: boolean,
): AsyncIterable<EncodedBatch> {
  if (format === 'csv' && header) yield { text: `${columns.map((c) => csvField(c.name)).join(',')}\r\n`, rows: 0 };
  if (format !== 'json') {
    yield* batches;
    return;
  }
  yield { text: '[', rows: 0 };
  // Each object ends in a comma: every batch but the last goes out whole, the last without its final comma.
  let held: EncodedBatch | undefined;
  for await (const b of batches) {
    if (b.text.length === 0) {
      if (b.rows > 0) yield b;
      continue;
    }
    if (held) yield held;
    held = b;
  }
  if (held) {
    const t = held.text;
    const last = typeof t === 'string' ? t.charCodeAt(t.length - 1) : t[t.length - 1];
    yield { text: last === COMMA ? t.slice(0, t.length - 1) : t, rows: held.rows };
  }
  yield { text: ']\n', rows: 0 };
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

/** Rows per Parquet row group: small enough that DuckDB's writer holds little of them at once. */
const ROW_GROUP_ROWS = 32_768;
/** DuckDB's CSV read buffer (at least twice the longest staged line). */
const MIN_CSV_BUFFER = 4 * 1024 * 1024;

/**
 * Writes batches of rows to a Parquet file (0600) with real column types (see sqlType) and nulls: the rows are
 * staged as CSV text in a private temporary folder as they come, then DuckDB casts and writes them in row
 * groups, within its memory limit. Resolves with the number of rows.
 */
export async function writeParquetFile(
  columns: readonly ColumnInfo[],
  batches: AsyncIterable<ViewRow[]> | Iterable<ViewRow[]>,
  path: string,
  options: DuckDbOptions & { onRows?: (n: number) => void } = {},
): Promise<{ rows: number; bytes: number }> {
  return writeStagedParquet(columns, encodeBatches('staging', columns, batches), path, options);
}

/** Writes staging CSV batches (encodeRows' `staging`) to a Parquet file, as writeParquetFile does. */
async function writeStagedParquet(
  columns: readonly ColumnInfo[],
  batches: AsyncIterable<EncodedBatch>,
  path: string,
  options: DuckDbOptions & { onRows?: (n: number) => void },
): Promise<{ rows: number; bytes: number }> {
  const tmp = await privateTempDir(options.tempDir);
  try {
    const staging = join(tmp.path, 'rows.csv');
    const file = createWriteStream(staging, { mode: 0o600 });
    let rows = 0;
    let longest = 0;
    try {
      for await (const b of batches) {
        if (b.text.length > 0) {
          if (typeof b.text === 'string') {
            for (let at = 0, next = b.text.indexOf('\n'); next >= 0; at = next + 1, next = b.text.indexOf('\n', at)) longest = Math.max(longest, next - at);
          } else {
            for (let at = 0, next = b.text.indexOf(0x0a); next >= 0; at = next + 1, next = b.text.indexOf(0x0a, at)) longest = Math.max(longest, next - at);
          }
          if (!file.write(b.text)) await once(file, 'drain');
        }
        rows += b.rows;
        if (b.rows > 0) options.onRows?.(b.rows);
      }
    } finally {
      file.end();
      await once(file, 'close');
    }
    const db = await openDuckDb(options, tmp.path);
    try {
      const typed = columns.map((c) => `${castExpression(c)} AS ${quoteIdent(c.name)}`).join(', ');
      let source: string;
      if (rows === 0) {
        // No rows still gives a typed, empty Parquet file.
        source = `(SELECT * FROM (VALUES (${columns.map((c) => (c.collection ? 'CAST(NULL AS VARCHAR[])' : 'CAST(NULL AS VARCHAR)')).join(', ')})) AS t(${columns.map((c) => quoteIdent(c.name)).join(', ')}) LIMIT 0)`;
      } else {
        // Line lengths count UTF-16 units or bytes: times four bounds the bytes either way.
        const buffer = Math.max(MIN_CSV_BUFFER, 8 * (longest + 1));
        const read =
          `read_csv(${quoteText(staging)}, header = false, auto_detect = false, delim = ',', quote = '"', escape = '"', ` +
          `new_line = '\\n', allow_quoted_nulls = false, strict_mode = true, buffer_size = ${buffer}, max_line_size = ${Math.floor(buffer / 2)}, ` +
          `columns = {${columns.map((c) => `${quoteText(c.name)}: 'VARCHAR'`).join(', ')}})`;
        const lists = columns.map((c) => (c.collection ? `from_json(${quoteIdent(c.name)}, '["VARCHAR"]') AS ${quoteIdent(c.name)}` : quoteIdent(c.name))).join(', ');
        source = `(SELECT ${lists} FROM ${read})`;
      }
      await db.connection.run(
        `COPY (SELECT ${typed} FROM ${source}) TO ${quoteText(path)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_ROWS})`,
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
  return writeEncodedToFile(format, columns, encodeBatches(format === 'parquet' ? 'staging' : format, columns, batches), path, options);
}

/**
 * Writes rows already encoded (by encodeRows: `staging` for Parquet, else the format itself) to `path` (0600),
 * framed as a whole file; resolves with the rows and bytes written.
 */
export async function writeEncodedToFile(
  format: FlatFormat,
  columns: readonly ColumnInfo[],
  batches: AsyncIterable<EncodedBatch>,
  path: string,
  options: DuckDbOptions & { header?: boolean; onRows?: (n: number) => void } = {},
): Promise<{ rows: number; bytes: number }> {
  if (format === 'parquet') return writeStagedParquet(columns, batches, path, options);
  let rows = 0;
  const file = createWriteStream(path, { mode: 0o600 });
  const closed = once(file, 'close');
  try {
    for await (const piece of framed(format, columns, batches, options.header !== false)) {
      if (piece.rows > 0) {
        rows += piece.rows;
        options.onRows?.(piece.rows);
      }
      if (piece.text.length > 0 && !file.write(piece.text)) await once(file, 'drain');
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
