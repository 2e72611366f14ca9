/**
 * The entry of an export worker thread: a small composition root that opens its own store and storage from the
 * configuration it is given and runs the chunks the main thread sends it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config/index.js';
import { openStorage } from '../storage/open.js';
import { openStore } from '../store/open.js';
import { lowerThreadPriority } from '../threads/start-thread.js';
import type { ThreadRequest } from './chunk-pool.js';
import { JobCancelled, runChunk } from './runner.js';
import { cancellationCheck, planJob } from './worker.js';

const config = workerData as Config;
// Chunks and planning yield the cores to the main thread's HTTP answers.
lowerThreadPriority();
// A chunk thread writes little (job patient sets when it plans, nothing when it runs chunks; its scans read on
// connections of their own): a small page cache on its write connection keeps its memory small.
const store = await openStore(config, { sqliteWriterCacheKb: 2048 });
const storage = await openStorage(config, store.keys);

parentPort?.on('message', (message: ThreadRequest) => {
  const { id, job } = message;
  const work =
    'plan' in message
      ? planJob(
          {
            resources: store.resources,
            jobs: store.jobs,
            cohorts: store.cohorts,
            maxGroupMembers: config.export.maxGroupMembers,
            chunkResources: config.export.chunkResources,
            ...(message.plan.auditPatients ? { auditPatients: store.audit } : {}),
          },
          job,
        )
      : runChunk(
          {
            resources: store.resources,
            storage,
            limits: config.export,
            checkCancelled: cancellationCheck(store.jobs, job.id),
            duckdb: { memoryLimit: config.views.duckdbMemoryLimit },
          },
          job,
          message.chunk,
        );
  work.then(
    (result) => parentPort?.postMessage({ id, result }),
    (e: unknown) => {
      const code = typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : undefined;
      parentPort?.postMessage({ id, error: e instanceof Error ? e.message : String(e), ...(code !== undefined ? { code } : {}), cancelled: e instanceof JobCancelled });
    },
  );
});
parentPort?.postMessage({ ready: true });
