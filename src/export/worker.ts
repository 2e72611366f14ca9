import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { type Metrics, noMetrics } from '../monitoring/ports.js';
import type { ObjectStorage } from '../storage/ports.js';
import type { ExportChunk, ExportJob, JobStore, ResourceStore } from '../store/ports.js';
import type { ExportParams } from './kickoff.js';
import { type ChunkFile, type ChunkLimits, JobCancelled, objectPrefix, outcomeLine, purgeDeletedJob, runChunk } from './runner.js';

/** Runs one chunk somewhere (this thread, or a worker thread); rejects with JobCancelled when the job stopped. */
export type ChunkExecutor = (job: ExportJob, chunk: ExportChunk) => Promise<{ files: ChunkFile[]; count: number }>;

export interface ExportWorkerDeps {
  jobs: JobStore;
  resources: ResourceStore;
  storage: ObjectStorage;
  log: Logger;
  now?: () => number;
  /** Chunk durations, resources and bytes written. */
  metrics?: Metrics;
  /** Where chunks run (worker threads); by default, and for jobs with _typeFilter, on this thread. */
  execute?: ChunkExecutor;
  settings: ChunkLimits & {
    concurrency: number;
    leaseSeconds: number;
    maxChunkAttempts: number;
    sweepIntervalSeconds: number;
  };
}

export interface ExportWorker {
  start(): void;
  /** Stops claiming chunks and waits for the running ones to finish. */
  stop(): Promise<void>;
  /** Wakes idle loops (a job was just planned). */
  wake(): void;
  /** Deletes expired jobs and their files now. */
  sweep(): Promise<number>;
}

const IDLE_POLL_MS = 500;

/** A check, at most once a second, that throws JobCancelled once the job is no longer in progress. */
export function cancellationCheck(jobs: JobStore, jobId: string, now: () => number = Date.now): () => Promise<void> {
  let lastCheck = now();
  return async () => {
    if (now() - lastCheck < 1000) return;
    lastCheck = now();
    const current = await jobs.getJob(jobId);
    if (!current || current.status !== 'in-progress') throw new JobCancelled();
  };
}

/**
 * Runs export chunks: each of `concurrency` loops claims a chunk (leased, so a crashed process's chunks are taken
 * over once the lease lapses), runs it and records its files; the last chunk of a job completes the job.
 * Nothing about a job lives only in memory.
 */
export function createExportWorker(deps: ExportWorkerDeps): ExportWorker {
  const now = deps.now ?? Date.now;
  const leaseMs = deps.settings.leaseSeconds * 1000;
  let running = false;
  let loops: Promise<void>[] = [];
  let wakers: (() => void)[] = [];
  let sweepTimer: NodeJS.Timeout | undefined;
  const runHere: ChunkExecutor = (job, chunk) =>
    runChunk(
      {
        resources: deps.resources,
        storage: deps.storage,
        limits: deps.settings,
        checkCancelled: cancellationCheck(deps.jobs, job.id, now),
      },
      job,
      chunk,
    );
  // Chunks of a job with _typeFilter run on this thread: evaluating FHIR search loads the R4 definitions (hundreds
  // of MB), which this thread already holds from validating the kick-off; a worker thread would load them again.
  const execute: ChunkExecutor = (job, chunk) =>
    deps.execute && Object.keys((job.params as ExportParams).typeFilters).length === 0 ? deps.execute(job, chunk) : runHere(job, chunk);

  const idle = (): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(done, IDLE_POLL_MS);
      function done(): void {
        clearTimeout(timer);
        wakers = wakers.filter((w) => w !== done);
        resolve();
      }
      wakers.push(done);
    });

  async function maybeFinish(jobId: string): Promise<void> {
    const chunks = await deps.jobs.listChunks(jobId);
    if (chunks.every((c) => c.status === 'done')) {
      if (await deps.jobs.finishJob(jobId, 'completed', now())) deps.log.info({ jobId }, 'export job completed');
    }
  }

  async function process(chunk: ExportChunk): Promise<void> {
    const job = await deps.jobs.getJob(chunk.jobId);
    if (!job || job.status !== 'in-progress') return;
    const log = deps.log.child({ jobId: job.id, tenant: job.tenant });
    const renew = setInterval(() => {
      deps.jobs.renewLease(job.id, chunk.seq, now() + leaseMs).catch((e: unknown) => log.warn({ err: e }, 'lease renewal failed'));
    }, Math.max(250, leaseMs / 3));
    const started = performance.now();
    const metrics = deps.metrics ?? noMetrics;
    try {
      const result = await execute(job, chunk);
      metrics.chunk({ type: chunk.type, seconds: (performance.now() - started) / 1000, resources: result.count, bytes: result.files.reduce((n, f) => n + f.bytes, 0), ok: true });
      const recorded = await deps.jobs.completeChunk(job.id, chunk.seq, result.files, result.count);
      if (!recorded) {
        // The job was deleted meanwhile (or the chunk was finished by another worker whose lease we outlived).
        const current = await deps.jobs.getJob(job.id);
        if (!current || current.status === 'deleted') await deps.storage.deletePrefix(objectPrefix(job.id));
        return;
      }
      await maybeFinish(job.id);
    } catch (e) {
      if (e instanceof JobCancelled) {
        await deps.storage.deletePrefix(objectPrefix(job.id));
        return;
      }
      metrics.chunk({ type: chunk.type, seconds: (performance.now() - started) / 1000, resources: 0, bytes: 0, ok: false });
      const message = e instanceof Error ? e.message : String(e);
      if (chunk.attempts < deps.settings.maxChunkAttempts) {
        log.warn({ err: e, seq: chunk.seq, attempt: chunk.attempts }, 'export chunk failed; will retry');
        await deps.jobs.failChunk(job.id, chunk.seq, message, true);
        return;
      }
      log.error({ err: e, seq: chunk.seq }, 'export chunk failed for good');
      // Record the failure as an error file so the manifest reports it, and let the job complete.
      const key = `${objectPrefix(job.id)}${String(chunk.seq).padStart(4, '0')}-failed.ndjson`;
      const line = outcomeLine('error', 'exception', `Exporting ${chunk.type} (part ${chunk.seq}) failed; its resources are missing from this export.`);
      const written = await deps.storage.put(key, Readable.from([`${line}\n`]));
      await deps.jobs.completeChunk(
        job.id,
        chunk.seq,
        [{ id: `${job.id}-failed-${chunk.seq}`, kind: 'error', type: 'OperationOutcome', part: 0, objectKey: key, count: 1, bytes: written.bytes }],
        0,
      );
      await maybeFinish(job.id);
    } finally {
      clearInterval(renew);
    }
  }

  async function loop(): Promise<void> {
    while (running) {
      let chunk: ExportChunk | undefined;
      try {
        chunk = await deps.jobs.claimChunk(leaseMs, now());
      } catch (e) {
        deps.log.error({ err: e }, 'claiming an export chunk failed');
      }
      if (!chunk) {
        await idle();
        continue;
      }
      try {
        await process(chunk);
      } catch (e) {
        deps.log.error({ err: e, jobId: chunk.jobId }, 'export chunk processing failed');
      }
    }
  }

  async function sweep(): Promise<number> {
    // Expired jobs are marked deleted, then every deleted job (including any a DELETE could not clean up) is purged.
    const expired = await deps.jobs.listJobs({ expiredBefore: now() });
    for (const job of expired) await deps.jobs.deleteJob(job.id);
    for (const job of await deps.jobs.listJobs({ status: 'deleted' })) await purgeDeletedJob(deps.jobs, deps.storage, job.id);
    if (expired.length > 0) deps.log.info({ count: expired.length }, 'expired export jobs deleted');
    return expired.length;
  }

  return {
    start() {
      if (running) return;
      running = true;
      loops = Array.from({ length: deps.settings.concurrency }, () => loop());
      const runSweep = (): void => {
        sweep().catch((e: unknown) => deps.log.error({ err: e }, 'sweeping expired exports failed'));
      };
      runSweep();
      sweepTimer = setInterval(runSweep, deps.settings.sweepIntervalSeconds * 1000);
      sweepTimer.unref();
    },
    async stop() {
      running = false;
      if (sweepTimer) clearInterval(sweepTimer);
      for (const w of [...wakers]) w();
      await Promise.all(loops);
      loops = [];
    },
    wake() {
      for (const w of [...wakers]) w();
    },
    sweep,
  };
}
