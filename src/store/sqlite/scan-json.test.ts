import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareResource } from '../../fhir/prepare.js';
import type { ReferencedScanRequest, ScanRequest, Store } from '../ports.js';
import { openSqliteStore } from './index.js';

describe('SQLite scanJson and idBoundaries', () => {
  let dir: string;
  let store: Store;
  let before: number;
  let after: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flatfhir-scan-json-'));
    store = openSqliteStore(join(dir, 'flatfhir.sqlite'));
    const r = store.resources;
    await r.writeBatch('t', [
      ...Array.from({ length: 1200 }, (_, i) => prepareResource({ resourceType: 'Patient', id: `p${String(i).padStart(4, '0')}`, gender: 'female' })),
      prepareResource({ resourceType: 'Practitioner', id: 'dr1' }),
      prepareResource({ resourceType: 'Practitioner', id: 'dr2' }),
      prepareResource({ resourceType: 'Encounter', id: 'e1', status: 'finished', subject: { reference: 'Patient/p0001' }, participant: [{ individual: { reference: 'Practitioner/dr2' } }] }),
    ]);
    before = await r.snapshotTime('t');
    // A new version (the old one moves to history) and a deletion after the first snapshot.
    await r.writeBatch('t', [prepareResource({ resourceType: 'Patient', id: 'p0007', gender: 'male' })]);
    await r.deleteResource('t', 'Patient', 'p0008');
    after = await r.snapshotTime('t');
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const rows = async (request: { scan: ScanRequest } | { referenced: ReferencedScanRequest }): Promise<{ batches: number[]; json: string[] }> => {
    const r = store.resources;
    const batches: number[] = [];
    const json: string[] = [];
    for await (const b of 'scan' in request ? r.scan(request.scan) : r.scanReferenced(request.referenced)) {
      batches.push(b.length);
      json.push(...b.map((x) => x.json as string));
    }
    return { batches, json };
  };
  const texts = async (request: { scan: ScanRequest } | { referenced: ReferencedScanRequest }): Promise<{ batches: number[]; json: string[] }> => {
    const batches: number[] = [];
    const json: string[] = [];
    for await (const b of store.resources.scanJson?.(request) ?? []) {
      batches.push(b.length);
      json.push(...b.map((x) => x.toString()));
    }
    return { batches, json };
  };

  it('gives the JSON of the rows scan gives, in the same order, in batches of at most 128, at any snapshot', async () => {
    for (const until of [before, after]) {
      for (const scan of [
        { tenant: 't', type: 'Patient', until },
        { tenant: 't', type: 'Patient', until, ids: { after: 'p0005', to: 'p0900' } },
        { tenant: 't', type: 'Patient', until, since: before },
      ] satisfies ScanRequest[]) {
        const expected = await rows({ scan });
        const got = await texts({ scan });
        expect(got.json).toEqual(expected.json);
        expect(Math.max(...got.batches)).toBeLessThanOrEqual(128);
      }
    }
    const atBefore = await texts({ scan: { tenant: 't', type: 'Patient', until: before } });
    expect(atBefore.json).toHaveLength(1200);
    expect(atBefore.batches.length).toBeGreaterThan(1);
    expect(atBefore.json.find((j) => j.includes('"id":"p0007"'))).toContain('"female"');
    const atAfter = await texts({ scan: { tenant: 't', type: 'Patient', until: after } });
    expect(atAfter.json).toHaveLength(1199);
    expect(atAfter.json.find((j) => j.includes('"id":"p0007"'))).toContain('"male"');
  });

  it('gives the referenced resources scanReferenced gives', async () => {
    const referenced = { tenant: 't', type: 'Practitioner', until: after, sourceTypes: ['Encounter'] } satisfies ReferencedScanRequest;
    const got = await texts({ referenced });
    expect(got.json).toEqual((await rows({ referenced })).json);
    expect(got.json).toHaveLength(1);
    expect(got.json[0]).toContain('"id":"dr2"');
  });

  it('idBoundaries: every step-th live id at the snapshot, stepping the index or listing every id', async () => {
    // At the latest snapshot (the current rows: a resource updated since an older snapshot is not among them).
    const ids: string[] = [];
    for await (const b of store.resources.scan({ tenant: 't', type: 'Patient', until: after })) ids.push(...b.map((r) => r.id));
    expect(ids).toHaveLength(1199);
    for (const step of [1, 7, 16, 17, 100, 599, 1199, 1200, 5000]) {
      expect(await store.resources.idBoundaries('t', 'Patient', after, step)).toEqual(ids.filter((_, i) => (i + 1) % step === 0));
    }
  });

  it('refuses tombstone scans, whose rows have no JSON', () => {
    expect(() => store.resources.scanJson?.({ scan: { tenant: 't', type: 'Patient', until: after, deleted: true } })).toThrow(/live resources only/);
  });
});
