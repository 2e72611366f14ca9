/**
 * Scans as `COPY (SELECT …) TO STDOUT (FORMAT binary)`: PostgreSQL sends each row's fields as length-prefixed
 * bytes, so the stored JSON text can reach the export as the UTF-8 bytes it writes (a view of the socket's data),
 * without the row protocol's per-field decoding into strings and their garbage (`scanJson`). COPY takes no bind parameters:
 * the statement's values are written into it as literals.
 */
import type { Readable } from 'node:stream';
import pg from 'pg';
import type { Sql } from './db.js';

/** Writes a value as an SQL literal (strings quoted as pg's escapeLiteral does; arrays as ARRAY[…]). */
function literal(value: unknown): string {
  if (typeof value === 'string') return pg.escapeLiteral(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === null) return 'NULL';
  if (Array.isArray(value)) return `ARRAY[${value.map(literal).join(', ')}]`;
  throw new TypeError(`no SQL literal for a ${typeof value}`);
}

/** The statement with its `$n` placeholders replaced by the literals of its values. */
export function inlineValues(q: Sql): string {
  return q.text.replace(/\$(\d+)/g, (_, n: string) => {
    const i = Number(n) - 1;
    if (i < 0 || i >= q.values.length) throw new RangeError(`placeholder $${n} has no value`);
    return literal(q.values[i]);
  });
}

/** The COPY statement streaming `q`'s rows in the binary format. */
export const binaryCopy = (q: Sql): string => `COPY (${inlineValues(q)}) TO STDOUT (FORMAT binary)`;

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Signature, flags and the header extension's length. */
const HEADER_BYTES = SIGNATURE.length + 8;

/** A big-endian integer field of 2, 4 or 8 bytes at `at`. */
function integer(buf: Buffer, at: number, length: number): number {
  if (length === 4) return buf.readInt32BE(at);
  if (length === 8) {
    const n = buf.readInt32BE(at) * 2 ** 32 + buf.readUInt32BE(at + 4);
    if (!Number.isSafeInteger(n)) throw new RangeError('int8 value outside the safe integer range');
    return n;
  }
  if (length === 2) return buf.readInt16BE(at);
  throw new Error(`unexpected integer field of ${length} bytes`);
}

/**
 * Parses the binary COPY stream of a scan (columns type, id, version, last_updated, deleted, json, then any
 * others, ignored) into batches of at most `maxRows` rows or about `maxBytes` of JSON. Rows are read in place in
 * the chunks the socket delivered; a row split between chunks is joined once its whole length has arrived.
 * `make` builds each batch item from a row (its JSON as a view of the received bytes, or null).
 */
export async function* copiedRows<T>(
  stream: Readable,
  maxRows: number,
  maxBytes: number,
  make: (type: string, id: string, versionId: number, lastUpdated: number, deleted: boolean, json: Buffer | null) => T | undefined,
): AsyncGenerator<T[]> {
  /** The bytes being parsed, from `pos`; chunks wait in `waiting` until the row at `pos` is complete. */
  let buf: Buffer = Buffer.alloc(0);
  let pos = 0;
  const waiting: Buffer[] = [];
  let waitingBytes = 0;
  /** Bytes from `pos` the next step needs. */
  let need = HEADER_BYTES;
  let header = false;
  let ended = false;
  let batch: T[] = [];
  let batchBytes = 0;
  const starts = [0, 0, 0, 0, 0, 0];
  const lengths = [0, 0, 0, 0, 0, 0];

  /** Parses one row at `pos`: the bytes it needs when incomplete, 0 when parsed (or the trailer reached). */
  const row = (): number => {
    const end = buf.length;
    let p = pos;
    if (end - p < 2) return 2;
    const fields = buf.readInt16BE(p);
    p += 2;
    if (fields === -1) {
      ended = true;
      pos = p;
      return 0;
    }
    if (fields < 6) throw new Error(`a scanned row has ${fields} columns, not at least 6`);
    for (let i = 0; i < fields; i++) {
      if (end - p < 4) return p - pos + 4;
      const length = buf.readInt32BE(p);
      p += 4;
      if (i < 6) {
        starts[i] = p;
        lengths[i] = length;
      }
      if (length > 0) {
        if (end - p < length) return p - pos + length;
        p += length;
      }
    }
    for (let i = 0; i < 5; i++) if ((lengths[i] as number) < 0) throw new Error('a scanned row lacks one of its key columns');
    const jsonLength = lengths[5] as number;
    const type = buf.toString('utf8', starts[0], (starts[0] as number) + (lengths[0] as number));
    const id = buf.toString('utf8', starts[1], (starts[1] as number) + (lengths[1] as number));
    const versionId = integer(buf, starts[2] as number, lengths[2] as number);
    const lastUpdated = integer(buf, starts[3] as number, lengths[3] as number);
    const deleted = buf[starts[4] as number] === 1;
    const item = make(type, id, versionId, lastUpdated, deleted, jsonLength < 0 ? null : buf.subarray(starts[5], (starts[5] as number) + jsonLength));
    if (item !== undefined) batch.push(item);
    batchBytes += Math.max(0, jsonLength);
    pos = p;
    return 0;
  };

  // Read to the stream's end (past the trailer), so the connection is left ready for its next statement.
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (ended) continue;
    waiting.push(chunk);
    waitingBytes += chunk.length;
    if (buf.length - pos + waitingBytes < need) continue;
    buf = pos < buf.length ? Buffer.concat([buf.subarray(pos), ...waiting]) : waiting.length === 1 ? (waiting[0] as Buffer) : Buffer.concat(waiting);
    pos = 0;
    waiting.length = 0;
    waitingBytes = 0;
    if (!header) {
      if (!buf.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('not a binary COPY stream');
      const extension = buf.readInt32BE(SIGNATURE.length + 4);
      if (buf.length < HEADER_BYTES + extension) {
        need = HEADER_BYTES + extension;
        continue;
      }
      pos = HEADER_BYTES + extension;
      header = true;
    }
    for (;;) {
      need = row();
      if (need > 0 || ended) break;
      if (batch.length >= maxRows || batchBytes >= maxBytes) {
        yield batch;
        batch = [];
        batchBytes = 0;
      }
    }
  }
  if (!ended) throw new Error('binary COPY stream ended before its trailer');
  if (batch.length > 0) yield batch;
}
