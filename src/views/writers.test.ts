import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { compileView } from './evaluate.js';
import { encodeText, writeEncodedToFile, writeParquetFile, writeRowsToFile } from './writers.js';

const view = compileView({
  resource: 'Patient',
  select: [
    {
      column: [
        { name: 'id', path: 'id', type: 'id' },
        { name: 'active', path: 'active', type: 'boolean' },
        { name: 'family', path: 'name.first().family', type: 'string' },
        { name: 'given', path: 'name.given', type: 'string', collection: true },
        { name: 'birth', path: 'birthDate', type: 'date', tags: [{ name: 'ansi/type', value: 'DATE' }] },
        { name: 'births', path: 'multipleBirthInteger', type: 'integer' },
      ],
    },
  ],
});
const patients = [
  { resourceType: 'Patient', id: 'a', active: true, name: [{ family: 'O"Neil, Jr', given: ['Ann', 'B'] }], birthDate: '1990-05-01', multipleBirthInteger: 2 },
  { resourceType: 'Patient', id: 'b', name: [{ family: 'line\nbreak' }], birthDate: '1990-05' },
];
const rows = patients.flatMap((p) => view.rows(p));
const dir = mkdtempSync(join(tmpdir(), 'writers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function text(format: 'csv' | 'ndjson' | 'json'): Promise<string> {
  const parts: Buffer[] = [];
  for await (const b of encodeText(format, view.columns, [rows])) parts.push(b);
  return Buffer.concat(parts).toString();
}

describe('writers', () => {
  it('CSV follows RFC 4180 with a header row', async () => {
    expect(await text('csv')).toBe(
      'id,active,family,given,birth,births\r\n' +
        'a,true,"O""Neil, Jr","[""Ann"",""B""]",1990-05-01,2\r\n' +
        'b,,"line\nbreak",[],1990-05,\r\n',
    );
  });

  it('NDJSON and JSON carry the values with their JSON types', async () => {
    const lines = (await text('ndjson')).trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(lines[0]).toEqual({ id: 'a', active: true, family: 'O"Neil, Jr', given: ['Ann', 'B'], birth: '1990-05-01', births: 2 });
    expect(JSON.parse(await text('json'))).toEqual(lines);
  });

  it('Parquet has real column types and nulls, read back by DuckDB', async () => {
    const path = join(dir, 'p.parquet');
    expect((await writeParquetFile(view.columns, [rows], path)).rows).toBe(2);
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const r = await c.runAndReadAll(`SELECT * FROM read_parquet('${path}') ORDER BY id`);
    expect(r.columnTypes().map(String)).toEqual(['VARCHAR', 'BOOLEAN', 'VARCHAR', 'VARCHAR[]', 'DATE', 'INTEGER']);
    const objs = r.getRowObjectsJson();
    expect(objs[0]).toEqual({ id: 'a', active: true, family: 'O"Neil, Jr', given: ['Ann', 'B'], birth: '1990-05-01', births: 2 });
    // A partial date does not fit DATE: null, as are absent values.
    expect(objs[1]).toEqual({ id: 'b', active: null, family: 'line\nbreak', given: [], birth: null, births: null });
    c.closeSync();
    db.closeSync();
    expect(readFileSync(path).subarray(0, 4).toString()).toBe('PAR1');
  });

  it('an empty Parquet file keeps the columns and their types', async () => {
    const path = join(dir, 'empty.parquet');
    expect((await writeParquetFile(view.columns, [], path)).rows).toBe(0);
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const r = await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${path}')`);
    expect(r.getRowObjectsJson().map((o) => `${String(o.column_name)}:${String(o.column_type)}`)).toEqual([
      'id:VARCHAR', 'active:BOOLEAN', 'family:VARCHAR', 'given:VARCHAR[]', 'birth:DATE', 'births:INTEGER',
    ]);
    c.closeSync();
    db.closeSync();
  });

  it('Parquet keeps empty strings, quotes, commas, line breaks and collections apart from nulls', async () => {
    const tricky = compileView({
      resource: 'Patient',
      select: [
        {
          column: [
            { name: 'id', path: 'id', type: 'id' },
            { name: 'text', path: 'text', type: 'string' },
            { name: 'list', path: 'list', type: 'string', collection: true },
            { name: 'n', path: 'n', type: 'integer' },
          ],
        },
      ],
    });
    const odd = ['', '"', 'a,b', 'x\r\ny', '\n', '"quoted", and more', 'é ☃ 𝄞', ' padded '];
    const resources = [
      ...odd.map((text, i) => ({ resourceType: 'Patient', id: `r${i}`, text, list: [text, 'k'], n: i })),
      { resourceType: 'Patient', id: 'none' },
    ];
    const path = join(dir, 'tricky.parquet');
    // Rows in several batches, as a scan gives them.
    const batches = resources.map((r) => tricky.rows(r));
    expect((await writeRowsToFile('parquet', tricky.columns, batches, path)).rows).toBe(resources.length);
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const r = await c.runAndReadAll(`SELECT * FROM read_parquet('${path}') ORDER BY id`);
    const objs = r.getRowObjectsJson();
    expect(objs.find((o) => o.id === 'none')).toEqual({ id: 'none', text: null, list: [], n: null });
    for (const [i, text] of odd.entries()) expect(objs.find((o) => o.id === `r${i}`)).toEqual({ id: `r${i}`, text, list: [text, 'k'], n: i });
    c.closeSync();
    db.closeSync();
  });

  it('JSON written from several encoded batches is one array', async () => {
    const path = join(dir, 'batches.json');
    const pieces = [{ text: '{"a":1},', rows: 1 }, { text: '', rows: 0 }, { text: Buffer.from('{"a":2},{"a":3},'), rows: 2 }];
    const written = await writeEncodedToFile('json', view.columns, (async function* () {
      yield* pieces;
    })(), path);
    expect(written.rows).toBe(3);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }]);
    await writeRowsToFile('json', view.columns, [], path);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual([]);
  });
});
