import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { JobQueue, QueueConsumer, QueueItem } from '../queue/ports.js';
import type { ObjectStorage } from '../storage/ports.js';
import { FhirError } from '../fhir/errors.js';
import type { AuditTrail } from '../manage/audit-trail.js';
import type { AsyncRequestStore, AuditStore, CohortStore, ExportChunk, ExportJob, JobStore, Lease, ResourceStore } from '../store/ports.js';
import { type ExportEvents, failureMessage, failureReason } from './events.js';
import type { ExportParams } from './kickoff.js';
import { jobPatients, jobUntil, planExport, type PlannedChunk, type Slice } from './planner.js';
import { type ChunkFile, type ChunkLimits, JobCancelled, objectPrefix, purgeDeletedJob, runChunk } from './runner.js';

/** Runs one chunk somewhere (this thread, or a worker thread); rejects with JobCancelled when the job stopped. */
export type ChunkExecutor = (job: ExportJob, chunk: ExportChunk) => Promise<{ files: ChunkFile[]; count: number }>;

/**
 * What planning a job came to: its chunks (with how many patients it covers and the statistics refreshed), or a
 * refusal that fails the job (a group too large, criteria that cannot be evaluated: the same on every attempt).
 */
export type PlanOutcome = { chunks: PlannedChunk[]; patients?: number; refreshed: string[] } | { refused: string };

/** Plans a job somewhere (this thread, or a worker thread). */
export type JobPlanner = (job: ExportJob) => Promise<PlanOutcome>;

export interface PlanDeps {
  resources: ResourceStore;
  jobs: Pick<JobStore, 'setJobPatients'>;
  /** Evaluates dynamic groups (without it, a dynamic group has no members). */
  cohorts?: CohortStore;
  maxGroupMembers: number;
  chunkResources: number;
  /** Where the patient set of each job is kept for the audit trail (absent: not kept). */
  auditPatients?: Pick<AuditStore, 'addJobPatients'>;
}

/**
 * Plans a job: its patients into the store (and the audit trail's), its chunks computed, nothing recorded of the
 * plan itself (the caller completes the planning chunk with them). The queries are the store's heaviest of an
 * export (counts and id boundaries over whole types), so a server runs this on a chunk thread.
 */
export async function planJob(deps: PlanDeps, job: ExportJob): Promise<PlanOutcome> {
  const params = job.params as ExportParams;
  const until = jobUntil(job, params);
  // Statistics that a write path left behind must not give this job's queries bad plans.
  const refreshed = await deps.resources.refreshStaleStatistics();
  let patients: Awaited<ReturnType<typeof jobPatients>>;
  try {
    patients = await jobPatients(deps.resources, job, params, until, deps.cohorts ? { cohorts: deps.cohorts, maxMembers: deps.maxGroupMembers } : undefined);
  } catch (e) {
    if (!(e instanceof FhirError) || e.status >= 500) throw e;
    return { refused: e.message };
  }
  if (patients && patients.length > 0) await deps.jobs.setJobPatients(job.id, patients);
  // Which patients' compartments the job covers, kept (with the kick-off's time) as long as the audit trail: a
  // system-level export covers every patient of the tenant at its snapshot (their ids from the index alone).
  // Written while the chunks are planned, and before the plan is recorded.
  const recordPatients = async (): Promise<void> => {
    if (!deps.auditPatients) return;
    const ids = patients ? patients.map((p) => p.id) : await deps.resources.idBoundaries(job.tenant, 'Patient', until, 1);
    await deps.auditPatients.addJobPatients(job.tenant, job.id, ids, job.createdAt);
  };
  const planChunks = async () => {
    // Nor the job's own patient set, which every compartment scan joins.
    if (patients && patients.length > 0) refreshed.push(...(await deps.resources.refreshStaleStatistics(patients.length)));
    return planExport({
      job,
      params,
      until,
      ...(patients ? { patients: patients.map((p) => p.id).sort() } : {}),
      resources: deps.resources,
      chunkResources: deps.chunkResources,
    });
  };
  const [, chunks] = await Promise.all([recordPatients(), planChunks()]);
  return { chunks, refreshed, ...(patients ? { patients: patients.length } : {}) };
}

export interface ExportWorkerDeps {
  jobs: JobStore;
  resources: ResourceStore;
  /** Evaluates dynamic groups when their jobs are planned (without it, a dynamic group has no members). */
  cohorts?: CohortStore;
  /** Asynchronous FHIR requests (Bulk Cohort group creation): the sweep removes those past their expiry. */
  asyncRequests?: Pick<AsyncRequestStore, 'purgeExpiredRequests'>;
  /** The most members an evaluated group may have (default 20,000). */
  maxGroupMembers?: number;
  storage: ObjectStorage;
  queue: JobQueue;
  log: Logger;
  events?: ExportEvents;
  now?: () => number;
  /** Where chunks run (worker threads); by default, and for jobs with _typeFilter, on this thread. */
  execute?: ChunkExecutor;
  /** Where jobs are planned (a worker thread); by default on this thread. */
  planJob?: JobPlanner;
  /** For $sql-export chunks run on this thread: the embedded DuckDB's memory limit. */
  duckdb?: { memoryLimit?: string };
  settings: ChunkLimits & {
    concurrency: number;
    chunkResources: number;
    leaseSeconds: number;
    heartbeatSeconds: number;
    maxChunkAttempts: number;
    sweepIntervalSeconds: number;
  };
  /**
   * The audit trail: the patient set of each job (when planned), expiries; the retention sweep removes records
   * older than `retentionDays`.
   */
  audit?: { trail: AuditTrail; retentionDays: number };
  /**
   * This process is the only one running chunks on its store (the embedded SQLite server): at start, every
   * lease left running belongs to a previous run of it and is reclaimed at once.
   */
  soleWorker?: boolean;
  /**
   * How often pending chunks that nothing carries are looked for (default 30 s): chunks still pending while the
   * queue holds nothing, on two looks in a row, are queued again (a send that failed for longer than its retries).
   */
  orphanCheckMs?: number;
}

export interface ExportWorker {
  start(): Promise<void>;
  /** Stops taking chunks and waits for the running ones to finish. */
  stop(): Promise<void>;
  /** Deletes expired jobs and their files now (whichever process's turn it is). */
  sweep(): Promise<number>;
}

/** A chunk's lease was taken over by another worker (this one stalled past it): its result is dropped. */
class LeaseLost extends Error {
  constructor() {
    super('chunk lease lost');
  }
}

/**
 * A check, at most once a second, that throws JobCancelled once the job is no longer in progress (deleted,
 * or finished by another worker) or LeaseLost once `lost()` says so.
 */
export function cancellationCheck(jobs: JobStore, jobId: string, now: () => number = Date.now, lost: () => boolean = () => false): () => Promise<void> {
  let lastCheck = now();
  return async () => {
    if (lost()) throw new LeaseLost();
    if (now() - lastCheck < 1000) return;
    lastCheck = now();
    const current = await jobs.getJob(jobId);
    if (!current || current.status !== 'in-progress') throw new JobCancelled();
  };
}

const SWEEP_TASK = 'export-retention-sweep';

/**
 * The order a job's chunks are queued in: the longest first, so the chunks left when the others are done are short
 * ones and every thread finishes near the same time (one large chunk last keeps one thread busy alone). The
 * Provenance of a compartment export (one chunk whatever its size, unknown at planning) comes first of all; the
 * other referenced types (Location, Organization, Practitioner: few) last, so the first chunks done give the
 * status's rate estimate (and its Retry-After) a fair sample. Files keep their chunks' order in the manifest
 * whatever order the chunks ran in.
 */
export function longestFirst(seqs: number[], chunks: PlannedChunk[]): number[] {
  const size = (c: PlannedChunk | undefined): number =>
    c && (c.slice as Slice).mode === 'referenced' ? (c.type === 'Provenance' ? Number.POSITIVE_INFINITY : -1) : (c?.estimate ?? 0);
  return seqs
    .map((seq, i) => ({ seq, size: size(chunks[i]) }))
    .sort((a, b) => (a.size === b.size ? a.seq - b.seq : b.size - a.size))
    .map((x) => x.seq);
}

/** Tries at queueing chunks the store holds as pending, and the pause before the second (doubling after). */
const SEND_ATTEMPTS = 6;
const SEND_RETRY_MS = 250;
/** How often pending chunks that no queue item carries are looked for (see `orphanCheckMs`). */
const ORPHAN_CHECK_MS = 30_000;

/**
 * The export worker: takes chunks from the queue (any chunk of any job; the first chunk of a job plans the
 * rest), claims each in the store under a lease kept alive by a heartbeat, runs it, and records its files; the
 * commit of a job's last chunk completes the job, whoever ran it. A chunk whose attempts run out fails its
 * job. Every few seconds the worker puts chunks whose lease lapsed (their worker died) back on the queue.
 * Nothing about a job lives only in memory.
 */
export function createExportWorker(deps: ExportWorkerDeps): ExportWorker {
  const now = deps.now ?? Date.now;
  const leaseMs = deps.settings.leaseSeconds * 1000;
  const heartbeatMs = Math.min(deps.settings.heartbeatSeconds * 1000, Math.max(250, leaseMs / 3));
  const owner = randomUUID();
  let consumer: QueueConsumer | undefined;
  let timers: NodeJS.Timeout[] = [];
  const lease = (): Lease => ({ owner, until: now() + leaseMs });

  /**
   * Queues chunks the store already holds as pending, trying again for a few seconds when the queue refuses them
   * (a lost connection, say): nothing else would queue them until the next start.
   */
  async function queueChunks(items: QueueItem[], log: Logger): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await deps.queue.send(items);
        return;
      } catch (e) {
        if (attempt >= SEND_ATTEMPTS) throw e;
        log.warn({ err: e, attempt, chunks: items.length }, 'queueing export chunks failed; trying again');
        await sleep(SEND_RETRY_MS * 2 ** (attempt - 1));
      }
    }
  }

  const runHere = (job: ExportJob, chunk: ExportChunk, lost: () => boolean): Promise<{ files: ChunkFile[]; count: number }> =>
    runChunk(
      {
        resources: deps.resources,
        storage: deps.storage,
        limits: deps.settings,
        checkCancelled: cancellationCheck(deps.jobs, job.id, now, lost),
        ...(deps.duckdb ? { duckdb: deps.duckdb } : {}),
      },
      job,
      chunk,
    );
  // Chunks of a job with _typeFilter run on this thread: evaluating FHIR search loads the R4 definitions (hundreds
  // of MB), which this thread already holds from validating the kick-off; a worker thread would load them again.
  const execute = (job: ExportJob, chunk: ExportChunk, lost: () => boolean): Promise<{ files: ChunkFile[]; count: number }> =>
    deps.execute && Object.keys((job.params as ExportParams).typeFilters).length === 0 ? deps.execute(job, chunk) : runHere(job, chunk, lost);

  const planHere = (job: ExportJob): Promise<PlanOutcome> =>
    planJob(
      {
        resources: deps.resources,
        jobs: deps.jobs,
        ...(deps.cohorts ? { cohorts: deps.cohorts } : {}),
        maxGroupMembers: deps.maxGroupMembers ?? 20_000,
        chunkResources: deps.settings.chunkResources,
        ...(deps.audit ? { auditPatients: deps.audit.trail.store } : {}),
      },
      job,
    );

  /** Plans a job (its patients into the store), records its chunks after the planning chunk and queues them. */
  async function plan(job: ExportJob, chunk: ExportChunk, log: Logger): Promise<void> {
    const outcome = await (deps.planJob ?? planHere)(job);
    if ('refused' in outcome) {
      // The job fails now, its status answering the reason.
      await deps.jobs.failChunk(job.id, chunk.seq, outcome.refused, false);
      if (await deps.jobs.finishJob(job.id, 'failed', now(), outcome.refused)) deps.events?.jobFailed?.(job, 'error');
      log.warn({ reason: outcome.refused }, 'export job refused at planning');
      return;
    }
    const { chunks, refreshed } = outcome;
    if (refreshed.length > 0) log.info({ tables: refreshed }, 'planner statistics refreshed');
    const total = chunks.reduce((n, c) => n + c.estimate, 0);
    const planned = await deps.jobs.completePlan(job.id, chunk.seq, chunks, total, now());
    if (!planned) return;
    log.info({ chunks: chunks.length, estimate: total, patients: outcome.patients }, 'export job planned');
    if (planned.jobCompleted) finished(job, log);
    await queueChunks(
      longestFirst(planned.seqs, chunks).map((seq) => ({ jobId: job.id, seq })),
      log,
    );
  }

  function finished(job: ExportJob, log: Logger): void {
    log.info('export job completed');
    deps.events?.jobCompleted?.(job);
  }

  async function failed(job: ExportJob, chunk: ExportChunk, e: unknown, log: Logger): Promise<void> {
    const reason = failureReason(e);
    const what = (chunk.slice as Slice).mode === 'plan' ? 'Planning the export' : `Exporting ${chunk.type} (part ${chunk.seq})`;
    const retry = chunk.attempts < deps.settings.maxChunkAttempts;
    deps.events?.chunkFailed?.({ jobId: job.id, type: chunk.type, reason, final: !retry });
    if (retry) {
      log.warn({ err: e, seq: chunk.seq, attempt: chunk.attempts }, 'export chunk failed; will retry');
      await deps.jobs.failChunk(job.id, chunk.seq, failureMessage(reason, what), true);
      await queueChunks([{ jobId: job.id, seq: chunk.seq }], log);
      return;
    }
    log.error({ err: e, seq: chunk.seq, reason }, 'export chunk failed for good; the job fails');
    await deps.jobs.failChunk(job.id, chunk.seq, failureMessage(reason, what), false);
    // The whole job fails (its status answers an OperationOutcome): a manifest without this chunk's resources
    // would look complete to a client that does not read the error files. Its slot is free from here on.
    if (await deps.jobs.finishJob(job.id, 'failed', now(), failureMessage(reason, what))) deps.events?.jobFailed?.(job, reason);
  }

  /** Handles one queue item: claim, run under a heartbeat, record. Resolves unless the store is unreachable. */
  async function handle(item: QueueItem): Promise<void> {
    const claimed = await deps.jobs.claimChunk(item.jobId, item.seq, lease(), now());
    // Done, running elsewhere under a live lease, or its job stopped: a repeated delivery, nothing to do.
    if (!claimed) return;
    const { job, chunk } = claimed;
    const log = deps.log.child({ jobId: job.id, tenant: job.tenant, seq: chunk.seq, type: chunk.type });
    let lost = false;
    const heartbeat = setInterval(() => {
      deps.jobs.renewLease(job.id, chunk.seq, lease()).then(
        (held) => {
          if (!held && !lost) {
            lost = true;
            log.warn('export chunk lease lost; another worker redoes the chunk');
          }
        },
        (e: unknown) => log.warn({ err: e }, 'export chunk lease renewal failed'),
      );
    }, heartbeatMs);
    const started = now();
    try {
      if ((chunk.slice as Slice).mode === 'plan') {
        await plan(job, chunk, log);
        return;
      }
      log.debug({ attempt: chunk.attempts }, 'export chunk started');
      const result = await execute(job, chunk, () => lost);
      if (lost) return;
      const recorded = await deps.jobs.completeChunk(job.id, chunk.seq, result.files, result.count, now());
      if (!recorded.recorded) {
        // The job was deleted meanwhile (or the chunk finished by another worker that took over the lease).
        const current = await deps.jobs.getJob(job.id);
        if (!current || current.status === 'deleted') await deps.storage.deletePrefix(objectPrefix(job.id));
        return;
      }
      const bytes = result.files.reduce((n, f) => n + f.bytes, 0);
      log.debug({ resources: result.count, bytes, ms: now() - started }, 'export chunk done');
      deps.events?.chunkCompleted?.({ jobId: job.id, type: chunk.type, resources: result.count, bytes, durationMs: now() - started });
      if (recorded.jobCompleted) finished(job, log);
    } catch (e) {
      if (e instanceof LeaseLost) return;
      if (e instanceof JobCancelled) {
        const current = await deps.jobs.getJob(job.id);
        if (!current || current.status === 'deleted') await deps.storage.deletePrefix(objectPrefix(job.id));
        return;
      }
      await failed(job, chunk, e, log);
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * Queues again the pending chunks that nothing carries: the queue holds nothing, yet they were pending at the
   * last look as well (chunks handed to a consumer are claimed within moments). A repeated delivery is a no-op.
   */
  let pendingBefore = new Set<string>();
  async function requeueOrphans(): Promise<void> {
    if ((await deps.queue.depth()) > 0) {
      pendingBefore = new Set();
      return;
    }
    const pending = await deps.jobs.pendingChunks();
    const key = (c: QueueItem): string => `${c.jobId}/${c.seq}`;
    const orphans = pending.filter((c) => pendingBefore.has(key(c)));
    pendingBefore = new Set(pending.map(key));
    if (orphans.length === 0) return;
    deps.log.warn({ chunks: orphans.length, jobIds: [...new Set(orphans.map((c) => c.jobId))] }, 'pending export chunks that no queue item carried; queued again');
    await queueChunks(orphans, deps.log);
  }

  /** Puts chunks whose lease lapsed back on the queue (each by exactly one process). */
  async function reclaim(): Promise<void> {
    const expired = await deps.jobs.reclaimExpired(now());
    if (expired.length === 0) return;
    deps.log.warn({ chunks: expired.length, jobIds: [...new Set(expired.map((c) => c.jobId))] }, 'export chunk leases lapsed; chunks queued again');
    await queueChunks(expired, deps.log);
  }

  async function sweep(): Promise<number> {
    // Expired jobs are marked deleted, then every deleted job (including any a DELETE could not clean up) is purged.
    const expired = await deps.jobs.listJobs({ expiredBefore: now(), status: ['in-progress', 'completed', 'failed'] });
    for (const job of expired) {
      await deps.jobs.deleteJob(job.id);
      deps.audit?.trail.record({ action: 'export.expire', outcome: 'success', tenant: job.tenant, clientId: job.clientId, jobId: job.id, detail: `was ${job.status}` });
    }
    for (const job of await deps.jobs.listJobs({ status: 'deleted' })) await purgeDeletedJob(deps.jobs, deps.storage, job.id);
    if (expired.length > 0) deps.log.info({ count: expired.length }, 'expired export jobs deleted');
    const requests = (await deps.asyncRequests?.purgeExpiredRequests(now())) ?? 0;
    if (requests > 0) deps.log.info({ count: requests }, 'expired asynchronous requests removed');
    if (deps.audit) {
      const removed = await deps.audit.trail.store.purgeBefore(now() - deps.audit.retentionDays * 86_400_000);
      if (removed > 0) deps.log.info({ count: removed }, 'audit records past their retention removed');
    }
    return expired.length;
  }

  return {
    async start() {
      if (consumer) return;
      if (deps.soleWorker) {
        const released = await deps.jobs.releaseAllLeases();
        if (released > 0) deps.log.info({ chunks: released }, 'export chunks of the previous run reclaimed');
      }
      // The in-process queue starts empty, and a durable one may have lost an item sent just before a crash:
      // every pending chunk is queued (again); a repeated delivery is a no-op.
      const pending = await deps.jobs.pendingChunks();
      if (pending.length > 0) await queueChunks(pending, deps.log);
      consumer = deps.queue.consume(handle, {
        concurrency: deps.settings.concurrency,
        onError: (e, item) => deps.log.error({ err: e, ...(item ? { jobId: item.jobId, seq: item.seq } : {}) }, 'export queue item failed'),
      });
      const every = (ms: number, task: () => Promise<unknown>, what: string): void => {
        const run = (): void => {
          task().catch((e: unknown) => deps.log.error({ err: e }, `${what} failed`));
        };
        const timer = setInterval(run, ms);
        timer.unref();
        timers.push(timer);
        run();
      };
      every(heartbeatMs, reclaim, 'reclaiming lapsed export chunk leases');
      every(deps.orphanCheckMs ?? ORPHAN_CHECK_MS, requeueOrphans, 'queueing pending export chunks again');
      // One sweeper at a time, whichever process: the store hands out one turn per interval.
      const sweepMs = deps.settings.sweepIntervalSeconds * 1000;
      every(Math.min(sweepMs, 60_000), async () => (await deps.jobs.takeTurn(SWEEP_TASK, now(), sweepMs)) && sweep(), 'sweeping expired exports');
    },
    async stop() {
      for (const t of timers) clearInterval(t);
      timers = [];
      await consumer?.stop();
      consumer = undefined;
      await deps.audit?.trail.flush();
    },
    sweep,
  };
}
