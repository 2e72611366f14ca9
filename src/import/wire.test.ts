import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { prepareResource } from '../fhir/prepare.js';
import type { PreparedResource } from '../fhir/resource.js';
import { packResources, unpackResources } from './wire.js';

const fixture = (type: string): PreparedResource[] =>
  gunzipSync(readFileSync(new URL(`../../test/fixtures/synthea-100/${type}.ndjson.gz`, import.meta.url)))
    .toString('utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .slice(0, 200)
    .map((line) => prepareResource(JSON.parse(line)));

describe('the parser-to-writer wire format', () => {
  it('gives back the prepared Synthea resources exactly, through a structured clone', () => {
    // Patients (many search values), Encounters (references, dates) and a Provenance (targets, recordedAt)
    // together cover every field.
    const provenance = prepareResource({
      resourceType: 'Provenance',
      id: 'prov-1',
      target: [{ reference: 'Encounter/e1' }, { reference: 'Patient/p1' }],
      recorded: '2020-01-02T03:04:05Z',
      agent: [{ who: { reference: 'Practitioner/pr1' } }],
    });
    const items = [...fixture('Patient'), ...fixture('Encounter'), provenance];
    expect(items.some((i) => i.refs.length > 0 && i.recordedAt !== null)).toBe(true);
    expect(items.some((i) => (i.searchValues ?? []).some((v) => v.lo !== null))).toBe(true);
    expect(unpackResources(structuredClone(packResources(items)))).toEqual(items);
  });

  it('keeps a resource without search values without the field, and nulls as nulls', () => {
    const items: PreparedResource[] = [
      { type: 'Binary', id: 'b1', contentHash: 'h', patients: [], refs: [], recordedAt: null, template: ['{"a":', '}'] },
      {
        type: 'Observation',
        id: 'o1',
        contentHash: 'h2',
        patients: ['p1', 'p2'],
        refs: [{ type: 'Location', id: 'l1' }],
        recordedAt: null,
        template: ['', ''],
        searchValues: [{ param: 'code', sys: null, val: '1', lo: null, hi: null }],
      },
    ];
    const back = unpackResources(packResources(items));
    expect(back).toEqual(items);
    expect('searchValues' in (back[0] as PreparedResource)).toBe(false);
  });

  it('gives nothing for an empty batch', () => {
    expect(unpackResources(packResources([]))).toEqual([]);
  });
});
