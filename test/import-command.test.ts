/** `flatfhir import` as users run it: the types it stores but no export writes are named with their counts. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { importCommand, notExportedLine } from '../src/cli/import-command.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flatfhir-import-cmd-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  try {
    await importCommand().exitOverride().parseAsync(args, { from: 'user' });
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = 0;
  }
  return { out, err };
}

describe('flatfhir import', () => {
  it('prints "stored, not exported" for types no export writes', async () => {
    const file = join(dir, 'mixed.ndjson');
    const lines = [
      { resourceType: 'Patient', id: 'p1' },
      { resourceType: 'Claim', id: 'c1', patient: { reference: 'Patient/p1' } },
      { resourceType: 'Claim', id: 'c2', patient: { reference: 'Patient/p1' } },
      { resourceType: 'ImagingStudy', id: 'i1', subject: { reference: 'Patient/p1' } },
      { resourceType: 'Group', id: 'g1', type: 'person', actual: true, member: [{ entity: { reference: 'Patient/p1' } }] },
    ];
    await writeFile(file, lines.map((l) => JSON.stringify(l)).join('\n'));
    const { out, err } = await run(['--data', join(dir, 'data'), '--tenant', 'imp', file]);
    expect(out).toContain('stored, not exported: Claim 2, ImagingStudy 1 (flatfhir exports 22 types: see the README)\n');
    expect(out).not.toMatch(/not exported:.*(Patient|Group)/);
    expect(err).toContain('using the SQLite store');
  });

  it('says nothing when every type is exported, and groups thousands', () => {
    expect(notExportedLine({ Patient: { created: 1, updated: 0, unchanged: 0 } })).toBe('');
    expect(notExportedLine({ Claim: { created: 6000, updated: 80, unchanged: 3 } })).toMatch(/^stored, not exported: Claim 6,083 /);
  });

  it('refuses a tenant id that breaks the rule, creating nothing', async () => {
    await expect(run(['--data', join(dir, 'data'), '--tenant', 'my tenant', dir])).rejects.toThrow(/not a valid tenant id/);
  });
});
