import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importPaths } from '../src/import/importer.js';
import { parseFiles } from '../src/import/parse.js';
import type { Store } from '../src/store/ports.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { generatePopulation } from '../src/synthetic/index.js';
import { runFlatfhir } from './helpers/process.js';

const SYNTHEA = join(import.meta.dirname, 'fixtures', 'synthea-100');
const SYNTHEA_COUNTS: Record<string, number> = {
  Observation: 16315,
  Claim: 6083,
  ExplanationOfBenefit: 3697,
  Encounter: 3697,
  MedicationRequest: 2386,
  Procedure: 2351,
  Immunization: 1287,
  DiagnosticReport: 897,
  Condition: 639,
  CareTeam: 278,
  CarePlan: 278,
  Practitioner: 203,
  Organization: 203,
  Patient: 100,
  AllergyIntolerance: 38,
  ImagingStudy: 16,
  Device: 4,
};

let dir: string;
let store: Store;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flatfhir-import-'));
  store = openSqliteStore(join(dir, 'db.sqlite'));
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('import', () => {
  it('imports the Synthea population with exact counts, and a re-import changes nothing', async () => {
    const first = await importPaths({ resources: store.resources, tenant: 't', paths: [SYNTHEA], maxGroupMembers: 20_000 });
    expect(first.rejectedCount).toBe(0);
    expect(first.accepted).toBe(38_472);
    expect(await store.resources.countByType('t')).toEqual(SYNTHEA_COUNTS);
    expect(Object.keys(SYNTHEA_COUNTS)).toHaveLength(17);

    const again = await importPaths({ resources: store.resources, tenant: 't', paths: [SYNTHEA], maxGroupMembers: 20_000 });
    const totals = Object.values(again.counts).reduce((a, c) => ({ created: a.created + c.created, updated: a.updated + c.updated, unchanged: a.unchanged + c.unchanged }), { created: 0, updated: 0, unchanged: 0 });
    expect(totals).toEqual({ created: 0, updated: 0, unchanged: 38_472 });
    const patient = await store.resources.read('t', 'Patient', (await firstId(store, 't', 'Patient')) as string);
    expect(patient?.versionId).toBe(1);
    // the other tenant sees nothing
    expect(await store.resources.countByType('other')).toEqual({});
  });

  it('reports malformed lines with file and line number and stores the valid ones around them', async () => {
    const file = join(dir, 'mixed.ndjson');
    await writeFile(
      file,
      [
        JSON.stringify({ resourceType: 'Patient', id: 'a' }),
        '{"resourceType": "Patient", "id": ',
        JSON.stringify({ id: 'no-type' }),
        JSON.stringify({ resourceType: 'Patient' }),
        JSON.stringify({ resourceType: 'Spaceship', id: 'x' }),
        JSON.stringify({ resourceType: 'Patient', id: 'bad id!' }),
        '',
        '[1,2]',
        JSON.stringify({ resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/a' } }),
      ].join('\n'),
    );
    const result = await importPaths({ resources: store.resources, tenant: 't', paths: [file], maxGroupMembers: 10 });
    expect(result.accepted).toBe(2);
    expect(result.rejected.map((r) => [r.file, r.line])).toEqual([
      [file, 2],
      [file, 3],
      [file, 4],
      [file, 5],
      [file, 6],
      [file, 8],
    ]);
    expect(result.rejected[0]?.message).toMatch(/malformed JSON/);
    expect(result.rejected[1]?.message).toMatch(/resourceType/);
    expect(result.rejected[2]?.message).toMatch(/without id/);
    expect(result.rejected[3]?.message).toMatch(/unknown resourceType/);
    expect(await store.resources.countByType('t')).toEqual({ Patient: 1, Observation: 1 });
  });

  it('versions changed content, keeps unchanged content, and reads gzip NDJSON and Bundles with urn:uuid references', async () => {
    const v1 = join(dir, 'v1.ndjson.gz');
    await writeFile(v1, gzipSync(`${JSON.stringify({ resourceType: 'Patient', id: 'p', gender: 'male' })}\n`));
    await importPaths({ resources: store.resources, tenant: 't', paths: [v1], maxGroupMembers: 10 });
    const before = await store.resources.read('t', 'Patient', 'p');
    const bundle = join(dir, 'bundle.json');
    await writeFile(
      bundle,
      JSON.stringify({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: 'urn:uuid:11111111-1111-1111-1111-111111111111', resource: { resourceType: 'Patient', id: 'p', gender: 'female' }, request: { method: 'PUT', url: 'Patient/p' } },
          {
            fullUrl: 'urn:uuid:22222222-2222-2222-2222-222222222222',
            resource: { resourceType: 'Condition', subject: { reference: 'urn:uuid:11111111-1111-1111-1111-111111111111' } },
            request: { method: 'POST', url: 'Condition' },
          },
        ],
      }),
    );
    const result = await importPaths({ resources: store.resources, tenant: 't', paths: [bundle], maxGroupMembers: 10 });
    expect(result.rejectedCount).toBe(0);
    const after = await store.resources.read('t', 'Patient', 'p');
    expect(after?.versionId).toBe(2);
    expect(after?.lastUpdated).toBeGreaterThan(before?.lastUpdated ?? Infinity);
    expect(JSON.parse(after?.json ?? '{}').gender).toBe('female');
    const condition = await store.resources.read('t', 'Condition', '22222222-2222-2222-2222-222222222222');
    expect(JSON.parse(condition?.json ?? '{}').subject.reference).toBe('Patient/p');
  });

  it('refuses a Group larger than the configured maximum with a clear error', async () => {
    const file = join(dir, 'group.ndjson');
    const member = (i: number) => ({ entity: { reference: `Patient/p${i}` } });
    await writeFile(
      file,
      [
        JSON.stringify({ resourceType: 'Group', id: 'small', type: 'person', actual: true, member: [member(1), member(2)] }),
        JSON.stringify({ resourceType: 'Group', id: 'big', type: 'person', actual: true, member: [member(1), member(2), member(3)] }),
      ].join('\n'),
    );
    const result = await importPaths({ resources: store.resources, tenant: 't', paths: [file], maxGroupMembers: 2 });
    expect(result.rejected).toEqual([{ file, line: 2, message: 'Group/big has 3 members; the maximum is 2' }]);
    expect(await store.resources.read('t', 'Group', 'small')).toBeDefined();
    expect(await store.resources.read('t', 'Group', 'big')).toBeUndefined();
  });

  it('moves inline attachment data into Binary resources', async () => {
    const file = join(dir, 'doc.ndjson');
    const data = Buffer.from('<p>x</p>').toString('base64');
    await writeFile(file, JSON.stringify({ resourceType: 'DocumentReference', id: 'd', status: 'current', content: [{ attachment: { contentType: 'text/html', data } }] }));
    await importPaths({ resources: store.resources, tenant: 't', paths: [file], maxGroupMembers: 2 });
    const doc = JSON.parse((await store.resources.read('t', 'DocumentReference', 'd'))?.json ?? '{}');
    const url = doc.content[0].attachment.url as string;
    expect(doc.content[0].attachment.data).toBeUndefined();
    expect(url).toMatch(/^Binary\/att-[0-9a-f]{40}$/);
    const binary = JSON.parse((await store.resources.read('t', 'Binary', url.slice(7)))?.json ?? '{}');
    expect(binary.data).toBe(data);
    expect(binary.contentType).toBe('text/html');
  });
});

describe('import of damaged and inconsistent input', () => {
  const patients = (n: number, from = 0): string => Array.from({ length: n }, (_, i) => `${JSON.stringify({ resourceType: 'Patient', id: `p${from + i}` })}\n`).join('');

  it('names the file and the line reached of a truncated .ndjson.gz, and keeps the lines before it', async () => {
    const whole = gzipSync(patients(2000));
    const file = join(dir, 'cut.ndjson.gz');
    await writeFile(file, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const other = join(dir, 'other.ndjson');
    await writeFile(other, patients(1, 5000));
    const result = await importPaths({ resources: store.resources, tenant: 't', paths: [file, other], maxGroupMembers: 10, batchSize: 100 });
    expect(result.rejectedCount).toBe(1);
    const [r] = result.rejected;
    expect(r?.file).toBe(file);
    expect(r?.message).toMatch(/gzip data is truncated or corrupt.*unexpected end of file.*stopped at line \d+/);
    const reached = Number(r?.line);
    expect(reached).toBeGreaterThan(100);
    expect(reached).toBeLessThan(2000);
    // Every line before the one reached was imported, and so was the next file.
    expect(result.accepted).toBe(reached);
    expect((await store.resources.countByType('t'))['Patient']).toBe(reached);
    expect(await store.resources.read('t', 'Patient', 'p5000')).toBeDefined();
  });

  it('reports a Bundle entry whose urn:uuid reference resolves to nothing, with file, entry and reference', async () => {
    const bundle = join(dir, 'dangling.json');
    await writeFile(
      bundle,
      JSON.stringify({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: 'urn:uuid:11111111-1111-1111-1111-111111111111', resource: { resourceType: 'Patient', id: 'p' } },
          { fullUrl: 'urn:uuid:22222222-2222-2222-2222-222222222222', resource: { resourceType: 'Condition', subject: { reference: 'urn:uuid:11111111-1111-1111-1111-111111111111' } } },
          {
            fullUrl: 'urn:uuid:33333333-3333-3333-3333-333333333333',
            resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:11111111-1111-1111-1111-111111111111' }, performer: [{ reference: 'urn:uuid:99999999-9999-9999-9999-999999999999' }] },
          },
        ],
      }),
    );
    const result = await importPaths({ resources: store.resources, tenant: 't', paths: [bundle], maxGroupMembers: 10 });
    expect(result.rejected).toEqual([
      { file: bundle, line: 'entry[2]', message: 'reference "urn:uuid:99999999-9999-9999-9999-999999999999" (Observation.performer) resolves to no entry of the Bundle' },
    ]);
    expect(await store.resources.countByType('t')).toEqual({ Patient: 1, Condition: 1 });
  });

  it('reports the same resource twice in one file, keeps the first, and its counts add up to the lines', async () => {
    const file = join(dir, 'dups.ndjson');
    const lines = [
      JSON.stringify({ resourceType: 'Patient', id: 'a', gender: 'male' }),
      JSON.stringify({ resourceType: 'Patient', id: 'b' }),
      JSON.stringify({ resourceType: 'Patient', id: 'a', gender: 'female' }),
      ...Array.from({ length: 5 }, (_, i) => JSON.stringify({ resourceType: 'Patient', id: `c${i}` })),
      JSON.stringify({ resourceType: 'Patient', id: 'b' }),
    ];
    await writeFile(file, `${lines.join('\n')}\n`);
    // A batch size of 3: the second "b" comes in another batch than the first.
    const result = await importPaths({ resources: store.resources, tenant: 't', paths: [file], maxGroupMembers: 10, batchSize: 3 });
    expect(result.rejected).toEqual([
      { file, line: 3, message: 'Patient/a appears again in this file (first at line 1); this occurrence is skipped' },
      { file, line: 9, message: 'Patient/b appears again in this file (first at line 2); this occurrence is skipped' },
    ]);
    const c = result.counts['Patient'];
    expect((c?.created ?? 0) + (c?.updated ?? 0) + (c?.unchanged ?? 0) + result.rejectedCount).toBe(lines.length);
    expect(c).toEqual({ created: 7, updated: 0, unchanged: 0, deleted: 0 });
    expect(JSON.parse((await store.resources.read('t', 'Patient', 'a'))?.json ?? '{}').gender).toBe('male');
    // The same in a Bundle.
    const bundle = join(dir, 'dups.json');
    await writeFile(bundle, JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', id: 'x' } }, { resource: { resourceType: 'Patient', id: 'x' } }] }));
    const b = await importPaths({ resources: store.resources, tenant: 't', paths: [bundle], maxGroupMembers: 10 });
    expect(b.rejected).toEqual([{ file: bundle, line: 'entry[1]', message: 'Patient/x appears again in this file (first at entry[0]); this occurrence is skipped' }]);
  });
});

describe('import of a large NDJSON file in ranges over several threads', () => {
  it('numbers lines from the start of the file and finds a repeated resource across ranges, as one thread does', async () => {
    const file = join(dir, 'many.ndjson');
    const lines = Array.from({ length: 600 }, (_, i) => JSON.stringify({ resourceType: 'Patient', id: `r${i}`, gender: i % 2 ? 'male' : 'female' }));
    lines[299] = '{"resourceType": "Patient", "id": ';
    lines[449] = JSON.stringify({ resourceType: 'Patient', id: 'r10', gender: 'other' });
    lines[500] = '';
    await writeFile(file, `${lines.join('\r\n')}\r\n`);
    const expected = [
      { file, line: 300, message: expect.stringMatching(/^malformed JSON/) as unknown as string },
      { file, line: 450, message: 'Patient/r10 appears again in this file (first at line 11); this occurrence is skipped' },
    ];
    // Ranges of about 1 KB: some 30 of them, taken by three threads in turn.
    for (const [tenant, options] of [
      ['threads', { parseThreads: 3, rangeBytes: 1024, batchSize: 70 }],
      ['here', { thread: false, rangeBytes: 1024, batchSize: 70 }],
      ['whole', { parseThreads: 1 }],
    ] as const) {
      const result = await importPaths({ resources: store.resources, tenant, paths: [file], maxGroupMembers: 10, ...options });
      expect(result.rejected, tenant).toEqual(expected);
      expect(result.accepted, tenant).toBe(597);
      expect(result.counts['Patient'], tenant).toEqual({ created: 597, updated: 0, unchanged: 0, deleted: 0 });
      expect(JSON.parse((await store.resources.read(tenant, 'Patient', 'r10'))?.json ?? '{}').gender, tenant).toBe('female');
      expect(await store.resources.read(tenant, 'Patient', 'r599'), tenant).toBeDefined();
      expect(await store.resources.read(tenant, 'Patient', 'r500'), tenant).toBeUndefined();
    }
  });
});

describe('an import killed midway', () => {
  it('leaves each batch written whole or not at all, and a second run completes it', async () => {
    const population = join(dir, 'population');
    await generatePopulation({ patients: 40, seed: 'killed-import', out: population });
    // What the import gives when it runs to the end.
    const clean = await importPaths({ resources: store.resources, tenant: 't', paths: [population], maxGroupMembers: 10 });
    expect(clean.rejectedCount).toBe(0);
    const db = join(dir, 'data', 'flatfhir.sqlite');
    const p = runFlatfhir(['import', '--tenant', 't', '--data', join(dir, 'data'), '--batch-size', '100', population]);
    // Killed once a thousand resources or more are committed (or, on a fast machine, when it is done).
    let seen = 0;
    while (p.child.exitCode === null && seen < 1000) {
      await new Promise((r) => setTimeout(r, 20));
      if (!existsSync(db)) continue;
      try {
        const reader = new Database(db, { readonly: true, fileMustExist: true });
        seen = (reader.prepare("SELECT count(*) FROM resources WHERE tenant = 't'").pluck().get() as number | undefined) ?? 0;
        reader.close();
      } catch {
        // Not created yet.
      }
    }
    p.child.kill('SIGKILL');
    await p.exited;

    const rows = (file: string): { resources: Set<string>; side: Set<string>; resourceOf: Map<string, string> } => {
      const d = new Database(file, { readonly: true });
      const resources = new Set(
        (d.prepare("SELECT type, id, version, hash FROM resources WHERE tenant = 't'").raw().all() as string[][]).map((r) => r.join('|')),
      );
      const side = new Set<string>();
      const resourceOf = new Map<string, string>();
      for (const r of d.prepare("SELECT type, id, patient_id, n FROM compartment WHERE tenant = 't'").raw().all() as string[][]) {
        side.add(`c|${r.join('|')}`);
        resourceOf.set(`c|${r.join('|')}`, `${r[0]}|${r[1]}`);
      }
      for (const r of d.prepare("SELECT src_type, src_id, tgt_type, tgt_id, at FROM refs WHERE tenant = 't'").raw().all() as string[][]) {
        side.add(`r|${r.join('|')}`);
        resourceOf.set(`r|${r.join('|')}`, `${r[0]}|${r[1]}`);
      }
      d.close();
      return { resources, side, resourceOf };
    };
    const expected = rows(join(dir, 'db.sqlite'));
    const killed = rows(db);
    const present = new Set([...killed.resources].map((r) => r.split('|').slice(0, 2).join('|')));
    expect(killed.resources.size).toBeGreaterThan(0);
    // Every resource written is written whole: its content, its compartment and its references; nothing else is.
    for (const r of killed.resources) expect(expected.resources.has(r), r).toBe(true);
    const expectedSide = [...expected.side].filter((x) => present.has(expected.resourceOf.get(x) as string)).sort();
    expect([...killed.side].sort()).toEqual(expectedSide);
    // Files are imported in name order, in writes of 100 resources that also end with each file, each write one
    // transaction per type (a DiagnosticReport's inline attachments become Binary resources): what is there is the
    // first of these transactions, each whole.
    const files = (await readdir(population))
      .filter((f) => f.endsWith('.ndjson'))
      .sort()
      .map((f) => join(population, f));
    const transactions: string[][] = [];
    let write = new Map<string, string[]>();
    let inWrite = 0;
    const endWrite = (): void => {
      transactions.push(...write.values());
      write = new Map();
      inWrite = 0;
    };
    for await (const event of parseFiles(files, { maxGroupMembers: 10, batchSize: 100 })) {
      if (event.kind === 'resources') {
        for (const item of event.items) {
          write.set(item.type, [...(write.get(item.type) ?? []), `${item.type}|${item.id}`]);
          if (++inWrite === 100) endWrite();
        }
      } else if (event.kind === 'progress' && event.fileDone) {
        endWrite();
      }
    }
    let whole = 0;
    while (whole < transactions.length && (transactions[whole] as string[]).every((key) => present.has(key))) whole++;
    expect(transactions.slice(0, whole).reduce((n, t) => n + t.length, 0), 'the first transactions, each whole').toBe(present.size);

    // Run again: what was written is unchanged, the rest is created, and the store ends as a clean import leaves it.
    const again = openSqliteStore(db);
    const second = await importPaths({ resources: again.resources, tenant: 't', paths: [population], maxGroupMembers: 10 });
    await again.close();
    const totals = Object.values(second.counts).reduce((a, c) => ({ created: a.created + c.created, unchanged: a.unchanged + c.unchanged, updated: a.updated + c.updated }), {
      created: 0,
      unchanged: 0,
      updated: 0,
    });
    expect(totals).toEqual({ created: clean.accepted - killed.resources.size, unchanged: killed.resources.size, updated: 0 });
    const final = rows(db);
    expect([...final.resources].sort()).toEqual([...expected.resources].sort());
    expect([...final.side].sort()).toEqual([...expected.side].sort());
  }, 120_000);
});

describe('flatfhir import (command)', () => {
  it('prints counts per type and exits 2 when something was rejected', async () => {
    const file = join(dir, 'in.ndjson');
    await writeFile(file, `${JSON.stringify({ resourceType: 'Patient', id: 'a' })}\nnot json\n`);
    const run = promisify(execFile);
    const error = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'import', '--tenant', 't', '--data', join(dir, 'data'), file], {
      cwd: join(import.meta.dirname, '..'),
    }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect((error as { code: number }).code).toBe(2);
    expect((error as { stdout: string }).stdout).toMatch(/Patient\s+1\s+0\s+0/);
    expect((error as { stderr: string }).stderr).toContain(`rejected ${file}:2: malformed JSON`);
    // A truncated gzip file: still exit 2, naming the file and the line.
    const cut = join(dir, 'cut.ndjson.gz');
    const whole = gzipSync(Array.from({ length: 500 }, (_, i) => `${JSON.stringify({ resourceType: 'Patient', id: `q${i}` })}\n`).join(''));
    await writeFile(cut, whole.subarray(0, whole.length - 20));
    const truncated = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'import', '--tenant', 't', '--data', join(dir, 'data'), cut], {
      cwd: join(import.meta.dirname, '..'),
    }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect((truncated as { code: number }).code).toBe(2);
    expect((truncated as { stderr: string }).stderr).toMatch(new RegExp(`rejected ${cut}:\\d+: the gzip data is truncated or corrupt`));
  });
});

async function firstId(s: Store, tenant: string, type: string): Promise<string | undefined> {
  for await (const batch of s.resources.scan({ tenant, type, until: Date.now() + 1000 })) return batch[0]?.id;
  return undefined;
}
