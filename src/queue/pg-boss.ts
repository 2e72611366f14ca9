import PgBoss from 'pg-boss';
import type { ConsumeOptions, JobQueue, QueueConsumer, QueueItem } from './ports.js';

/** The pg-boss queue that carries export chunks. */
const QUEUE = 'flatfhir-export-chunks';
/** Deliveries of an item whose handler rejected (the store was unreachable, say) or whose consumer vanished. */
const RETRY_LIMIT = 12;
/**
 * After this long in a handler pg-boss offers an item again (by default). It covers a consumer that died between
 * fetching an item and claiming its chunk: that chunk is still pending in the store, so no lapsed lease shows it,
 * and only the queue can offer it again. A chunk still running under a live lease makes the second delivery a
 * no-op, so a short expiry costs a redundant delivery now and then and saves minutes of a stalled job.
 */
const EXPIRE_SECONDS = 30;

export interface PgBossQueueOptions {
  connectionString: string;
  /** The schema of pg-boss's tables (the store's schema: they sit beside its tables). */
  schema: string;
  /** How long an idle consumer waits before asking the database again for items sent by other processes. */
  pollIntervalMs: number;
  /** Connections of pg-boss's own pool. */
  poolSize?: number;
  /**
   * The `application_name` of those connections (default `flatfhir-queue`), so that they are told apart from the
   * store's in `pg_stat_activity`. An `application_name` in `connectionString` would take its place: leave it out.
   */
  applicationName?: string;
  /**
   * Seconds an item may stay fetched before pg-boss offers it again (a few times the chunk lease); expiry is
   * checked this often too.
   */
  expireSeconds?: number;
  onError?: (error: unknown) => void;
}

/**
 * The JobQueue over pg-boss 10 (PostgreSQL, `FOR UPDATE SKIP LOCKED`): durable, shared by every process on the
 * database. A consumer fetches as many items as it has free slots and fetches again as soon as a slot frees,
 * so it waits for the polling interval only when the queue was empty.
 */
export async function openPgBossQueue(options: PgBossQueueOptions): Promise<JobQueue> {
  const expireSeconds = Math.max(1, Math.round(options.expireSeconds ?? EXPIRE_SECONDS));
  const boss = new PgBoss({
    connectionString: options.connectionString,
    schema: options.schema,
    max: options.poolSize ?? 4,
    schedule: false,
    // Maintenance expires items of vanished consumers (see EXPIRE_SECONDS) and archives old ones.
    maintenanceIntervalSeconds: Math.min(60, expireSeconds),
    application_name: options.applicationName ?? 'flatfhir-queue',
  });
  boss.on('error', (e: unknown) => options.onError?.(e));
  await boss.start();
  try {
    await boss.createQueue(QUEUE, {
      name: QUEUE,
      policy: 'standard',
      retryLimit: RETRY_LIMIT,
      retryDelay: 1,
      retryBackoff: true,
      expireInSeconds: expireSeconds,
    });
  } catch (e) {
    // Several processes starting at once: the queue exists once one of them created it.
    if (!(await boss.getQueue(QUEUE))) throw e;
  }

  const consumers = new Set<QueueConsumer>();
  const localWakers = new Set<() => void>();
  const wakeLocal = (): void => {
    for (const w of [...localWakers]) w();
  };

  function consume(handler: (item: QueueItem) => Promise<void>, consumeOptions: ConsumeOptions): QueueConsumer {
    const concurrency = Math.max(1, consumeOptions.concurrency);
    let running = true;
    let active = 0;
    const inFlight = new Set<Promise<void>>();
    let wake: (() => void) | undefined;
    const pause = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          localWakers.delete(done);
          if (wake === done) wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        localWakers.add(done);
        wake = done;
      });

    const run = async (job: PgBoss.Job<QueueItem>): Promise<void> => {
      try {
        await handler({ jobId: job.data.jobId, seq: job.data.seq });
        await boss.complete(QUEUE, job.id);
      } catch (e) {
        consumeOptions.onError?.(e, job.data);
        // Offered again after a pause (pg-boss's retry delay, with backoff), a bounded number of times.
        await boss.fail(QUEUE, job.id, { message: e instanceof Error ? e.message : String(e) }).catch((err: unknown) => consumeOptions.onError?.(err));
      }
    };

    const loop = (async () => {
      while (running) {
        if (active >= concurrency) {
          await pause(60_000);
          continue;
        }
        let jobs: PgBoss.Job<QueueItem>[] = [];
        try {
          jobs = await boss.fetch<QueueItem>(QUEUE, { batchSize: concurrency - active });
        } catch (e) {
          consumeOptions.onError?.(e);
        }
        if (jobs.length === 0) {
          if (!running) break;
          await pause(options.pollIntervalMs);
          continue;
        }
        for (const job of jobs) {
          active++;
          const p: Promise<void> = run(job).finally(() => {
            active--;
            inFlight.delete(p);
            wake?.();
          });
          inFlight.add(p);
        }
      }
    })();

    const consumer: QueueConsumer = {
      async stop() {
        running = false;
        wake?.();
        await loop;
        await Promise.all([...inFlight]);
        consumers.delete(consumer);
      },
    };
    consumers.add(consumer);
    return consumer;
  }

  return {
    durable: true,
    async send(items) {
      if (items.length === 0) return;
      // The expiry on each item too: a queue created by an earlier version keeps its own default.
      await boss.insert(items.map((item) => ({ name: QUEUE, data: { jobId: item.jobId, seq: item.seq }, expireInSeconds: expireSeconds })));
      wakeLocal();
    },
    consume,
    async depth() {
      return boss.getQueueSize(QUEUE);
    },
    async close() {
      await Promise.all([...consumers].map((c) => c.stop()));
      await boss.stop({ graceful: false, wait: true, close: true });
    },
  };
}
