/** The AsyncRequestStore contract over every store adapter: the same assertions on SQLite and PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewAsyncRequest, Store } from '../src/store/ports.js';
import { storeAdapters } from './helpers/store-adapters.js';

const T0 = Date.UTC(2026, 0, 1);
let counter = 0;
const request = (tenant = 't1', at = T0): NewAsyncRequest => ({
  id: `req-${++counter}`,
  tenant,
  clientId: 'client-a',
  request: 'POST Group',
  payload: JSON.stringify({ group: { name: `g${counter}` } }),
  createdAt: at,
  expiresAt: at + 60_000,
});

for (const adapter of storeAdapters('async_requests', () => T0)) {
  describe(`AsyncRequestStore contract: ${adapter.name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeAll(async () => ({ store, cleanup } = await adapter.open()));
    afterAll(async () => cleanup());

    it('stores a pending request and reads it back as given', async () => {
      const r = request();
      await store.asyncRequests.createRequest(r);
      expect(await store.asyncRequests.getRequest(r.id)).toEqual({ ...r, status: 'pending', result: null, completedAt: null, leaseUntil: null });
      expect(await store.asyncRequests.getRequest('none')).toBeUndefined();
    });

    it('lets exactly one of concurrent claims hold a pending request, and another take it once the lease lapsed', async () => {
      const r = request();
      await store.asyncRequests.createRequest(r);
      const claims = await Promise.all([1, 2, 3, 4].map(() => store.asyncRequests.claimRequest(r.id, T0, T0 + 1000)));
      expect(claims.filter((c) => c !== undefined)).toHaveLength(1);
      expect(claims.find((c) => c)?.leaseUntil).toBe(T0 + 1000);
      expect(await store.asyncRequests.claimRequest(r.id, T0 + 999, T0 + 2000)).toBeUndefined();
      expect((await store.asyncRequests.claimRequest(r.id, T0 + 1001, T0 + 5000))?.leaseUntil).toBe(T0 + 5000);
      expect(await store.asyncRequests.claimRequest('none', T0, T0 + 1000)).toBeUndefined();
    });

    it('records the outcome of a pending request once, releasing its lease; a finished one is never claimed', async () => {
      const r = request();
      await store.asyncRequests.createRequest(r);
      await store.asyncRequests.claimRequest(r.id, T0, T0 + 1000);
      expect(await store.asyncRequests.finishRequest(r.id, 'completed', '{"group":{"id":"g"}}', T0 + 10)).toBe(true);
      expect(await store.asyncRequests.finishRequest(r.id, 'failed', '{}', T0 + 20)).toBe(false);
      expect(await store.asyncRequests.getRequest(r.id)).toMatchObject({ status: 'completed', result: '{"group":{"id":"g"}}', completedAt: T0 + 10, leaseUntil: null });
      expect(await store.asyncRequests.claimRequest(r.id, T0 + 5000, T0 + 6000)).toBeUndefined();
      expect(await store.asyncRequests.finishRequest('none', 'completed', '{}', T0)).toBe(false);
    });

    it('removes a request whatever its status, returning it as it was; a removed request cannot be finished', async () => {
      const pending = request();
      await store.asyncRequests.createRequest(pending);
      await store.asyncRequests.claimRequest(pending.id, T0, T0 + 1000);
      expect(await store.asyncRequests.deleteRequest(pending.id)).toMatchObject({ id: pending.id, status: 'pending', leaseUntil: T0 + 1000 });
      expect(await store.asyncRequests.finishRequest(pending.id, 'completed', '{}', T0 + 1)).toBe(false);
      expect(await store.asyncRequests.getRequest(pending.id)).toBeUndefined();
      expect(await store.asyncRequests.deleteRequest(pending.id)).toBeUndefined();
    });

    it('purges the requests expired at an instant, and only those', async () => {
      const early = request('t1', T0 - 120_000);
      const late = request('t1', T0);
      await store.asyncRequests.createRequest(early);
      await store.asyncRequests.createRequest(late);
      expect(await store.asyncRequests.purgeExpiredRequests(T0 - 60_000)).toBeGreaterThanOrEqual(1);
      expect(await store.asyncRequests.getRequest(early.id)).toBeUndefined();
      expect(await store.asyncRequests.getRequest(late.id)).toBeDefined();
    });

    it("goes with its tenant when the tenant is removed, other tenants' requests staying", async () => {
      await store.tenants.createTenant('gone', 'Gone', T0);
      await store.tenants.createTenant('kept', 'Kept', T0);
      const gone = request('gone');
      const kept = request('kept');
      await store.asyncRequests.createRequest(gone);
      await store.asyncRequests.createRequest(kept);
      expect(await store.tenants.removeTenant('gone')).toBe(true);
      expect(await store.asyncRequests.getRequest(gone.id)).toBeUndefined();
      expect(await store.asyncRequests.getRequest(kept.id)).toBeDefined();
    });
  });
}
