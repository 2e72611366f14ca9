/**
 * The AuditStore contract over every store adapter, with what the management plane adds to the other ports: the
 * token revocation list of the ClientStore and the filters of JobStore.listJobs. Same assertions for SQLite and
 * PostgreSQL; each test uses its own tenants and clients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeAdapters } from './helpers/store-adapters.js';
import type { ExportJob, NewAuditEvent, NewJob, RegisteredClient, Store } from '../src/store/ports.js';

const clock = { now: 1_800_000_000_000 };
const now = (): number => clock.now;

const adapters = storeAdapters('audit', now);

let counter = 0;
const uniq = (prefix: string): string => `${prefix}${++counter}`;

const event = (extra: Partial<NewAuditEvent>): NewAuditEvent => ({
  at: clock.now,
  action: 'export.kickoff',
  outcome: 'success',
  status: 202,
  tenant: null,
  clientId: null,
  source: '127.0.0.1',
  jobId: null,
  request: 'GET /r4/t/$export',
  detail: null,
  ...extra,
});

const job = (tenant: string, clientId: string, createdAt: number, extra: Partial<NewJob> = {}): NewJob => ({
  id: uniq('job-'),
  tenant,
  clientId,
  kind: 'system',
  request: `https://flatfhir.test/r4/${tenant}/$export`,
  requestHash: uniq('hash-'),
  params: {},
  transactionTime: createdAt,
  createdAt,
  expiresAt: createdAt + 1_000_000,
  ...extra,
});

const created = (r: { job: ExportJob } | { conflict: ExportJob }): ExportJob => {
  if (!('job' in r)) throw new Error('unexpected conflict');
  return r.job;
};

describe.each(adapters)('audit store contract: $name', (adapter) => {
  let opened: Awaited<ReturnType<(typeof adapters)[number]['open']>>;
  let store: Store;

  beforeAll(async () => {
    opened = await adapter.open();
    store = opened.store;
  });
  afterAll(async () => {
    await opened?.cleanup();
  });

  it('appends records and lists them newest first, filtered by every condition', async () => {
    const t = uniq('tenant-');
    const other = uniq('tenant-');
    const c1 = uniq('client-');
    const c2 = uniq('client-');
    await store.audit.append([
      event({ at: 1_000, tenant: t, clientId: c1, action: 'token', status: 200 }),
      event({ at: 2_000, tenant: t, clientId: c1, jobId: 'j1' }),
      event({ at: 3_000, tenant: t, clientId: c2, action: 'token', outcome: 'failure', status: 400, detail: 'invalid_client: bad signature' }),
    ]);
    await store.audit.append([
      event({ at: 4_000, tenant: t, clientId: c1, action: 'export.download', jobId: 'j1', request: 'GET /r4/t/bulk-export/files/f1' }),
      event({ at: 5_000, tenant: other, clientId: c1, action: 'admin.client.disable', source: 'cli' }),
    ]);
    await store.audit.append([]);

    const all = await store.audit.list({ tenant: t });
    expect(all.map((e) => e.at)).toEqual([4_000, 3_000, 2_000, 1_000]);
    for (let i = 1; i < all.length; i++) expect((all[i] as { id: number }).id).toBeLessThan((all[i - 1] as { id: number }).id);
    expect(all[1]).toMatchObject({ action: 'token', outcome: 'failure', status: 400, tenant: t, clientId: c2, source: '127.0.0.1', jobId: null, detail: 'invalid_client: bad signature' });
    expect(all[0]).toMatchObject({ request: 'GET /r4/t/bulk-export/files/f1', jobId: 'j1' });

    expect((await store.audit.list({ clientId: c1 })).map((e) => e.at)).toEqual([5_000, 4_000, 2_000, 1_000]);
    expect((await store.audit.list({ clientId: c1, tenant: t, action: 'export' })).map((e) => e.at)).toEqual([4_000, 2_000]);
    expect((await store.audit.list({ clientId: c1, action: 'export.kickoff' })).map((e) => e.at)).toEqual([2_000]);
    // A prefix matches whole dotted parts only.
    expect(await store.audit.list({ clientId: c1, action: 'exp' })).toEqual([]);
    expect((await store.audit.list({ clientId: c1, action: 'admin' })).map((e) => e.source)).toEqual(['cli']);
    expect((await store.audit.list({ tenant: t, outcome: 'failure' })).map((e) => e.clientId)).toEqual([c2]);
    expect((await store.audit.list({ tenant: t, from: 2_000, to: 4_000 })).map((e) => e.at)).toEqual([3_000, 2_000]);
    expect((await store.audit.list({ tenant: t, jobId: 'j1' })).map((e) => e.at)).toEqual([4_000, 2_000]);

    const page1 = await store.audit.list({ tenant: t, limit: 2 });
    expect(page1.map((e) => e.at)).toEqual([4_000, 3_000]);
    const page2 = await store.audit.list({ tenant: t, limit: 2, beforeId: (page1[1] as { id: number }).id });
    expect(page2.map((e) => e.at)).toEqual([2_000, 1_000]);
    expect(await store.audit.count({ tenant: t })).toBe(4);
    expect(await store.audit.count({ clientId: c1, action: 'token', from: 0 })).toBe(1);
  });

  it('answers which jobs held a patient, per tenant', async () => {
    const t = uniq('tenant-');
    const other = uniq('tenant-');
    const [j1, j2, j3] = [uniq('job-'), uniq('job-'), uniq('job-')];
    await store.audit.addJobPatients(t, j1, ['p1', 'p2'], 10_000);
    await store.audit.addJobPatients(t, j2, ['p2', 'p3'], 10_000);
    await store.audit.addJobPatients(t, j2, ['p2', 'p4'], 10_000); // idempotent, and may grow
    await store.audit.addJobPatients(other, j3, ['p1'], 10_000);
    await store.audit.addJobPatients(t, j3, [], 10_000);
    const sorted = (xs: string[]): string[] => [...xs].sort();
    expect(sorted(await store.audit.jobsOfPatient('p1', t))).toEqual([j1]);
    expect(sorted(await store.audit.jobsOfPatient('p2', t))).toEqual(sorted([j1, j2]));
    expect(sorted(await store.audit.jobsOfPatient('p4', t))).toEqual([j2]);
    expect(await store.audit.jobsOfPatient('p9', t)).toEqual([]);
    expect(sorted(await store.audit.jobsOfPatient('p1'))).toEqual(sorted([j1, j3]));

    await store.audit.append([
      event({ at: 10_000, tenant: t, jobId: j1 }),
      event({ at: 10_001, tenant: t, jobId: j2 }),
      event({ at: 10_002, tenant: t, jobId: j2, action: 'export.download' }),
      event({ at: 10_003, tenant: other, jobId: j3 }),
    ]);
    expect((await store.audit.list({ patient: 'p1' })).map((e) => e.jobId)).toEqual([j3, j1]);
    expect((await store.audit.list({ patient: 'p1', tenant: t })).map((e) => e.jobId)).toEqual([j1]);
    expect((await store.audit.list({ patient: 'p2', tenant: t, action: 'export.kickoff' })).map((e) => e.jobId)).toEqual([j2, j1]);
    expect(await store.audit.list({ patient: 'p3', tenant: other })).toEqual([]);
  });

  it('purges records and patient sets older than an instant', async () => {
    const t = uniq('tenant-');
    const j = uniq('job-');
    await store.audit.append([event({ at: 50, tenant: t }), event({ at: 150, tenant: t })]);
    await store.audit.addJobPatients(t, j, ['old'], 50);
    expect(await store.audit.purgeBefore(100)).toBeGreaterThanOrEqual(1);
    expect((await store.audit.list({ tenant: t })).map((e) => e.at)).toEqual([150]);
    expect(await store.audit.jobsOfPatient('old', t)).toEqual([]);
  });

  it('revokes the tokens of a client disabled or removed, for every process of the store', async () => {
    const client = (clientId: string): RegisteredClient => ({
      clientId,
      tenant: 't',
      name: '',
      jwks: null,
      jwksUrl: 'https://c.test/jwks',
      scope: 'system/*.rs',
      disabled: false,
      createdAt: 1,
    });
    const a = uniq('client-');
    const b = uniq('client-');
    await store.clients.registerClient(client(a));
    await store.clients.registerClient(client(b));
    const before = clock.now;
    clock.now += 1_000;
    expect((await store.clients.revocations(before)).has(a)).toBe(false);
    expect(await store.clients.setClientDisabled(a, true)).toBe(true);
    const disabledAt = clock.now;
    clock.now += 1_000;
    expect(await store.clients.removeClient(b)).toBe(true);
    const other = await opened.reopen();
    try {
      const seen = await other.clients.revocations(before);
      expect(seen.get(a)).toBe(disabledAt);
      expect(seen.get(b)).toBe(clock.now);
      // Only revocations after `since` are listed.
      expect((await other.clients.revocations(disabledAt)).has(a)).toBe(false);
    } finally {
      await other.close();
    }
    // Enabling does not give back the tokens issued before; disabling again moves the instant on.
    expect(await store.clients.setClientDisabled(a, false)).toBe(true);
    expect((await store.clients.revocations(before)).get(a)).toBe(disabledAt);
    clock.now += 1_000;
    await store.clients.setClientDisabled(a, true);
    expect((await store.clients.revocations(before)).get(a)).toBe(clock.now);
    // Nothing is revoked for an unknown client.
    expect(await store.clients.setClientDisabled('no-such-client', true)).toBe(false);
    expect((await store.clients.revocations(0)).has('no-such-client')).toBe(false);
  });

  it('lists jobs by tenant, client, statuses, expiry and completion, oldest or newest first, limited', async () => {
    const t = uniq('tenant-');
    const c1 = uniq('client-');
    const c2 = uniq('client-');
    const a = created(await store.jobs.createJob(job(t, c1, 1_000)));
    await store.jobs.finishJob(a.id, 'completed', 1_500);
    const b = created(await store.jobs.createJob(job(t, c1, 2_000)));
    await store.jobs.finishJob(b.id, 'failed', 2_500, 'broken');
    const c = created(await store.jobs.createJob(job(t, c1, 3_000)));
    const d = created(await store.jobs.createJob(job(t, c2, 2_500)));
    await store.jobs.deleteJob(d.id);
    const ids = (jobs: ExportJob[]): string[] => jobs.map((j) => j.id);

    expect(ids(await store.jobs.listJobs({ tenant: t }))).toEqual([a.id, b.id, d.id, c.id]);
    expect(ids(await store.jobs.listJobs({ tenant: t, clientId: c1, newestFirst: true }))).toEqual([c.id, b.id, a.id]);
    expect(ids(await store.jobs.listJobs({ tenant: t, clientId: c1, newestFirst: true, limit: 2 }))).toEqual([c.id, b.id]);
    expect(ids(await store.jobs.listJobs({ tenant: t, status: ['completed', 'failed'] }))).toEqual([a.id, b.id]);
    expect(ids(await store.jobs.listJobs({ tenant: t, status: 'deleted' }))).toEqual([d.id]);
    expect(ids(await store.jobs.listJobs({ tenant: t, status: [] }))).toEqual([]);
    expect(ids(await store.jobs.listJobs({ tenant: t, completedBefore: 2_000 }))).toEqual([a.id]);
    expect(ids(await store.jobs.listJobs({ tenant: t, expiresAfter: 1_002_000 }))).toEqual([d.id, c.id]);
    expect(ids(await store.jobs.listJobs({ tenant: t, expiredBefore: 1_002_000 }))).toEqual([a.id]);
    await store.jobs.finishJob(c.id, 'completed', 3_500);
  });
});
