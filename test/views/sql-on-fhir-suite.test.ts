// Runs every case of the official SQL on FHIR test suite (test/fixtures/sql-on-fhir-tests/*.json) and writes the
// test_report.json implementations publish to test-artifacts/sql-on-fhir/test_report.json.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileView, rowObject } from '../../src/views/evaluate.js';

const dir = join(import.meta.dirname, '..', 'fixtures', 'sql-on-fhir-tests');
const reportDir = join(import.meta.dirname, '..', '..', 'test-artifacts', 'sql-on-fhir');

interface Case {
  title: string;
  tags?: string[];
  view: unknown;
  expect?: Record<string, unknown>[];
  expectColumns?: string[];
  expectError?: unknown;
}
interface Suite {
  resources: Record<string, unknown>[];
  tests: Case[];
}

const canonical = (row: Record<string, unknown>): string =>
  JSON.stringify(Object.keys(row).sort().map((k) => [k, row[k]]));

/** Runs one case; returns undefined when it passes, else what went wrong. */
function runCase(suite: Suite, c: Case, engine: 'auto' | 'fhirpath' = 'auto'): string | undefined {
  let rows: Record<string, unknown>[];
  let columns: string[];
  try {
    const view = compileView(c.view, { engine });
    if (engine === 'auto') engines[view.engine]++;
    columns = view.columns.map((col) => col.name);
    rows = suite.resources.flatMap((r) => view.rows(r).map((row) => rowObject(view.columns, row)));
  } catch (err) {
    return c.expectError ? undefined : `unexpected error: ${(err as Error).message}`;
  }
  if (c.expectError) return 'expected an error, got rows';
  if (c.expectColumns) {
    return JSON.stringify(columns) === JSON.stringify(c.expectColumns)
      ? undefined
      : `expected columns ${JSON.stringify(c.expectColumns)}, got ${JSON.stringify(columns)}`;
  }
  const got = rows.map(canonical).sort();
  const want = (c.expect ?? []).map(canonical).sort();
  return JSON.stringify(got) === JSON.stringify(want)
    ? undefined
    : `expected ${JSON.stringify(c.expect)}, got ${JSON.stringify(rows)}`;
}

const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'))
  .sort();
const report: Record<string, { tests: { name: string; result: { passed: boolean; error?: string } }[] }> = {};
const engines = { fast: 0, fhirpath: 0 };
const tally = { shareable: { passed: 0, total: 0 }, experimental: { passed: 0, total: 0 } };

describe('SQL on FHIR test suite', () => {
  afterAll(() => {
    mkdirSync(reportDir, { recursive: true });
    writeFileSync(join(reportDir, 'test_report.json'), JSON.stringify(report, null, 2) + '\n');
    writeFileSync(join(reportDir, 'summary.json'), JSON.stringify({ ...tally, engines }, null, 2) + '\n');
  });

  for (const file of files) {
    const suite = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Suite;
    report[file] = { tests: [] };
    for (const c of suite.tests) {
      const shareable = (c.tags ?? []).includes('shareable');
      const error = runCase(suite, c);
      report[file].tests.push({ name: c.title, result: error === undefined ? { passed: true } : { passed: false, error } });
      const t = shareable ? tally.shareable : tally.experimental;
      t.total++;
      if (error === undefined) t.passed++;
      // Shareable cases must pass; experimental ones are only counted in the report.
      (shareable ? it : it.skip)(`${file}: ${c.title}`, () => {
        expect(error).toBeUndefined();
        // The same case on @medplum/core's FHIRPath alone (the engine views fall back to).
        expect(runCase(suite, c, 'fhirpath')).toBeUndefined();
      });
    }
  }

  it('covers the whole pinned suite', () => {
    expect(tally.shareable.total + tally.experimental.total).toBe(144);
    expect(tally.shareable.total).toBe(133);
  });
});
