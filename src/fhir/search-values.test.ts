import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { prepareResource, storedJson, storedSearchValues } from './prepare.js';
import type { FhirResource } from './resource.js';
import { dateRange } from './search-values.js';

describe('dateRange', () => {
  it('gives the instants a FHIR date or dateTime covers', () => {
    expect(dateRange('2024')).toEqual({ lo: Date.UTC(2024, 0, 1), hi: Date.UTC(2025, 0, 1) - 1 });
    expect(dateRange('2024-02')).toEqual({ lo: Date.UTC(2024, 1, 1), hi: Date.UTC(2024, 2, 1) - 1 });
    expect(dateRange('2024-02-29')).toEqual({ lo: Date.UTC(2024, 1, 29), hi: Date.UTC(2024, 2, 1) - 1 });
    expect(dateRange('2024-05-01T08:00:00Z')).toEqual({ lo: Date.UTC(2024, 4, 1, 8), hi: Date.UTC(2024, 4, 1, 8) + 999 });
  });

  it('refuses months and days that do not exist rather than rolling them over', () => {
    for (const bad of ['2024-13', '2024-00', '2024-13-45', '2023-02-29', '2024-04-31', '2024-01-00', '2024-01-32T00:00:00Z']) {
      expect(dateRange(bad), bad).toBeUndefined();
    }
  });
});

describe('storedSearchValues', () => {
  it('finds in the stored JSON of every Synthea resource the patients and values its write extracted', () => {
    const dir = join(import.meta.dirname, '../../test/fixtures/synthea-100');
    let withValues = 0;
    for (const name of readdirSync(dir).filter((f) => f.endsWith('.ndjson.gz'))) {
      for (const line of gunzipSync(readFileSync(join(dir, name))).toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        // As a client would send it, with a version of its own: the stored JSON gets the server's.
        const resource = JSON.parse(line) as FhirResource;
        resource.meta = { ...resource.meta, versionId: 'client', lastUpdated: '2000-01-01T00:00:00Z' };
        const written = prepareResource(resource);
        const found = storedSearchValues(storedJson(written, 7, Date.UTC(2024, 4, 8)));
        expect(found).toEqual({ type: written.type, id: written.id, patients: written.patients, searchValues: written.searchValues ?? [] });
        if ((written.searchValues?.length ?? 0) > 0) withValues++;
      }
    }
    expect(withValues).toBeGreaterThan(10_000);
  });

  it('finds nothing in what is not JSON', () => {
    expect(storedSearchValues('{"resourceType":')).toBeUndefined();
  });
});
