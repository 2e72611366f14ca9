import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenedStore, storeAdapters } from './helpers/store-adapters.js';
import { prepareResource } from '../src/fhir/prepare.js';
import type { ExportJob, NewJob, RegisteredClient, ResourceStore, Store, StoredResource } from '../src/store/ports.js';
import type { FhirResource, PreparedResource } from '../src/fhir/resource.js';

/**
 * One contract for every store adapter: the same assertions run against SQLite and PostgreSQL. Each test
 * uses its own tenants/clients, so tests share one store per adapter without seeing each other's data.
 */

/** The clock every adapter writes with; tests set it to make timestamps predictable. */
const clock = { now: 1_700_000_000_000 };
const now = (): number => clock.now;

const adapters = storeAdapters('contract', now);

let counter = 0;
const uniq = (prefix: string): string => `${prefix}${++counter}`;

const patient = (id: string, extra: Record<string, unknown> = {}): PreparedResource =>
  prepareResource({ resourceType: 'Patient', id, ...extra });

/** An Observation in `subject`'s compartment; `performers` are full references (Patient/… adds compartments). */
const observation = (id: string, subject: string, opts: { performers?: string[]; text?: string } = {}): PreparedResource =>
  prepareResource({
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { text: opts.text ?? 'code' },
    subject: { reference: `Patient/${subject}` },
    ...(opts.performers ? { performer: opts.performers.map((reference) => ({ reference })) } : {}),
  });

const practitioner = (id: string, name = 'Doe'): PreparedResource =>
  prepareResource({ resourceType: 'Practitioner', id, name: [{ family: name }] });

const provenance = (id: string, target: string, recorded: string): PreparedResource =>
  prepareResource({
    resourceType: 'Provenance',
    id,
    target: [{ reference: target }],
    recorded,
    agent: [{ who: { reference: 'Practitioner/agent' } }],
  });

async function collect(batches: AsyncIterable<StoredResource[]>): Promise<StoredResource[]> {
  const out: StoredResource[] = [];
  for await (const batch of batches) {
    expect(batch.length).toBeGreaterThan(0);
    out.push(...batch);
  }
  return out;
}

const idsOf = (rows: StoredResource[]): string[] => rows.map((r) => r.id);
const sorted = (xs: string[]): string[] => [...xs].sort();
const parsed = (r: StoredResource | undefined): FhirResource => {
  expect(r?.json).toBeTypeOf('string');
  return JSON.parse(r?.json as string) as FhirResource;
};

function newJob(tenant: string, clientId: string, extra: Partial<NewJob> = {}): NewJob {
  return {
    id: uniq('job-'),
    tenant,
    clientId,
    kind: 'group',
    request: `https://flatfhir.test/${tenant}/Group/g1/$export?_type=Observation`,
    requestHash: uniq('hash-'),
    params: { types: ['Observation'], since: null, nested: { a: [1, 'x'] } },
    transactionTime: clock.now,
    createdAt: clock.now,
    expiresAt: clock.now + 3_600_000,
    ...extra,
  };
}

function created(result: { job: ExportJob } | { conflict: ExportJob }): ExportJob {
  if (!('job' in result)) throw new Error(`unexpected conflict with job ${result.conflict.id}`);
  return result.job;
}

describe.each(adapters)('store contract: $name', (adapter) => {
  let opened: OpenedStore;
  let store: Store;
  let r: ResourceStore;

  beforeAll(async () => {
    opened = await adapter.open();
    store = opened.store;
    r = store.resources;
  });

  afterAll(async () => {
    await opened?.cleanup();
  });

  describe('resources', () => {
    it('writes and reads, filling versionId and lastUpdated into the stored JSON', async () => {
      const t = uniq('tenant-');
      clock.now = 1_700_000_000_000;
      const counts = await r.writeBatch(t, [
        patient('p1', { meta: { versionId: '9', lastUpdated: '2001-01-01T00:00:00Z', source: 'urn:src' }, active: true }),
        observation('o1', 'p1'),
      ]);
      expect(counts).toEqual({ created: 2, updated: 0, unchanged: 0, deleted: 0 });

      const p1 = await r.read(t, 'Patient', 'p1');
      expect(p1).toMatchObject({ type: 'Patient', id: 'p1', versionId: 1, lastUpdated: clock.now, deleted: false });
      expect(typeof p1?.lastUpdated).toBe('number');
      const json = parsed(p1);
      expect(json).toEqual({
        resourceType: 'Patient',
        id: 'p1',
        meta: { source: 'urn:src', versionId: '1', lastUpdated: new Date(clock.now).toISOString() },
        active: true,
      });
      expect(Object.keys(json).slice(0, 3)).toEqual(['resourceType', 'id', 'meta']);
      const o1 = await r.read(t, 'Observation', 'o1');
      expect(o1?.lastUpdated).toBe(p1?.lastUpdated);
      expect(parsed(o1).meta).toEqual({ versionId: '1', lastUpdated: new Date(clock.now).toISOString() });

      expect(await r.read(t, 'Patient', 'missing')).toBeUndefined();
      expect(await r.read(t, 'Observation', 'p1')).toBeUndefined();
      expect(await r.listTenants()).toContain(t);
      expect(await r.writeBatch(t, [])).toEqual({ created: 0, updated: 0, unchanged: 0, deleted: 0 });
    });

    it('ensureTenant registers a tenant once', async () => {
      const t = uniq('tenant-');
      await r.ensureTenant(t);
      await r.ensureTenant(t);
      const tenants = await r.listTenants();
      expect(tenants.filter((x) => x === t)).toEqual([t]);
      expect(tenants).toEqual(sorted(tenants));
    });

    it('gives each batch a tenant clock tick: max(clock + 1, now)', async () => {
      const t = uniq('tenant-');
      clock.now = 1_700_000_100_000;
      await r.writeBatch(t, [patient('a'), patient('b')]);
      const a = await r.read(t, 'Patient', 'a');
      const b = await r.read(t, 'Patient', 'b');
      expect(a?.lastUpdated).toBe(clock.now);
      expect(b?.lastUpdated).toBe(clock.now);

      await r.writeBatch(t, [patient('c')]);
      expect((await r.read(t, 'Patient', 'c'))?.lastUpdated).toBe(clock.now + 1);
      clock.now -= 60_000; // the wall clock going backwards never reorders writes
      await r.writeBatch(t, [patient('d')]);
      expect((await r.read(t, 'Patient', 'd'))?.lastUpdated).toBe(1_700_000_100_002);

      const snapshot = await r.snapshotTime(t);
      expect(snapshot).toBeGreaterThanOrEqual(1_700_000_100_002);
      await r.writeBatch(t, [patient('e')]);
      expect((await r.read(t, 'Patient', 'e'))?.lastUpdated).toBeGreaterThan(snapshot);

      clock.now = 1_700_000_200_000;
      await r.writeBatch(t, [patient('f')]);
      expect((await r.read(t, 'Patient', 'f'))?.lastUpdated).toBe(clock.now);

      // Concurrent batches of one tenant get distinct timestamps.
      await Promise.all(['g1', 'g2', 'g3', 'g4', 'g5'].map((id) => r.writeBatch(t, [patient(id)])));
      const stamps = await Promise.all(['g1', 'g2', 'g3', 'g4', 'g5'].map(async (id) => (await r.read(t, 'Patient', id))?.lastUpdated));
      expect(new Set(stamps).size).toBe(5);
      for (const s of stamps) expect(s).toBeGreaterThan(clock.now);
    });

    it('keeps the version of unchanged content (idempotent re-write)', async () => {
      const t = uniq('tenant-');
      await r.writeBatch(t, [patient('p', { active: true })]);
      const before = await r.read(t, 'Patient', 'p');
      clock.now += 1000;
      const counts = await r.writeBatch(t, [
        // Server meta in the input does not count as content.
        patient('p', { active: true, meta: { versionId: '7', lastUpdated: '2020-01-01T00:00:00.000Z' } }),
      ]);
      expect(counts).toEqual({ created: 0, updated: 0, unchanged: 1, deleted: 0 });
      expect(await r.read(t, 'Patient', 'p')).toEqual(before);
    });

    it('bumps version and lastUpdated when content changes, and keeps the old version readable', async () => {
      const t = uniq('tenant-');
      await r.writeBatch(t, [patient('p', { active: true })]);
      const v1 = await r.read(t, 'Patient', 'p');
      clock.now += 1000;
      const counts = await r.writeBatch(t, [patient('p', { active: false }), patient('q')]);
      expect(counts).toEqual({ created: 1, updated: 1, unchanged: 0, deleted: 0 });
      const v2 = await r.read(t, 'Patient', 'p');
      expect(v2?.versionId).toBe(2);
      expect(v2?.lastUpdated).toBeGreaterThan(v1?.lastUpdated as number);
      expect(parsed(v2)).toMatchObject({ active: false, meta: { versionId: '2', lastUpdated: new Date(v2?.lastUpdated as number).toISOString() } });

      const v1Time = v1?.lastUpdated as number;
      expect(await r.readAt(t, 'Patient', 'p', v1Time)).toEqual(v1);
      expect(await r.readAt(t, 'Patient', 'p', (v2?.lastUpdated as number) - 1)).toEqual(v1);
      expect(await r.readAt(t, 'Patient', 'p', v1Time - 1)).toBeUndefined();
      expect(await r.readAt(t, 'Patient', 'p', v2?.lastUpdated as number)).toEqual(v2);

      expect(await r.writeBatch(t, [patient('p', { active: false })])).toEqual({ created: 0, updated: 0, unchanged: 1, deleted: 0 });
      expect((await r.read(t, 'Patient', 'p'))?.versionId).toBe(2);
    });

    it('applies repeated keys of one batch in order', async () => {
      const t = uniq('tenant-');
      const counts = await r.writeBatch(t, [patient('dup', { active: true }), patient('dup', { active: false }), patient('same'), patient('same')]);
      expect(counts).toEqual({ created: 2, updated: 1, unchanged: 1, deleted: 0 });
      const dup = await r.read(t, 'Patient', 'dup');
      expect(dup?.versionId).toBe(2);
      expect(parsed(dup)).toMatchObject({ active: false, meta: { versionId: '2' } });
      expect((await r.read(t, 'Patient', 'same'))?.versionId).toBe(1);
      const all = await collect(r.scan({ tenant: t, type: 'Patient', until: await r.snapshotTime(t) }));
      expect(idsOf(all)).toEqual(['dup', 'same']);
    });

    it('writes a batch all or nothing', async () => {
      const t = uniq('tenant-');
      await r.writeBatch(t, [patient('existing', { active: true })]);
      const broken = { ...patient('broken'), contentHash: null as unknown as string };
      await expect(r.writeBatch(t, [patient('existing', { active: false }), patient('fresh'), broken])).rejects.toThrow();
      expect(await r.read(t, 'Patient', 'fresh')).toBeUndefined();
      expect(parsed(await r.read(t, 'Patient', 'existing'))).toMatchObject({ active: true, meta: { versionId: '1' } });
      // The store is still usable afterwards.
      expect(await r.writeBatch(t, [patient('fresh')])).toMatchObject({ created: 1 });
    });

    it('isolates tenants', async () => {
      const a = uniq('tenant-a-');
      const b = uniq('tenant-b-');
      await r.writeBatch(a, [
        patient('shared', { name: [{ family: 'A' }] }),
        patient('only-a'),
        observation('obs-a', 'only-a', { performers: ['Practitioner/pr-a'] }),
        practitioner('pr-a'),
      ]);
      await r.writeBatch(b, [patient('shared', { name: [{ family: 'B' }] })]);
      const untilB = await r.snapshotTime(b);

      expect(await r.read(b, 'Patient', 'only-a')).toBeUndefined();
      expect(await r.read(b, 'Practitioner', 'pr-a')).toBeUndefined();
      expect(parsed(await r.read(b, 'Patient', 'shared'))).toMatchObject({ name: [{ family: 'B' }] });
      expect(parsed(await r.read(a, 'Patient', 'shared'))).toMatchObject({ name: [{ family: 'A' }] });

      expect(idsOf(await collect(r.scan({ tenant: b, type: 'Patient', until: untilB })))).toEqual(['shared']);
      expect(await collect(r.scan({ tenant: b, type: 'Observation', until: untilB }))).toEqual([]);
      expect(await r.count({ tenant: b, type: 'Patient', until: untilB })).toBe(1);
      expect(await r.countByType(b)).toEqual({ Patient: 1 });
      expect(await r.countByType(a)).toEqual({ Patient: 2, Observation: 1, Practitioner: 1 });
      expect(await r.idBoundaries(b, 'Patient', untilB, 1)).toEqual(['shared']);
      expect(
        await collect(r.scanReferenced({ tenant: b, type: 'Practitioner', until: untilB, sourceTypes: ['Observation'] })),
      ).toEqual([]);

      // A job of tenant B over a patient id that only tenant A has sees nothing.
      const job = created(await store.jobs.createJob(newJob(b, uniq('client-'), { patients: [{ id: 'only-a', fullHistory: true }] })));
      const scoped = { jobId: job.id };
      expect(await collect(r.scan({ tenant: b, type: 'Observation', until: untilB, patients: scoped }))).toEqual([]);
      expect(await r.count({ tenant: b, type: 'Observation', until: untilB, patients: scoped })).toBe(0);
      expect(
        await collect(r.scanReferenced({ tenant: b, type: 'Practitioner', until: untilB, sourceTypes: ['Observation'], jobId: job.id })),
      ).toEqual([]);
      await store.jobs.finishJob(job.id, 'completed', clock.now);

      // Deleting in A leaves B alone.
      expect(await r.deleteResource(a, 'Patient', 'shared')).toBe(true);
      expect(await r.deleteResource(b, 'Patient', 'only-a')).toBe(false);
      const untilB2 = await r.snapshotTime(b);
      expect((await r.read(b, 'Patient', 'shared'))?.deleted).toBe(false);
      expect(await collect(r.scan({ tenant: b, type: 'Patient', until: untilB2, deleted: true, since: 0 }))).toEqual([]);
      expect(idsOf(await collect(r.scan({ tenant: b, type: 'Patient', until: untilB2 })))).toEqual(['shared']);
    });

    it('scanJson gives the JSON of the rows scan gives, in order, as text or its UTF-8 bytes', async () => {
      // A tenant name and texts that need quoting, non-ASCII text, and a resource far larger than a network read.
      const t = uniq("tenant-o'brien\\-");
      const big = 'x'.repeat(300_000);
      await r.writeBatch(t, [
        patient('a', { name: [{ family: "O'Brien \\ Ünïcødé 🎉" }] }),
        patient('b', { text: { status: 'generated', div: big } }),
        patient('c'),
        ...Array.from({ length: 1200 }, (_, i) => observation(`o${String(i).padStart(4, '0')}`, 'a', { text: `tab\tline\n${i}` })),
      ]);
      await r.deleteResource(t, 'Patient', 'c');
      const until = await r.snapshotTime(t);
      if (!r.scanJson) return;
      const text = async (request: Parameters<NonNullable<typeof r.scanJson>>[0]): Promise<string[]> => {
        const out: string[] = [];
        for await (const batch of (r.scanJson as NonNullable<typeof r.scanJson>)(request)) for (const line of batch) out.push(typeof line === 'string' ? line : line.toString('utf8'));
        return out;
      };
      for (const scan of [
        { tenant: t, type: 'Patient', until },
        { tenant: t, type: 'Observation', until },
        { tenant: t, type: 'Observation', until, ids: { after: 'o0100', to: 'o1100' } },
      ]) {
        const rows = await collect(r.scan(scan));
        expect(rows.length).toBeGreaterThan(0);
        expect(await text({ scan })).toEqual(rows.map((x) => x.json));
      }
      const patients = await text({ scan: { tenant: t, type: 'Patient', until } });
      expect(patients).toHaveLength(2);
      expect(patients[1]).toBe((await r.read(t, 'Patient', 'b'))?.json);
      expect(patients[1]?.length).toBeGreaterThan(big.length);
    });

    it('gives its connection back (or a fresh one) when a scan is abandoned after its first batch', async () => {
      const t = uniq('tenant-');
      await r.writeBatch(t, Array.from({ length: 2500 }, (_, i) => observation(`o${String(i).padStart(4, '0')}`, 'p')));
      const until = await r.snapshotTime(t);
      const scan = { tenant: t, type: 'Observation', until };
      // More abandoned scans than a pool holds connections: none is kept busy by a scan left midway.
      for (let i = 0; i < 12; i++) {
        for await (const batch of i % 2 === 0 && r.scanJson ? r.scanJson({ scan }) : r.scan(scan)) {
          expect(batch.length).toBeGreaterThan(0);
          break;
        }
      }
      expect((await collect(r.scan(scan))).length).toBe(2500);
    });

    it('idBoundaries at an older snapshot lists the ids live then: updated and deleted since included, created since not', async () => {
      const t = uniq('tenant-');
      await r.writeBatch(t, [patient('a1'), patient('b2', { active: true }), patient('c3'), patient('d4')]);
      const snapshot = await r.snapshotTime(t);
      clock.now += 1000;
      await r.writeBatch(t, [patient('b2', { active: false }), patient('e5')]);
      expect(await r.deleteResource(t, 'Patient', 'c3')).toBe(true);
      // What a scan at the snapshot exports, computed apart: the ids idBoundaries(…, 1) must list.
      const exported = (await collect(r.scan({ tenant: t, type: 'Patient', until: snapshot }))).map((x) => x.id).sort();
      expect(exported).toEqual(['a1', 'b2', 'c3', 'd4']);
      expect(await r.idBoundaries(t, 'Patient', snapshot, 1)).toEqual(exported);
      expect(await r.idBoundaries(t, 'Patient', snapshot, 2)).toEqual(['b2', 'd4']);
      expect(await r.idBoundaries(t, 'Patient', await r.snapshotTime(t), 1)).toEqual(['a1', 'b2', 'd4', 'e5']);
    });

    it('deletes to a tombstone that scan({ deleted: true, since }) returns', async () => {
      const t = uniq('tenant-');
      await r.writeBatch(t, [patient('gone', { active: true }), patient('stays')]);
      const v1 = await r.read(t, 'Patient', 'gone');
      const beforeDelete = await r.snapshotTime(t);
      clock.now += 1000;

      expect(await r.deleteResource(t, 'Patient', 'gone')).toBe(true);
      const tomb = await r.read(t, 'Patient', 'gone');
      expect(tomb).toMatchObject({ type: 'Patient', id: 'gone', versionId: 2, deleted: true, json: null });
      expect(tomb?.lastUpdated).toBeGreaterThan(beforeDelete);
      expect(await r.deleteResource(t, 'Patient', 'gone')).toBe(false);
      expect(await r.deleteResource(t, 'Patient', 'never')).toBe(false);
      expect(await r.deleteResource(uniq('tenant-'), 'Patient', 'gone')).toBe(false);

      const afterDelete = await r.snapshotTime(t);
      const deleted = await collect(r.scan({ tenant: t, type: 'Patient', until: afterDelete, since: beforeDelete, deleted: true }));
      expect(deleted).toEqual([tomb]);
      expect(await r.count({ tenant: t, type: 'Patient', until: afterDelete, since: beforeDelete, deleted: true })).toBe(1);
      expect(await collect(r.scan({ tenant: t, type: 'Patient', until: afterDelete, since: afterDelete, deleted: true }))).toEqual([]);
      expect(idsOf(await collect(r.scan({ tenant: t, type: 'Patient', until: afterDelete })))).toEqual(['stays']);
      expect(await r.countByType(t)).toEqual({ Patient: 1 });
      expect(await r.readAt(t, 'Patient', 'gone', beforeDelete)).toEqual(v1);

      // Re-creating a deleted resource continues its version history.
      clock.now += 1000;
      expect(await r.writeBatch(t, [patient('gone', { active: true })])).toEqual({ created: 0, updated: 1, unchanged: 0, deleted: 0 });
      const back = await r.read(t, 'Patient', 'gone');
      expect(back).toMatchObject({ versionId: 3, deleted: false });
      expect(parsed(back).meta?.versionId).toBe('3');
      const afterRecreate = await r.snapshotTime(t);
      expect(await collect(r.scan({ tenant: t, type: 'Patient', until: afterRecreate, since: beforeDelete, deleted: true }))).toEqual([]);
      // ...while the snapshot between delete and re-create still has the tombstone.
      expect(await collect(r.scan({ tenant: t, type: 'Patient', until: afterDelete, since: beforeDelete, deleted: true }))).toEqual([tomb]);
      expect(await r.readAt(t, 'Patient', 'gone', afterDelete)).toEqual(tomb);
    });

    it('scans a consistent snapshot: versions current at `until`', async () => {
      const t = uniq('tenant-');
      await r.writeBatch(t, [observation('o1', 'p', { text: 'old' }), observation('d1', 'p'), observation('k1', 'p')]);
      const s1 = await r.snapshotTime(t);
      clock.now += 1000;
      await r.writeBatch(t, [observation('o1', 'p', { text: 'new' }), observation('n1', 'p')]);
      expect(await r.deleteResource(t, 'Observation', 'd1')).toBe(true);
      const s2 = await r.snapshotTime(t);
      expect((await r.read(t, 'Observation', 'o1'))?.lastUpdated).toBeGreaterThan(s1);
      expect((await r.read(t, 'Observation', 'n1'))?.lastUpdated).toBeGreaterThan(s1);
      expect((await r.read(t, 'Observation', 'n1'))?.lastUpdated).toBeLessThanOrEqual(s2);

      const atS1 = await collect(r.scan({ tenant: t, type: 'Observation', until: s1 }));
      expect(sorted(idsOf(atS1))).toEqual(['d1', 'k1', 'o1']);
      const oldO1 = atS1.find((x) => x.id === 'o1');
      expect(oldO1?.versionId).toBe(1);
      expect(parsed(oldO1)).toMatchObject({ code: { text: 'old' }, meta: { versionId: '1' } });
      expect(atS1.find((x) => x.id === 'd1')).toMatchObject({ deleted: false, versionId: 1 });

      const atS2 = await collect(r.scan({ tenant: t, type: 'Observation', until: s2 }));
      expect(idsOf(atS2)).toEqual(['k1', 'n1', 'o1']);
      expect(parsed(atS2.find((x) => x.id === 'o1'))).toMatchObject({ code: { text: 'new' }, meta: { versionId: '2' } });
      expect(await r.count({ tenant: t, type: 'Observation', until: s2 })).toBe(3);

      expect(idsOf(await collect(r.scan({ tenant: t, type: 'Observation', until: s2, since: s1 })))).toEqual(['n1', 'o1']);
      expect(await collect(r.scan({ tenant: t, type: 'Observation', until: s1, deleted: true }))).toEqual([]);
      expect(idsOf(await collect(r.scan({ tenant: t, type: 'Observation', until: s2, since: s1, deleted: true })))).toEqual(['d1']);
      expect((await r.readAt(t, 'Observation', 'o1', s1))?.versionId).toBe(1);
    });

    it('scans in id (byte) order, slices by id, and streams non-empty batches', async () => {
      const t = uniq('tenant-');
      const ids = ['Z', 'a', 'A-b', 'A.b', 'ab', '0', 'A', 'a-1', 'a.1', 'B'];
      await r.writeBatch(t, ids.map((id) => patient(id)));
      const until = await r.snapshotTime(t);
      const expected = sorted(ids); // UTF-16 code unit order = byte order for these ids
      expect(idsOf(await collect(r.scan({ tenant: t, type: 'Patient', until })))).toEqual(expected);
      expect(idsOf(await collect(r.scan({ tenant: t, type: 'Patient', until, ids: { after: 'A-b', to: 'a' } })))).toEqual([
        'A.b',
        'B',
        'Z',
        'a',
      ]);
      expect(await r.count({ tenant: t, type: 'Patient', until, ids: { after: 'A-b', to: 'a' } })).toBe(4);
      expect(idsOf(await collect(r.scan({ tenant: t, type: 'Patient', until, ids: { to: 'A' } })))).toEqual(['0', 'A']);
      expect(idsOf(await collect(r.scan({ tenant: t, type: 'Patient', until, ids: { after: 'a-1' } })))).toEqual(['a.1', 'ab']);
      expect(await r.idBoundaries(t, 'Patient', until, 3)).toEqual([expected[2], expected[5], expected[8]]);

      const many = Array.from({ length: 2345 }, (_, i) => patient(`m${String(i).padStart(5, '0')}`));
      await r.writeBatch(t, many);
      const until2 = await r.snapshotTime(t);
      const rows = await collect(r.scan({ tenant: t, type: 'Patient', until: until2, ids: { after: 'm' } }));
      expect(rows.length).toBe(2345);
      expect(idsOf(rows)).toEqual(many.map((m) => m.id));
    });

    it('releases its resources when a scan is abandoned early', async () => {
      const t = uniq('tenant-');
      await r.writeBatch(t, Array.from({ length: 2100 }, (_, i) => patient(`x${i}`)));
      const until = await r.snapshotTime(t);
      for (let i = 0; i < 12; i++) {
        for await (const batch of r.scan({ tenant: t, type: 'Patient', until })) {
          expect(batch.length).toBeGreaterThan(0);
          break;
        }
      }
      const iterator = r.scanReferenced({ tenant: t, type: 'Practitioner', until, sourceTypes: ['Patient'] })[Symbol.asyncIterator]();
      await iterator.return?.();
      expect(await r.count({ tenant: t, type: 'Patient', until })).toBe(2100);
      expect(await collect(r.scan({ tenant: t, type: 'Patient', until, ids: { to: 'x1' } }))).toHaveLength(2);
    });

    it('count, idBoundaries and countByType see live resources', async () => {
      const t = uniq('tenant-');
      const ids = Array.from({ length: 10 }, (_, i) => `p0${i}`);
      await r.writeBatch(t, [...ids.map((id) => patient(id)), observation('o1', 'p00'), observation('o2', 'p01'), observation('o3', 'p01')]);
      expect(await r.deleteResource(t, 'Patient', 'p04')).toBe(true);
      const until = await r.snapshotTime(t);
      clock.now += 1000;
      await r.writeBatch(t, [patient('p10')]);

      expect(await r.idBoundaries(t, 'Patient', until, 3)).toEqual(['p02', 'p06', 'p09']);
      expect(await r.idBoundaries(t, 'Patient', until, 4)).toEqual(['p03', 'p08']);
      expect(await r.idBoundaries(t, 'Patient', until, 100)).toEqual([]);
      expect(await r.idBoundaries(t, 'Patient', await r.snapshotTime(t), 5)).toEqual(['p05', 'p10']);
      expect(await r.idBoundaries(t, 'Patient', await r.snapshotTime(t), 1)).toEqual(ids.filter((id) => id !== 'p04').concat('p10'));
      expect(await r.idBoundaries(t, 'Condition', until, 1)).toEqual([]);

      expect(await r.countByType(t)).toEqual({ Patient: 10, Observation: 3 });
      expect(await r.countByType(uniq('tenant-'))).toEqual({});
      const latest = await r.snapshotTime(t);
      expect(await r.count({ tenant: t, type: 'Patient', until: latest })).toBe(10);
      expect(await r.count({ tenant: t, type: 'Patient', until: latest, since: until })).toBe(1);
      expect(await r.count({ tenant: t, type: 'Patient', until: latest, ids: { after: 'p02', to: 'p06' } })).toBe(3);
      expect(idsOf(await collect(r.scan({ tenant: t, type: 'Patient', until: latest, ids: { after: 'p02', to: 'p06' } })))).toEqual([
        'p03',
        'p05',
        'p06',
      ]);
      expect(await r.count({ tenant: t, type: 'Patient', until: latest, deleted: true, since: 0 })).toBe(1);
      expect(await r.count({ tenant: t, type: 'Encounter', until: latest })).toBe(0);
    });
  });

  describe('patient compartments', () => {
    it('scans the compartments of a job’s patients, each resource once across slices', async () => {
      const t = uniq('tenant-');
      clock.now = 1_700_001_000_000;
      await r.writeBatch(t, [
        patient('p1'),
        patient('p2'),
        patient('p3'),
        patient('p4'),
        observation('oA', 'p1'),
        observation('oB', 'p2', { performers: ['Patient/p3'] }), // p2 and p3: belongs to p2
        observation('oC', 'p3', { performers: ['Patient/p1'] }), // p1 and p3: belongs to p1
        observation('oD', 'p4'), // no member
        observation('oE', 'p4', { performers: ['Patient/p2'] }), // p4 is no member: belongs to p2
        observation('oF', 'p3'),
      ]);
      const job = created(
        await store.jobs.createJob(
          newJob(t, uniq('client-'), {
            patients: [
              { id: 'p3', fullHistory: false },
              { id: 'p1', fullHistory: false },
              { id: 'p2', fullHistory: true },
            ],
          }),
        ),
      );
      const s1 = await r.snapshotTime(t);
      const scan = (extra: { from?: string; to?: string; since?: number; until?: number; deleted?: boolean; type?: string } = {}) =>
        collect(
          r.scan({
            tenant: t,
            type: extra.type ?? 'Observation',
            until: extra.until ?? s1,
            ...(extra.since !== undefined ? { since: extra.since } : {}),
            ...(extra.deleted ? { deleted: true } : {}),
            patients: { jobId: job.id, ...(extra.from ? { from: extra.from } : {}), ...(extra.to ? { to: extra.to } : {}) },
          }),
        ).then(idsOf);

      expect(await scan()).toEqual(['oA', 'oC', 'oB', 'oE', 'oF']);
      // For compartment scans `count` may be an upper bound (entries of member patients, before dedupe).
      expect(await r.count({ tenant: t, type: 'Observation', until: s1, patients: { jobId: job.id } })).toBeGreaterThanOrEqual(5);
      const slices = [await scan({ to: 'p1' }), await scan({ from: 'p2', to: 'p2' }), await scan({ from: 'p3' })];
      expect(slices).toEqual([['oA', 'oC'], ['oB', 'oE'], ['oF']]);
      expect(sorted(slices.flat())).toEqual(['oA', 'oB', 'oC', 'oE', 'oF']);
      expect(await scan({ from: 'p1', to: 'p2' })).toEqual(['oA', 'oC', 'oB', 'oE']);
      expect(await r.count({ tenant: t, type: 'Observation', until: s1, patients: { jobId: job.id, from: 'p2', to: 'p2' } })).toBeGreaterThanOrEqual(2);
      expect(await scan({ type: 'Patient' })).toEqual(['p1', 'p2', 'p3']);
      expect(await scan({ type: 'Condition' })).toEqual([]);
      // everyCompartment: each patient's whole compartment (shared resources once per member patient).
      const whole = async (p: string) =>
        idsOf(await collect(r.scan({ tenant: t, type: 'Observation', until: s1, patients: { jobId: job.id, from: p, to: p, everyCompartment: true } })));
      expect([await whole('p1'), await whole('p2'), await whole('p3')]).toEqual([['oA', 'oC'], ['oB', 'oE'], ['oB', 'oC', 'oF']]);

      // Dedupe is among the job's own patients: a job of p3 alone gets everything in p3's compartment.
      const job3 = created(await store.jobs.createJob(newJob(t, uniq('client-'), { patients: [{ id: 'p3', fullHistory: false }] })));
      expect(idsOf(await collect(r.scan({ tenant: t, type: 'Observation', until: s1, patients: { jobId: job3.id } })))).toEqual([
        'oB',
        'oC',
        'oF',
      ]);

      // `since`: p1/p3 get only what changed; p2 (full history) gets everything.
      clock.now += 1000;
      await r.writeBatch(t, [observation('oA', 'p1', { text: 'changed' })]);
      const s2 = await r.snapshotTime(t);
      expect(await scan({ since: s1, until: s2 })).toEqual(['oA', 'oB', 'oE']);
      expect(await scan({ type: 'Patient', since: s1, until: s2 })).toEqual(['p2']);
      expect(await r.count({ tenant: t, type: 'Observation', until: s2, since: s1, patients: { jobId: job.id } })).toBeGreaterThanOrEqual(3);
      // The snapshot before the change still returns the old version, from history. (Order is not asserted
      // here: the SQLite adapter streams current rows first, then history rows.)
      const atS1 = await collect(r.scan({ tenant: t, type: 'Observation', until: s1, patients: { jobId: job.id, to: 'p1' } }));
      expect(atS1.map((x) => [x.id, x.versionId]).sort()).toEqual([
        ['oA', 1],
        ['oC', 1],
      ]);
      const atS2 = await collect(r.scan({ tenant: t, type: 'Observation', until: s2, patients: { jobId: job.id, to: 'p1' } }));
      expect(atS2.map((x) => [x.id, x.versionId])).toEqual([
        ['oA', 2],
        ['oC', 1],
      ]);

      // Tombstones in the compartments (full history does not bring back old deletions).
      clock.now += 1000;
      expect(await r.deleteResource(t, 'Observation', 'oC')).toBe(true);
      expect(await r.deleteResource(t, 'Observation', 'oD')).toBe(true);
      const s3 = await r.snapshotTime(t);
      expect(await scan({ deleted: true, since: s2, until: s3 })).toEqual(['oC']);
      expect(await scan({ deleted: true, since: s2, until: s3, from: 'p3' })).toEqual([]);
      expect(await scan({ deleted: true, since: s3, until: s3 })).toEqual([]);
      expect(await scan({ until: s3 })).toEqual(['oA', 'oB', 'oE', 'oF']);
      // A resource deleted after the snapshot is still in the scan at that snapshot.
      expect(sorted(await scan({ until: s2 }))).toEqual(['oA', 'oB', 'oC', 'oE', 'oF']);

      await store.jobs.finishJob(job.id, 'completed', clock.now);
      await store.jobs.finishJob(job3.id, 'completed', clock.now);
    });
    it('exports whole a resource shared with a member who gets full history, even in another member’s slice', async () => {
      const t = uniq('tenant-');
      clock.now += 1000;
      await r.writeBatch(t, [patient('p1'), patient('p2'), observation('shared', 'p1', { performers: ['Patient/p2'] }), observation('own', 'p1')]);
      clock.now += 1000;
      const since = await r.snapshotTime(t);
      const job = created(
        await store.jobs.createJob(
          newJob(t, uniq('client-'), {
            patients: [
              { id: 'p1', fullHistory: false },
              { id: 'p2', fullHistory: true },
            ],
          }),
        ),
      );
      const until = await r.snapshotTime(t);
      const rows = await collect(r.scan({ tenant: t, type: 'Observation', until, since, patients: { jobId: job.id } }));
      // 'shared' belongs to p1's slice (smaller id) yet is exported for p2, who joined after `since`; 'own' is not.
      expect(idsOf(rows)).toEqual(['shared']);
      await store.jobs.finishJob(job.id, 'completed', clock.now);
    });
  });

  describe('referenced resources', () => {
    it('returns Practitioners referenced by scoped resources and Provenance of them', async () => {
      const t = uniq('tenant-');
      const s0 = await r.snapshotTime(t);
      clock.now += 1000;
      await r.writeBatch(t, [
        patient('p1'),
        patient('p2'),
        observation('o1', 'p1', { performers: ['Practitioner/pr1'] }),
        observation('o2', 'p2', { performers: ['Practitioner/pr2'] }),
        prepareResource({
          resourceType: 'Encounter',
          id: 'e1',
          status: 'finished',
          class: { code: 'AMB' },
          subject: { reference: 'Patient/p1' },
          participant: [{ individual: { reference: 'Practitioner/pr3' } }],
        }),
        practitioner('pr1'),
        practitioner('pr2'),
        practitioner('pr3'),
        practitioner('pr4'),
        provenance('prov1', 'Observation/o1', '2024-01-01T00:00:00Z'),
        provenance('prov2', 'Observation/o1', '2024-02-01T00:00:00Z'),
        provenance('prov3', 'Observation/o2', '2024-01-15T00:00:00Z'),
        provenance('prov4', 'Encounter/e1', '2024-03-01T00:00:00Z'),
      ]);
      const job = created(await store.jobs.createJob(newJob(t, uniq('client-'), { patients: [{ id: 'p1', fullHistory: false }] })));
      const s1 = await r.snapshotTime(t);
      const ref = async (req: {
        type: string;
        sourceTypes: string[];
        jobId?: string;
        latestOnly?: boolean;
        until?: number;
        since?: number;
        patients?: { from?: string; to?: string };
      }) => idsOf(await collect(r.scanReferenced({ tenant: t, until: s1, ...req })));

      // A patient range narrows the job's compartments to those patients'.
      const both = created(
        await store.jobs.createJob(
          newJob(t, uniq('client-'), {
            patients: [
              { id: 'p1', fullHistory: false },
              { id: 'p2', fullHistory: false },
            ],
          }),
        ),
      );
      expect(await ref({ type: 'Practitioner', sourceTypes: ['Observation'], jobId: both.id })).toEqual(['pr1', 'pr2']);
      expect(await ref({ type: 'Practitioner', sourceTypes: ['Observation'], jobId: both.id, patients: { from: 'p2', to: 'p2' } })).toEqual(['pr2']);
      expect(await ref({ type: 'Provenance', sourceTypes: ['Observation'], jobId: both.id, patients: { to: 'p1' } })).toEqual(['prov1', 'prov2']);
      expect(await ref({ type: 'Provenance', sourceTypes: ['Observation'], jobId: both.id, patients: { from: 'p2' } })).toEqual(['prov3']);
      await store.jobs.finishJob(both.id, 'completed', clock.now);

      expect(await ref({ type: 'Practitioner', sourceTypes: ['Observation'], jobId: job.id })).toEqual(['pr1']);
      expect(await ref({ type: 'Practitioner', sourceTypes: ['Observation', 'Encounter'], jobId: job.id })).toEqual(['pr1', 'pr3']);
      expect(await ref({ type: 'Practitioner', sourceTypes: ['Observation'] })).toEqual(['pr1', 'pr2']);
      expect(await ref({ type: 'Practitioner', sourceTypes: [] })).toEqual([]);
      expect(await ref({ type: 'Practitioner', sourceTypes: ['Observation'], jobId: job.id, until: s0 })).toEqual([]);
      expect(await ref({ type: 'Practitioner', sourceTypes: ['Observation'], jobId: job.id, since: s1 })).toEqual([]);

      expect(await ref({ type: 'Provenance', sourceTypes: ['Observation'], jobId: job.id })).toEqual(['prov1', 'prov2']);
      expect(await ref({ type: 'Provenance', sourceTypes: ['Observation'], jobId: job.id, latestOnly: true })).toEqual(['prov2']);
      expect(await ref({ type: 'Provenance', sourceTypes: ['Observation'] })).toEqual(['prov1', 'prov2', 'prov3']);
      expect(await ref({ type: 'Provenance', sourceTypes: ['Observation'], latestOnly: true })).toEqual(['prov2', 'prov3']);
      expect(await ref({ type: 'Provenance', sourceTypes: ['Observation', 'Encounter'], jobId: job.id, latestOnly: true })).toEqual([
        'prov2',
        'prov4',
      ]);

      // A referenced resource changed after the snapshot comes back in its version at the snapshot.
      clock.now += 1000;
      await r.writeBatch(t, [practitioner('pr1', 'Renamed')]);
      const atS1 = await collect(r.scanReferenced({ tenant: t, type: 'Practitioner', until: s1, sourceTypes: ['Observation'], jobId: job.id }));
      expect(atS1.map((x) => [x.id, x.versionId])).toEqual([['pr1', 1]]);
      expect(parsed(atS1[0])).toMatchObject({ name: [{ family: 'Doe' }] });
      const s2 = await r.snapshotTime(t);
      expect(await ref({ type: 'Practitioner', sourceTypes: ['Observation'], jobId: job.id, until: s2, since: s1 })).toEqual(['pr1']);
      await store.jobs.finishJob(job.id, 'completed', clock.now);
    });

    it('forgets the references of a deleted resource, and ranks a Provenance without recorded time lowest', async () => {
      const t = uniq('tenant-');
      clock.now += 1000;
      const undated = prepareResource({ resourceType: 'Provenance', id: 'prov-undated', target: [{ reference: 'Observation/o1' }], agent: [] });
      await r.writeBatch(t, [
        patient('p1'),
        observation('o1', 'p1', { performers: ['Practitioner/pr1'] }),
        observation('o2', 'p1', { performers: ['Practitioner/pr2'] }),
        practitioner('pr1'),
        practitioner('pr2'),
        undated,
        provenance('prov-dated', 'Observation/o1', '2024-01-01T00:00:00Z'),
        provenance('prov-newest', 'Observation/o1', '2024-06-01T00:00:00Z'),
      ]);
      clock.now += 1000;
      expect(await r.deleteResource(t, 'Observation', 'o2')).toBe(true);
      expect(await r.deleteResource(t, 'Provenance', 'prov-newest')).toBe(true);
      const job = created(await store.jobs.createJob(newJob(t, uniq('client-'), { patients: [{ id: 'p1', fullHistory: false }] })));
      const until = await r.snapshotTime(t);
      const ref = async (req: { type: string; latestOnly?: boolean }) =>
        idsOf(await collect(r.scanReferenced({ tenant: t, until, sourceTypes: ['Observation'], jobId: job.id, ...req })));
      expect(await ref({ type: 'Practitioner' })).toEqual(['pr1']);
      expect(await ref({ type: 'Provenance' })).toEqual(['prov-dated', 'prov-undated']);
      expect(await ref({ type: 'Provenance', latestOnly: true })).toEqual(['prov-dated']);
      await store.jobs.finishJob(job.id, 'completed', clock.now);
    });

    it('updates a large batch, moving each compartment to the new version', async () => {
      const t = uniq('tenant-');
      const batch = (v: string) => Array.from({ length: 3000 }, (_, i) => observation(`u${i}`, `p${i % 50}`, { performers: [`Practitioner/pr${v}`] }));
      await r.writeBatch(t, batch('1'));
      const counts = await r.writeBatch(t, batch('2'));
      expect(counts.updated).toBe(3000);
      const job = created(await store.jobs.createJob(newJob(t, uniq('client-'), { patients: [{ id: 'p7', fullHistory: false }] })));
      const until = await r.snapshotTime(t);
      const rows = await collect(r.scan({ tenant: t, type: 'Observation', until, patients: { jobId: job.id } }));
      expect(rows).toHaveLength(60);
      expect(rows.every((x) => x.versionId === 2)).toBe(true);
      await store.jobs.finishJob(job.id, 'completed', clock.now);
    });

    it('writes a large batch mixing new, changed, unchanged and deleted resources, with their compartments and references', async () => {
      const t = uniq('tenant-');
      const id = (i: number): string => `w${String(i).padStart(3, '0')}`;
      await r.writeBatch(t, [practitioner('old'), practitioner('new')]);
      await r.writeBatch(t, Array.from({ length: 150 }, (_, i) => observation(id(i), 'pa', { performers: ['Practitioner/old'] })));
      expect(await r.deleteResource(t, 'Observation', id(10))).toBe(true);
      // 0-49 and 100-149 unchanged (but 10, deleted, is written again), 50-99 changed (another patient and performer), 150-199 new.
      const second = Array.from({ length: 200 }, (_, i) =>
        i >= 50 && i < 100 ? observation(id(i), 'pb', { performers: ['Practitioner/new'] }) : observation(id(i), 'pa', { performers: ['Practitioner/old'] }),
      );
      expect(await r.writeBatch(t, second)).toEqual({ created: 50, updated: 51, unchanged: 99, deleted: 0 });
      const until = await r.snapshotTime(t);
      /** The Observations in the patient's compartment, and the Practitioners they reference. */
      const compartmentOf = async (patient: string): Promise<[string[], string[]]> => {
        const job = created(await store.jobs.createJob(newJob(t, uniq('client-'), { patients: [{ id: patient, fullHistory: false }] })));
        const rows = await collect(r.scan({ tenant: t, type: 'Observation', until, patients: { jobId: job.id } }));
        const referenced = await collect(r.scanReferenced({ tenant: t, type: 'Practitioner', until, sourceTypes: ['Observation'], jobId: job.id }));
        await store.jobs.finishJob(job.id, 'completed', clock.now);
        return [idsOf(rows), idsOf(referenced)];
      };
      const range = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => id(from + i));
      expect(await compartmentOf('pb')).toEqual([range(50, 100), ['new']]);
      expect(await compartmentOf('pa')).toEqual([[...range(0, 50), ...range(100, 200)], ['old']]);
      expect((await r.read(t, 'Observation', id(10)))?.versionId).toBe(3);
      expect((await r.read(t, 'Observation', id(60)))?.versionId).toBe(2);
      expect((await r.read(t, 'Observation', id(160)))?.versionId).toBe(1);
    });
  });

  describe('jobs', () => {
    it('allows one in-progress job per client and tenant, atomically', async () => {
      const t = uniq('tenant-');
      const client = uniq('client-');
      const first = created(await store.jobs.createJob(newJob(t, client)));
      expect(first).toMatchObject({
        tenant: t,
        clientId: client,
        kind: 'group',
        status: 'in-progress',
        totalResources: 0,
        doneResources: 0,
        completedAt: null,
        error: null,
        params: { types: ['Observation'], since: null, nested: { a: [1, 'x'] } },
      });
      expect(await store.jobs.getJob(first.id)).toEqual(first);

      const second = newJob(t, client);
      const conflict = await store.jobs.createJob(second);
      expect(conflict).toEqual({ conflict: first });
      expect(await store.jobs.getJob(second.id)).toBeUndefined();

      created(await store.jobs.createJob(newJob(t, uniq('client-'))));
      created(await store.jobs.createJob(newJob(uniq('tenant-'), client)));

      // Concurrent kick-offs of one client: exactly one wins.
      const racer = uniq('client-');
      const results = await Promise.all(Array.from({ length: 6 }, () => store.jobs.createJob(newJob(t, racer))));
      const winners = results.filter((x) => 'job' in x);
      expect(winners).toHaveLength(1);
      const winner = created(winners[0] as { job: ExportJob });
      for (const x of results) if ('conflict' in x) expect(x.conflict.id).toBe(winner.id);

      // Once the job is finished the client may start another.
      expect(await store.jobs.finishJob(first.id, 'completed', clock.now)).toBe(true);
      const next = created(await store.jobs.createJob(newJob(t, client)));
      expect(next.id).not.toBe(first.id);
      for (const j of [next, winner]) await store.jobs.finishJob(j.id, 'completed', clock.now);
    });

    it('runs the job lifecycle: planning, leases, files, finish, delete, purge', async () => {
      const jobs = store.jobs;
      const t = uniq('tenant-');
      const client = uniq('client-');
      const job = created(await jobs.createJob(newJob(t, client, { chunks: [{ type: '$plan', slice: { mode: 'plan' }, estimate: 0 }] })));
      const A = { owner: 'worker-a', until: 11_000 };
      const B = { owner: 'worker-b', until: 12_001 };
      expect(await jobs.listChunks(job.id)).toEqual([
        { jobId: job.id, seq: 0, type: '$plan', slice: { mode: 'plan' }, status: 'pending', attempts: 0, leaseUntil: null, count: 0, error: null },
      ]);
      expect(await jobs.pendingChunks()).toContainEqual({ jobId: job.id, seq: 0 });

      // Planning: the plan chunk is claimed, then done with the planned chunks appended after it.
      const plan = await jobs.claimChunk(job.id, 0, A, 10_000);
      expect(plan?.job).toEqual(job);
      expect(plan?.chunk).toMatchObject({ seq: 0, status: 'running', attempts: 1, leaseUntil: 11_000 });
      expect(await jobs.claimChunk(job.id, 0, B, 10_000)).toBeUndefined();
      await jobs.setJobPatients(job.id, [{ id: 'p1', fullHistory: false }]);
      await jobs.setJobPatients(job.id, [{ id: 'p1', fullHistory: false }, { id: 'p2', fullHistory: true }]);
      const planned = await jobs.completePlan(
        job.id,
        0,
        [
          { type: 'Patient', slice: { from: 'p1', to: 'p5' }, estimate: 10 },
          { type: 'Observation', slice: { ids: ['x'] }, estimate: 20 },
        ],
        30,
        10_000,
      );
      expect(planned).toEqual({ seqs: [1, 2], jobCompleted: false });
      expect(await jobs.completePlan(job.id, 0, [{ type: 'Patient', slice: null, estimate: 1 }], 1, 10_000)).toBeUndefined();
      expect((await jobs.listChunks(job.id)).slice(1)).toEqual([
        { jobId: job.id, seq: 1, type: 'Patient', slice: { from: 'p1', to: 'p5' }, status: 'pending', attempts: 0, leaseUntil: null, count: 0, error: null },
        { jobId: job.id, seq: 2, type: 'Observation', slice: { ids: ['x'] }, status: 'pending', attempts: 0, leaseUntil: null, count: 0, error: null },
      ]);
      expect((await jobs.getJob(job.id))?.totalResources).toBe(30);

      expect(await jobs.claimChunk(job.id, 1, A, 10_000)).toMatchObject({ chunk: { seq: 1, status: 'running', attempts: 1, leaseUntil: 11_000 } });
      expect(await jobs.claimChunk(job.id, 2, A, 10_000)).toMatchObject({ chunk: { seq: 2, status: 'running', attempts: 1 } });
      expect(await jobs.claimChunk(job.id, 2, B, 10_500)).toBeUndefined();
      expect(await jobs.claimChunk(job.id, 9, B, 10_500)).toBeUndefined();
      expect(await jobs.renewLease(job.id, 1, { owner: 'worker-a', until: 20_000 })).toBe(true);
      expect(await jobs.renewLease(job.id, 1, { owner: 'worker-b', until: 30_000 })).toBe(false);
      expect(await jobs.reclaimExpired(11_000)).toEqual([]);
      // Chunk 2's lease lapsed: it is pending again (for one reclaimer), and another worker takes it over.
      expect(await jobs.reclaimExpired(11_001)).toEqual([{ jobId: job.id, seq: 2 }]);
      expect(await jobs.reclaimExpired(11_001)).toEqual([]);
      expect(await jobs.claimChunk(job.id, 2, B, 11_001)).toMatchObject({ chunk: { seq: 2, status: 'running', attempts: 2, leaseUntil: 12_001 } });
      expect(await jobs.renewLease(job.id, 2, { owner: 'worker-a', until: 20_000 })).toBe(false);
      // A lease that lapsed can also be claimed directly.
      expect(await jobs.claimChunk(job.id, 2, A, 12_002)).toMatchObject({ chunk: { seq: 2, attempts: 3 } });

      const files = [
        { id: uniq('file-'), kind: 'output' as const, type: 'Patient', part: 1, objectKey: `${job.id}/Patient-2.ndjson`, count: 2, bytes: 200 },
        { id: uniq('file-'), kind: 'output' as const, type: 'Patient', part: 0, objectKey: `${job.id}/Patient-1.ndjson`, count: 3, bytes: 300 },
      ];
      expect(await jobs.completeChunk(job.id, 1, files, 5, 12_000)).toEqual({ recorded: true, jobCompleted: false });
      expect(await jobs.completeChunk(job.id, 1, files, 5, 12_000)).toEqual({ recorded: false, jobCompleted: false });
      expect(await jobs.renewLease(job.id, 1, { owner: 'worker-a', until: 30_000 })).toBe(false);
      expect((await jobs.listChunks(job.id))[1]).toMatchObject({ seq: 1, status: 'done', count: 5, leaseUntil: null, error: null });
      const listed = await jobs.listFiles(job.id);
      expect(listed.map((f) => f.part)).toEqual([0, 1]);
      expect(listed[0]).toEqual({ ...files[1], jobId: job.id, chunkSeq: 1 });
      expect(await jobs.getFile(files[0]?.id as string)).toEqual({ ...files[0], jobId: job.id, chunkSeq: 1 });
      expect(await jobs.getFile('no-such-file')).toBeUndefined();
      // Done counts what was written; the total trades the chunk's estimate (10) for its count (5).
      expect(await jobs.getJob(job.id)).toMatchObject({ doneResources: 5, totalResources: 25 });

      // A failure after a chunk's result was recorded leaves it done: pending again, it would be exported twice.
      await jobs.failChunk(job.id, 1, 'late', true);
      await jobs.failChunk(job.id, 1, 'late', false);
      expect((await jobs.listChunks(job.id))[1]).toMatchObject({ seq: 1, status: 'done', count: 5, error: null });
      await jobs.failChunk(job.id, 2, 'boom', true);
      expect((await jobs.listChunks(job.id))[2]).toMatchObject({ status: 'pending', error: 'boom', leaseUntil: null, attempts: 3 });
      expect(await jobs.claimChunk(job.id, 2, A, 13_000)).toMatchObject({ chunk: { seq: 2, attempts: 4 } });
      await jobs.failChunk(job.id, 2, 'fatal', false);
      expect((await jobs.listChunks(job.id))[2]).toMatchObject({ status: 'failed', error: 'fatal' });
      expect(await jobs.claimChunk(job.id, 2, A, 99_999)).toBeUndefined();

      expect(await jobs.finishJob(job.id, 'failed', 50_000, 'chunk 2 failed')).toBe(true);
      expect(await jobs.finishJob(job.id, 'completed', 60_000)).toBe(false);
      expect(await jobs.getJob(job.id)).toMatchObject({ status: 'failed', completedAt: 50_000, error: 'chunk 2 failed' });
      expect(await jobs.completeChunk(job.id, 2, [], 0, 60_000)).toEqual({ recorded: false, jobCompleted: false });
      expect(await jobs.pendingChunks()).not.toContainEqual(expect.objectContaining({ jobId: job.id }));

      expect((await jobs.listJobs({ status: 'failed' })).map((j) => j.id)).toContain(job.id);
      expect((await jobs.listJobs({ status: 'in-progress' })).map((j) => j.id)).not.toContain(job.id);
      expect((await jobs.listJobs({ expiredBefore: job.expiresAt + 1 })).map((j) => j.id)).toContain(job.id);
      expect((await jobs.listJobs({ expiredBefore: job.expiresAt })).map((j) => j.id)).not.toContain(job.id);
      expect((await jobs.listJobs({ status: 'failed', expiredBefore: job.expiresAt + 1 })).map((j) => j.id)).toContain(job.id);
      expect((await jobs.listJobs({})).map((j) => j.id)).toContain(job.id);
      expect((await jobs.findByRequestHash(t, client, job.requestHash))?.id).toBe(job.id);
      expect(await jobs.findByRequestHash(t, uniq('client-'), job.requestHash)).toBeUndefined();

      const deletedFiles = await jobs.deleteJob(job.id);
      expect([...deletedFiles].sort((a, b) => a.part - b.part)).toEqual(listed);
      expect((await jobs.getJob(job.id))?.status).toBe('deleted');
      expect(await jobs.findByRequestHash(t, client, job.requestHash)).toBeUndefined();

      await jobs.purgeJob(job.id);
      expect(await jobs.getJob(job.id)).toBeUndefined();
      expect(await jobs.listFiles(job.id)).toEqual([]);
      expect(await jobs.listChunks(job.id)).toEqual([]);
      expect(await jobs.getFile(files[0]?.id as string)).toBeUndefined();
    });

    it('purges a job with a large patient set whole (written and removed in slices)', async () => {
      const t = uniq('tenant-');
      const patients = Array.from({ length: 1234 }, (_, i) => ({ id: `pp-${String(i).padStart(5, '0')}`, fullHistory: i % 7 === 0 }));
      await store.resources.writeBatch(t, [patient('pp-00003'), patient('pp-01200')]);
      const until = await store.resources.snapshotTime(t);
      const job = created(await store.jobs.createJob(newJob(t, uniq('client-'))));
      await store.jobs.setJobPatients(job.id, patients);
      const members = () => store.resources.count({ tenant: t, type: 'Patient', until, patients: { jobId: job.id } });
      expect(await members()).toBe(2);
      await store.jobs.deleteJob(job.id);
      await store.jobs.purgeJob(job.id);
      expect(await store.jobs.getJob(job.id)).toBeUndefined();
      expect(await members()).toBe(0);
    });

    it('completes a job exactly when its last chunk commits, whoever commits it', async () => {
      const jobs = store.jobs;
      const t = uniq('tenant-');
      const chunks = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'Patient', slice: { i }, estimate: 1 }));
      const job = created(await jobs.createJob(newJob(t, uniq('client-'), { chunks: chunks(6) })));
      for (let seq = 0; seq < 6; seq++) await jobs.claimChunk(job.id, seq, { owner: `w${seq % 2}`, until: 9_000 }, 5_000);
      const results = await Promise.all(Array.from({ length: 6 }, (_, seq) => jobs.completeChunk(job.id, seq, [], 1, 7_000)));
      expect(results.filter((r) => r.recorded)).toHaveLength(6);
      expect(results.filter((r) => r.jobCompleted)).toHaveLength(1);
      expect(await jobs.getJob(job.id)).toMatchObject({ status: 'completed', completedAt: 7_000, doneResources: 6, totalResources: 6 });

      // A plan that finds nothing to export completes its job at once.
      const empty = created(await jobs.createJob(newJob(t, uniq('client-'), { chunks: [{ type: '$plan', slice: { mode: 'plan' }, estimate: 0 }] })));
      await jobs.claimChunk(empty.id, 0, { owner: 'w', until: 9_000 }, 5_000);
      expect(await jobs.completePlan(empty.id, 0, [], 0, 8_000)).toEqual({ seqs: [], jobCompleted: true });
      expect(await jobs.getJob(empty.id)).toMatchObject({ status: 'completed', completedAt: 8_000 });
    });

    it('claims each chunk for one claimer; releases every lease for a process starting alone', async () => {
      const jobs = store.jobs;
      const t = uniq('tenant-');
      const job = created(await jobs.createJob(newJob(t, uniq('client-'), { chunks: [{ type: 'Patient', slice: {}, estimate: 1 }] })));
      const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => jobs.claimChunk(job.id, 0, { owner: `w${i}`, until: 1_000_000 }, 5_000)));
      expect(claims.filter((c) => c !== undefined)).toHaveLength(1);
      expect(await jobs.releaseAllLeases()).toBeGreaterThanOrEqual(1);
      expect((await jobs.listChunks(job.id))[0]).toMatchObject({ status: 'pending', leaseUntil: null });
      expect(await jobs.claimChunk(job.id, 0, { owner: 'w9', until: 1_000_000 }, 5_000)).toMatchObject({ chunk: { attempts: 2 } });
      // A job that is no longer in progress gives no chunks, not even expired ones.
      expect(await jobs.finishJob(job.id, 'failed', 5_000, 'stopped')).toBe(true);
      expect(await jobs.reclaimExpired(2_000_000)).not.toContainEqual({ jobId: job.id, seq: 0 });
      expect(await jobs.claimChunk(job.id, 0, { owner: 'w9', until: 3_000_000 }, 2_000_000)).toBeUndefined();
    });

    it('hands out one turn of a shared task per interval', async () => {
      const task = uniq('task-');
      expect(await store.jobs.takeTurn(task, 1_000, 500)).toBe(true);
      expect(await store.jobs.takeTurn(task, 1_200, 500)).toBe(false);
      const racers = await Promise.all(Array.from({ length: 5 }, () => store.jobs.takeTurn(task, 1_500, 500)));
      expect(racers.filter(Boolean)).toHaveLength(1);
      expect(await store.jobs.takeTurn(uniq('task-'), 1_200, 500)).toBe(true);
    });

    it('tells which of many ids are live at an instant, in one look-up', async () => {
      const t = uniq('tenant-');
      clock.now += 1000;
      await r.writeBatch(t, [patient('a'), patient('b'), patient('c')]);
      const at = clock.now;
      clock.now += 1000;
      await r.deleteResource(t, 'Patient', 'b');
      await r.writeBatch(t, [patient('d')]);
      expect(sorted(await r.presentIds(t, 'Patient', ['a', 'b', 'c', 'd', 'zz'], at))).toEqual(['a', 'b', 'c']);
      const later = await r.snapshotTime(t);
      expect(sorted(await r.presentIds(t, 'Patient', ['a', 'b', 'c', 'd', 'zz'], later))).toEqual(['a', 'c', 'd']);
      expect(await r.presentIds(t, 'Observation', ['a'], later)).toEqual([]);
      await r.refreshStatistics();
    });

    it('counts jobs and chunks by status', async () => {
      const before = await store.jobs.countByStatus();
      const delta = async () => {
        const now = await store.jobs.countByStatus();
        const diff = (a: Record<string, number | undefined>, b: Record<string, number | undefined>) =>
          Object.fromEntries([...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [k, (a[k] ?? 0) - (b[k] ?? 0)]).filter(([, n]) => n !== 0));
        return { jobs: diff(now.jobs, before.jobs), chunks: diff(now.chunks, before.chunks) };
      };
      const job = created(await store.jobs.createJob(newJob(uniq('tenant-'), uniq('client-'), { chunks: [{ type: '$plan', slice: { mode: 'plan' }, estimate: 0 }] })));
      expect(await delta()).toEqual({ jobs: { 'in-progress': 1 }, chunks: { pending: 1 } }); // the planning chunk
      const lease = { owner: 'counting', until: clock.now + 60_000 };
      expect(await store.jobs.claimChunk(job.id, 0, lease, clock.now)).toBeDefined();
      const planned = await store.jobs.completePlan(job.id, 0, [0, 1, 2].map((i) => ({ type: 'Observation', slice: { i }, estimate: 1 })), 3, clock.now);
      expect(await delta()).toEqual({ jobs: { 'in-progress': 1 }, chunks: { pending: 3, done: 1 } });
      const seq = planned?.seqs[0] as number;
      expect(await store.jobs.claimChunk(job.id, seq, lease, clock.now)).toBeDefined();
      expect(await delta()).toEqual({ jobs: { 'in-progress': 1 }, chunks: { pending: 2, running: 1, done: 1 } });
      await store.jobs.completeChunk(job.id, seq, [], 0, clock.now);
      await store.jobs.finishJob(job.id, 'failed', clock.now, 'stopped');
      expect(await delta()).toEqual({ jobs: { failed: 1 }, chunks: { pending: 2, done: 2 } });
    });
  });

  describe('clients', () => {
    it('registers, lists, disables and removes clients', async () => {
      const t = uniq('tenant-');
      const other = uniq('tenant-');
      const a: RegisteredClient = {
        clientId: uniq('client-'),
        tenant: t,
        name: 'App A',
        jwks: { keys: [{ kty: 'EC', crv: 'P-384', x: 'xx', y: 'yy', kid: 'k1', alg: 'ES384' }] },
        jwksUrl: null,
        scope: 'system/Patient.read system/Observation.read',
        disabled: false,
        createdAt: 1_000,
      };
      const b: RegisteredClient = { ...a, clientId: uniq('client-'), name: 'App B', jwks: null, jwksUrl: 'https://b.test/jwks', createdAt: 2_000 };
      const c: RegisteredClient = { ...a, clientId: uniq('client-'), tenant: other, name: 'App C', disabled: true, createdAt: 1_500 };
      for (const x of [b, a, c]) await store.clients.registerClient(x);
      await expect(store.clients.registerClient(a)).rejects.toThrow();

      expect(await store.clients.getClient(a.clientId)).toEqual(a);
      expect(await store.clients.getClient(b.clientId)).toEqual(b);
      expect(await store.clients.getClient(c.clientId)).toEqual(c);
      expect(await store.clients.getClient('no-such-client')).toBeUndefined();
      expect(await store.clients.listClients(t)).toEqual([a, b]);
      expect(await store.clients.listClients(other)).toEqual([c]);
      const mine = new Set([a.clientId, b.clientId, c.clientId]);
      expect((await store.clients.listClients()).filter((x) => mine.has(x.clientId))).toEqual([a, c, b]);

      expect(await store.clients.setClientDisabled(a.clientId, true)).toBe(true);
      expect((await store.clients.getClient(a.clientId))?.disabled).toBe(true);
      expect(await store.clients.setClientDisabled(a.clientId, false)).toBe(true);
      expect((await store.clients.getClient(a.clientId))?.disabled).toBe(false);
      expect(await store.clients.setClientDisabled('no-such-client', true)).toBe(false);

      expect(await store.clients.removeClient(b.clientId)).toBe(true);
      expect(await store.clients.removeClient(b.clientId)).toBe(false);
      expect(await store.clients.getClient(b.clientId)).toBeUndefined();
      expect(await store.clients.listClients(t)).toEqual([a]);
    });

    it('rejects a replayed jti until it expires', async () => {
      const cl = store.clients;
      const id = uniq('client-');
      const jti = uniq('jti-');
      expect(await cl.useJti(id, jti, 2_000, 1_000)).toBe(true);
      expect(await cl.useJti(id, jti, 2_000, 1_500)).toBe(false);
      expect(await cl.useJti(uniq('client-'), jti, 2_000, 1_500)).toBe(true);
      expect(await cl.useJti(id, uniq('jti-'), 2_000, 1_500)).toBe(true);
      expect(await cl.useJti(id, jti, 3_000, 2_000)).toBe(false); // expires at 2000: still recorded at 2000
      expect(await cl.useJti(id, jti, 3_000, 2_001)).toBe(true);
      expect(await cl.useJti(id, jti, 4_000, 2_500)).toBe(false);

      const raced = uniq('jti-');
      const results = await Promise.all(Array.from({ length: 6 }, () => cl.useJti(id, raced, 10_000, 3_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });
  });

  describe('bulk loads', () => {
    it('write, read and scan as usual while one or two overlap, whose ends may be called more than once', async () => {
      const t = uniq('tenant-');
      const endFirst = await r.beginBulkLoad();
      const endSecond = await r.beginBulkLoad();
      const batch = Array.from({ length: 300 }, (_, i) => observation(`bulk-o${i}`, 'bulk-p', { text: `v${i}` }));
      expect(await r.writeBatch(t, [patient('bulk-p'), ...batch])).toEqual({ created: 301, updated: 0, unchanged: 0, deleted: 0 });
      await endFirst();
      await endFirst();
      expect(await r.writeBatch(t, [observation('bulk-o0', 'bulk-p', { text: 'changed' })])).toEqual({ created: 0, updated: 1, unchanged: 0, deleted: 0 });
      await endSecond();
      expect(parsed(await r.read(t, 'Observation', 'bulk-o0')).code).toEqual({ text: 'changed' });
      const scanned = await collect(r.scan({ tenant: t, type: 'Observation', until: clock.now + 1 }));
      expect(scanned).toHaveLength(300);
      // A store reopened after the load reads what it wrote.
      const again = await opened.reopen();
      try {
        expect(parsed(await again.resources.read(t, 'Observation', 'bulk-o299')).code).toEqual({ text: 'v299' });
      } finally {
        await again.close();
      }
    });
  });

  describe('migrations', () => {
    it('reopens an existing database without re-running migrations, also concurrently', async () => {
      const t = uniq('tenant-');
      await r.writeBatch(t, [patient('kept')]);
      const again = await Promise.all([opened.reopen(), opened.reopen()]);
      try {
        for (const s of again) {
          expect(s.kind).toBe(store.kind);
          expect((await s.resources.read(t, 'Patient', 'kept'))?.versionId).toBe(1);
        }
      } finally {
        for (const s of again) await s.close();
      }
    });
  });
});
