import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { createInProcessQueue } from '../src/queue/in-process.js';
import { openPgBossQueue } from '../src/queue/pg-boss.js';
import type { JobQueue, QueueItem } from '../src/queue/ports.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';

/**
 * One contract for every JobQueue adapter. A long polling interval shows that nothing waits for it when items
 * are sent through the same queue object or when a consumer finishes an item and more are waiting.
 */
interface QueueAdapter {
  name: string;
  /** Opens a queue; `peer` opens another one on the same backing store (another process's view), if any. */
  open(pollIntervalMs: number): Promise<{ queue: JobQueue; peer?: () => Promise<JobQueue>; cleanup(): Promise<void> }>;
}

const adapters: QueueAdapter[] = [
  {
    name: 'in-process',
    async open() {
      const queue = createInProcessQueue();
      return { queue, cleanup: () => queue.close() };
    },
  },
  {
    name: 'pg-boss',
    async open(pollIntervalMs) {
      const schema = freshSchema('queue');
      // pg-boss's tables sit beside the store's, in the store's schema.
      const store = await openPostgresStore(TEST_DATABASE_URL, { schema: schema.name, poolSize: 1 });
      await store.close();
      const peers: JobQueue[] = [];
      const open = async (): Promise<JobQueue> => {
        const q = await openPgBossQueue({ connectionString: TEST_DATABASE_URL, schema: schema.name, pollIntervalMs, poolSize: 3 });
        peers.push(q);
        return q;
      };
      const queue = await open();
      return {
        queue,
        peer: open,
        async cleanup() {
          for (const q of peers) await q.close();
          await schema.drop();
        },
      };
    },
  },
];

const items = (jobId: string, n: number): QueueItem[] => Array.from({ length: n }, (_, seq) => ({ jobId, seq }));
const key = (i: QueueItem): string => `${i.jobId}/${i.seq}`;

function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (check()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

describe.each(adapters)('queue contract: $name', (adapter) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });
  const open = async (pollIntervalMs = 60_000) => {
    const opened = await adapter.open(pollIntervalMs);
    cleanups.push(opened.cleanup);
    return opened;
  };

  it('hands each item to one handler, up to the concurrency at once, back to back without polling', async () => {
    const { queue } = await open();
    const seen: string[] = [];
    let active = 0;
    let peak = 0;
    const consumer = queue.consume(
      async (item) => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 5));
        seen.push(key(item));
        active--;
      },
      { concurrency: 3 },
    );
    // Sent while the consumer idles: handed over at once, and the backlog without a polling pause per item
    // (the polling interval is a minute, so a pause would time the test out).
    await queue.send(items('a', 30));
    await waitFor(() => seen.length === 30, '30 items');
    await consumer.stop();
    expect([...seen].sort()).toEqual(items('a', 30).map(key).sort());
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThan(1);
    expect(await queue.depth()).toBe(0);
  });

  it('offers an item again after its handler rejects, and keeps what was not taken for a later consumer', async () => {
    // The item comes back after a pause, which a consumer of another process would see by polling.
    const { queue } = await open(300);
    const errors: unknown[] = [];
    let calls = 0;
    const consumer = queue.consume(
      async () => {
        calls++;
        if (calls === 1) throw new Error('store unreachable');
      },
      { concurrency: 1, onError: (e) => errors.push(e) },
    );
    await queue.send([{ jobId: 'r', seq: 0 }]);
    await waitFor(() => calls >= 2, 'the item offered again');
    expect(errors).toHaveLength(1);
    await consumer.stop();

    // Nothing consumes now: items wait, and a new consumer gets them.
    await queue.send(items('later', 4));
    expect(await queue.depth()).toBe(4);
    const got: string[] = [];
    const next = queue.consume(async (i) => void got.push(key(i)), { concurrency: 2 });
    await waitFor(() => got.length === 4, 'the waiting items');
    await next.stop();
  });

  it('stop() waits for the running handlers', async () => {
    const { queue } = await open();
    let finished = false;
    let started = false;
    const consumer = queue.consume(
      async () => {
        started = true;
        await new Promise((r) => setTimeout(r, 300));
        finished = true;
      },
      { concurrency: 1 },
    );
    await queue.send([{ jobId: 's', seq: 0 }]);
    await waitFor(() => started, 'the handler to start');
    await consumer.stop();
    expect(finished).toBe(true);
  });

  it('shares items between processes: durable, any consumer takes any item, each once', async () => {
    const { queue, peer } = await open(200);
    if (!peer) {
      expect(queue.durable).toBe(false);
      return;
    }
    expect(queue.durable).toBe(true);
    const other = await peer();
    const byQueue = new Map<string, string>();
    const handler = (name: string) => async (item: QueueItem) => {
      await new Promise((r) => setTimeout(r, 20));
      expect(byQueue.has(key(item))).toBe(false);
      byQueue.set(key(item), name);
    };
    const a = queue.consume(handler('a'), { concurrency: 2 });
    const b = other.consume(handler('b'), { concurrency: 2 });
    // Sent by a third process's queue object: both consumers learn of it by polling.
    const sender = await peer();
    await sender.send(items('shared', 40));
    await waitFor(() => byQueue.size === 40, '40 items');
    await Promise.all([a.stop(), b.stop()]);
    const counts = [...byQueue.values()].reduce((m, n) => m.set(n, (m.get(n) ?? 0) + 1), new Map<string, number>());
    expect(counts.get('a')).toBeGreaterThan(0);
    expect(counts.get('b')).toBeGreaterThan(0);
  });
});

describe('pg-boss: an item fetched by a consumer that never finishes it', () => {
  it('is offered again to another process after the expiry (a worker killed between fetching and claiming)', async () => {
    const schema = freshSchema('queue');
    const store = await openPostgresStore(TEST_DATABASE_URL, { schema: schema.name, poolSize: 1 });
    await store.close();
    const open = (): Promise<JobQueue> => openPgBossQueue({ connectionString: TEST_DATABASE_URL, schema: schema.name, pollIntervalMs: 100, poolSize: 2, expireSeconds: 2 });
    const stuck = await open();
    const other = await open();
    let release = (): void => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const fetchedByStuck: string[] = [];
    const a = stuck.consume(
      async (item) => {
        fetchedByStuck.push(key(item));
        await held;
      },
      { concurrency: 1 },
    );
    await stuck.send(items('expiring', 1));
    await waitFor(() => fetchedByStuck.length === 1, 'the first delivery');
    const got: string[] = [];
    const b = other.consume(async (item) => void got.push(key(item)), { concurrency: 1 });
    try {
      // Without an expiry of its own the item would stay with the silent consumer for pg-boss's default 15 minutes.
      await waitFor(() => got.length === 1, 'the second delivery', 30_000);
      expect(got).toEqual(['expiring/0']);
    } finally {
      release();
      await Promise.all([a.stop(), b.stop()]);
      await stuck.close();
      await other.close();
      await schema.drop();
    }
  }, 60_000);
});
