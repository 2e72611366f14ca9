import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareResource } from '../fhir/prepare.js';
import type { ExportJob, Store } from '../store/ports.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import type { ExportParams } from './kickoff.js';
import { planExport, type Slice } from './planner.js';

describe('planExport of a system export without _since', () => {
  let dir: string;
  let store: Store;
  let until: number;
  const live = Array.from({ length: 11 }, (_, i) => `p${String(i + 1).padStart(2, '0')}`).filter((id) => id !== 'p04');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flatfhir-planner-'));
    store = openSqliteStore(join(dir, 'flatfhir.sqlite'));
    const ids = Array.from({ length: 11 }, (_, i) => `p${String(i + 1).padStart(2, '0')}`);
    await store.resources.writeBatch('t', ids.map((id) => prepareResource({ resourceType: 'Patient', id })));
    await store.resources.deleteResource('t', 'Patient', 'p04');
    until = await store.resources.snapshotTime('t');
    // Written after the snapshot: in no slice.
    await store.resources.writeBatch('t', [prepareResource({ resourceType: 'Patient', id: 'p00' })]);
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const job = (): ExportJob =>
    ({ id: 'j', tenant: 't', kind: 'system', transactionTime: until, params: {} }) as unknown as ExportJob;
  const params: ExportParams = { kind: 'system', types: ['Patient', 'Condition'], outputFormat: 'application/fhir+ndjson', typeFilters: {}, provenance: null, warnings: [] };

  // Sizes below, at, and above the live count, and ones that divide it and do not.
  for (const chunkResources of [1, 3, 5, 10, 11]) {
    it(`slices every live resource into exactly one chunk, estimates adding up (${chunkResources} per chunk)`, async () => {
      const chunks = await planExport({ job: job(), params, until, resources: store.resources, chunkResources });
      // No rows of Condition: no chunk for it.
      expect(chunks.every((c) => c.type === 'Patient')).toBe(true);
      const seen: string[] = [];
      for (const c of chunks) {
        const slice = c.slice as Extract<Slice, { mode: 'ids' }>;
        expect(slice.mode).toBe('ids');
        let n = 0;
        for await (const batch of store.resources.scan({ tenant: 't', type: 'Patient', until, ids: { ...(slice.after !== undefined ? { after: slice.after } : {}), ...(slice.to !== undefined ? { to: slice.to } : {}) } })) {
          for (const r of batch) seen.push(r.id);
          n += batch.length;
        }
        expect(n).toBe(c.estimate);
      }
      expect(seen).toEqual(live);
      expect(chunks.length).toBe(Math.ceil(live.length / chunkResources));
    });
  }
});
