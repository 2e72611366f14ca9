import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareResource } from '../src/fhir/prepare.js';
import type { Store } from '../src/store/ports.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';

/** The management ports (tenants, the search-value index), the same assertions over every store adapter. */

const clock = { now: 1_700_000_000_000 };
const now = (): number => clock.now;

const adapters: { name: string; open(): Promise<{ store: Store; cleanup(): Promise<void> }> }[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(path.join(tmpdir(), 'flatfhir-manage-contract-'));
      const store = openSqliteStore(path.join(dir, 'db.sqlite'), { now });
      return {
        store,
        async cleanup() {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    async open() {
      const schema = freshSchema('manage');
      const store = await openPostgresStore(TEST_DATABASE_URL, { schema: schema.name, now, poolSize: 3 });
      return {
        store,
        async cleanup() {
          await store.close();
          await schema.drop();
        },
      };
    },
  },
];

let counter = 0;
const uniq = (prefix: string): string => `${prefix}${++counter}`;

describe.each(adapters)('management store contract: $name', (adapter) => {
  let store: Store;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ store, cleanup } = await adapter.open());
  });
  afterAll(async () => {
    await cleanup?.();
  });

  it('creates tenants once, lists them in id order, and lists tenants made as a side effect without a name', async () => {
    const a = uniq('t-b');
    const b = uniq('t-a');
    expect(await store.tenants.createTenant(a, 'Hospital B', 1000)).toBe(true);
    expect(await store.tenants.createTenant(a, 'again', 2000)).toBe(false);
    expect(await store.tenants.getTenant(a)).toEqual({ id: a, name: 'Hospital B', createdAt: 1000 });
    await store.resources.ensureTenant(b);
    expect(await store.tenants.getTenant(b)).toEqual({ id: b, name: '', createdAt: null });
    expect(await store.tenants.getTenant(uniq('none'))).toBeUndefined();
    const ids = (await store.tenants.listTenantRecords()).map((t) => t.id);
    expect(ids).toContain(a);
    expect(ids).toContain(b);
    expect(ids).toEqual([...ids].sort());
  });

  it('counts clients and jobs, and removes a tenant with all it holds, leaving other tenants alone', async () => {
    const gone = uniq('gone');
    const kept = uniq('kept');
    for (const t of [gone, kept]) {
      await store.tenants.createTenant(t, t, 1);
      await store.resources.writeBatch(t, [
        prepareResource({ resourceType: 'Patient', id: 'p1' }),
        prepareResource({ resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } }),
      ]);
      await store.resources.writeBatch(t, [prepareResource({ resourceType: 'Patient', id: 'p1', gender: 'female' })]);
      const clientId = uniq(`c-${t}-`);
      await store.clients.registerClient({ clientId, tenant: t, name: '', jwks: null, jwksUrl: 'https://a.example/j', scope: 'system/*.rs', disabled: false, createdAt: 1 });
      await store.clients.useJti(clientId, 'jti-1', clock.now + 60_000, clock.now);
      const job = await store.jobs.createJob({
        id: uniq('job-'),
        tenant: t,
        clientId,
        kind: 'patient',
        request: 'https://x/Patient/$export',
        requestHash: uniq('h'),
        params: {},
        transactionTime: 1,
        createdAt: 1,
        expiresAt: 2,
        patients: [{ id: 'p1', fullHistory: false }],
        chunks: [{ type: 'plan', slice: {}, estimate: 0 }],
      });
      expect('job' in job).toBe(true);
    }
    expect(await store.tenants.tenantCounts(gone)).toEqual({ clients: 1, jobs: 1 });
    const jobIds = await store.tenants.tenantJobIds(gone);
    expect(jobIds).toHaveLength(1);

    expect(await store.tenants.removeTenant(gone)).toBe(true);
    expect(await store.tenants.removeTenant(gone)).toBe(false);
    expect(await store.tenants.getTenant(gone)).toBeUndefined();
    expect(await store.resources.read(gone, 'Patient', 'p1')).toBeUndefined();
    expect(await store.resources.readAt(gone, 'Patient', 'p1', 1)).toBeUndefined();
    expect(await store.resources.countByType(gone)).toEqual({});
    expect(await store.clients.listClients(gone)).toEqual([]);
    expect(await store.jobs.getJob(jobIds[0] as string)).toBeUndefined();
    expect(await store.jobs.listChunks(jobIds[0] as string)).toEqual([]);
    expect(await store.tenants.tenantCounts(gone)).toEqual({ clients: 0, jobs: 0 });

    expect(await store.resources.countByType(kept)).toEqual({ Patient: 1, Observation: 1 });
    expect(await store.tenants.tenantCounts(kept)).toEqual({ clients: 1, jobs: 1 });
  });
});
