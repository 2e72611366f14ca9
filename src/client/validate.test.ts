import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkNdjson } from './validate.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flatfhir-validate-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const file = async (name: string, text: string): Promise<string> => {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
};

describe('checkNdjson', () => {
  it('counts lines of the right type (CRLF and a missing final newline are fine)', async () => {
    const p = await file('ok.ndjson', '{"resourceType":"Patient","id":"1"}\r\n{"resourceType":"Patient","id":"2"}');
    expect(await checkNdjson(p, 'Patient', 2)).toEqual({ ok: true, lines: 2 });
    expect(await checkNdjson(await file('empty.ndjson', ''), 'Patient')).toEqual({ ok: true, lines: 0 });
  });
  it('finds the first bad line, a wrong type, a wrong count', async () => {
    const p = await file('bad.ndjson', '{"resourceType":"Patient"}\n[1]\n');
    expect(await checkNdjson(p, 'Patient')).toMatchObject({ ok: false, error: 'line 2 has resourceType null, expected Patient' });
    expect(await checkNdjson(await file('nojson.ndjson', '{"resourceType":"Patient"}\n{oops\n'), 'Patient')).toMatchObject({ error: 'line 2 is not JSON' });
    expect(await checkNdjson(await file('count.ndjson', '{"resourceType":"Patient"}\n'), 'Patient', 3)).toMatchObject({
      ok: false,
      error: "1 resources, but the manifest's count is 3",
    });
  });
});
