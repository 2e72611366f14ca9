import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FhirError } from '../fhir/errors.js';
import type { StoredResource } from '../store/ports.js';
import { compileView } from './evaluate.js';
import { LIBRARY_VIEWS } from './library.js';
import { writeViewFile } from './parallel.js';

const observations = LIBRARY_VIEWS.find((v) => v.name === 'observations');
const view = compileView(observations);

/** Observations of patients p0…p9, some with components, in batches as a store scan gives them. */
function batches(n: number, size: number): StoredResource[][] {
  const out: StoredResource[][] = [];
  for (let i = 0; i < n; i += size) {
    const batch: StoredResource[] = [];
    for (let k = i; k < Math.min(n, i + size); k++) {
      const r = {
        resourceType: 'Observation',
        id: `o${k}`,
        status: 'final',
        subject: { reference: `Patient/p${k % 10}` },
        code: { coding: [{ system: 'http://loinc.org', code: `c${k}`, display: `with "quotes", commas\nand lines ${k}` }] },
        ...(k % 3 === 0
          ? { component: [{ code: { coding: [{ code: 'a' }] }, valueQuantity: { value: k } }, { code: { coding: [{ code: 'b' }] }, valueString: '' }] }
          : { valueQuantity: { value: k / 10, code: 'mg' } }),
      };
      batch.push({ type: 'Observation', id: r.id, versionId: 1, json: JSON.stringify(r), lastUpdated: k, deleted: false });
    }
    // A tombstone (no JSON) yields no row.
    if (i === 0) batch.push({ type: 'Observation', id: 'gone', versionId: 2, json: null, lastUpdated: 0, deleted: true });
    out.push(batch);
  }
  return out;
}

async function* feed<T>(items: T[]): AsyncIterable<T> {
  for (const i of items) yield i;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flatfhir-parallel-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('views on worker threads', () => {
  for (const format of ['csv', 'ndjson', 'json'] as const) {
    it(`write the same ${format} file as the calling thread, rows in scan order`, async () => {
      const input = batches(2500, 97);
      const seq = join(dir, `seq.${format}`);
      const par = join(dir, `par.${format}`);
      let resources = 0;
      const a = await writeViewFile(view, format, feed(input), seq, { threads: 0 });
      const b = await writeViewFile(view, format, feed(input), par, { threads: 3, inline: 0, onResources: (n) => (resources += n) });
      expect(b).toEqual(a);
      expect(a.rows).toBe(2500 + Math.ceil(2500 / 3) * 2);
      expect(await readFile(par, 'utf8')).toBe(await readFile(seq, 'utf8'));
      expect(resources).toBe(2500);
    });
  }

  it('write the same Parquet rows as the calling thread', async () => {
    const input = batches(1200, 250);
    const a = await writeViewFile(view, 'parquet', feed(input), join(dir, 'seq.parquet'), { threads: 0 });
    const b = await writeViewFile(view, 'parquet', feed(input), join(dir, 'par.parquet'), { threads: 2, inline: 0 });
    expect(b.rows).toBe(a.rows);
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const diff = await c.runAndReadAll(
      `SELECT count(*) AS n FROM ((SELECT * FROM '${join(dir, 'seq.parquet')}' EXCEPT ALL SELECT * FROM '${join(dir, 'par.parquet')}') UNION ALL (SELECT * FROM '${join(dir, 'par.parquet')}' EXCEPT ALL SELECT * FROM '${join(dir, 'seq.parquet')}'))`,
    );
    expect(Number(diff.getRowObjectsJson()[0]?.n)).toBe(0);
    c.closeSync();
    db.closeSync();
  });

  it('start threads only past the first batches, evaluated on the calling thread meanwhile', async () => {
    const input = batches(3000, 40);
    const seq = join(dir, 'inline-seq.csv');
    const par = join(dir, 'inline-par.csv');
    await writeViewFile(view, 'csv', feed(input), seq, { threads: 0 });
    expect(await writeViewFile(view, 'csv', feed(input), par, { threads: 2, inline: 5 })).toEqual(await writeViewFile(view, 'csv', feed(input), seq, { threads: 0 }));
    expect(await readFile(par, 'utf8')).toBe(await readFile(seq, 'utf8'));
  });

  it('keep only the Patient compartments of the members given', async () => {
    const path = join(dir, 'members.ndjson');
    await writeViewFile(view, 'ndjson', feed(batches(200, 50)), path, { threads: 2, inline: 0, members: ['p3', 'p7'] });
    const rows = (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { patient_id: string });
    expect(rows.length).toBeGreaterThan(0);
    expect(new Set(rows.map((r) => r.patient_id))).toEqual(new Set(['p3', 'p7']));
  });

  it('fail with the FhirError a thread met (a column with several values)', async () => {
    const several = compileView({ resource: 'Observation', select: [{ column: [{ name: 'code', path: 'code.coding.code' }] }] });
    const json = JSON.stringify({ resourceType: 'Observation', id: 'x', code: { coding: [{ code: 'a' }, { code: 'b' }] } });
    const input: StoredResource[][] = [[{ type: 'Observation', id: 'x', versionId: 1, json, lastUpdated: 0, deleted: false }]];
    const error = await writeViewFile(several, 'csv', feed(input), join(dir, 'several.csv'), { threads: 2, inline: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FhirError);
    expect((error as FhirError).status).toBe(422);
    expect((error as FhirError).message).toMatch(/several values/);
  });
});
