import { describe, expect, it } from 'vitest';
import { localManifest, planFiles } from './plan.js';
import type { Manifest } from './types.js';

const manifest: Manifest = {
  transactionTime: '2025-01-01T00:00:00Z',
  request: 'https://x/fhir/$export',
  requiresAccessToken: true,
  output: [
    { type: 'Patient', url: 'https://x/f/1', count: 2 },
    { type: 'Observation', url: 'https://x/f/2' },
    { type: 'Patient', url: 'https://x/f/3', count: 1 },
    { type: '../evil', url: 'https://x/f/4' },
  ],
  error: [{ type: 'OperationOutcome', url: 'https://x/f/5' }],
  deleted: [{ type: 'Bundle', url: 'https://x/f/6' }],
};

describe('planFiles', () => {
  it('names files by type and position, errors and deletions apart, never outside the directory', () => {
    const files = planFiles(manifest);
    expect(files.map((f) => f.name)).toEqual([
      'Patient.000.ndjson',
      'Observation.000.ndjson',
      'Patient.001.ndjson',
      '___evil.000.ndjson',
      'error.OperationOutcome.000.ndjson',
      'deleted.Bundle.000.ndjson',
    ]);
    expect(files[0]).toMatchObject({ kind: 'output', type: 'Patient', count: 2, index: 0 });
    expect(files[1]?.count).toBeUndefined();
    expect(localManifest(manifest, files).output.map((o) => o['file'])).toEqual(files.slice(0, 4).map((f) => f.name));
  });
});
