import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Caller } from '../auth/access.js';
import { FhirError, forbidden, internal, notFound, throttled } from '../fhir/errors.js';
import type { JobQueue } from '../queue/ports.js';
import type { ObjectStorage } from '../storage/ports.js';
import type { ExportFile, ExportJob, JobStore, ResourceStore } from '../store/ports.js';
import type { ExportEvents } from './events.js';
import { type ExportParams, type KickoffInput, parseKickoff, requestFingerprint } from './kickoff.js';
import { checkKickoffData, PLAN_CHUNK_TYPE, type Slice } from './planner.js';
import { purgeDeletedJob } from './runner.js';
import { type Manifest, type ManifestUrls, manifestPage, wholeManifest } from './manifest.js';
import { advisedRetryAfter, createStatusViewCache, formatProgress } from './status-view.js';

export interface ExportSettings {
  chunkResources: number;
  retentionSeconds: number;
  retryAfterSeconds: number;
  presignSeconds: number;
  maxPatients: number;
  rejectDuplicates: boolean;
  /** Output and deleted files per manifest page when the client allows partial manifests. */
  manifestPageFiles: number;
  /** The largest output file (the bound of `_maximumFileSize`). */
  maxFileBytes: number;
}

export interface ExportServiceDeps {
  resources: ResourceStore;
  jobs: JobStore;
  storage: ObjectStorage;
  log: Logger;
  /** Where a new job's planning chunk is sent (any worker plans it). */
  queue: JobQueue;
  settings: ExportSettings;
  events?: ExportEvents;
  now?: () => number;
}

export interface KickoffRequest extends Omit<KickoffInput, 'now' | 'maxPatients' | 'maxFileBytes'> {
  tenant: string;
  /** The absolute kick-off URL, for the manifest's `request`. */
  requestUrl: string;
  fhirBase: string;
}

export type { Manifest } from './manifest.js';

export type JobStatusView =
  /** With partial manifests, a sealed page may come with an in-progress answer. */
  | { state: 'in-progress'; progress: string; retryAfter: number; separate?: boolean; manifest?: Manifest }
  | { state: 'completed'; manifest: Manifest; expires: Date; separate?: boolean }
  /** Only with `Prefer: separate-export-status` (otherwise a failed job's status throws the 500 itself). */
  | { state: 'failed'; error: FhirError; separate: true };

export interface ExportService {
  kickoff(request: KickoffRequest): Promise<ExportJob>;
  /** The job's status; `page` > 0 asks a further manifest page of a job with partial manifests. */
  status(tenant: string, jobId: string, caller: Caller, fhirBase: string, page?: number): Promise<JobStatusView>;
  cancel(tenant: string, jobId: string, caller: Caller): Promise<void>;
  /** The pre-signed URL of a file the caller may read, with the file's job. */
  fileLocation(tenant: string, fileId: string, caller: Caller, origin: string): Promise<{ location: string; jobId: string }>;
  /** The caller's own jobs not deleted nor expired, newest first (a client that lost a status URL finds it here). */
  listOwn(tenant: string, caller: Caller, limit?: number): Promise<ExportJob[]>;
}

/** Minimum time a job shows as in progress, so the first poll right after kick-off is always a 202. */
const MIN_IN_PROGRESS_MS = 1000;

export function createExportService(deps: ExportServiceDeps): ExportService {
  const now = deps.now ?? Date.now;
  const { resources, jobs, storage, queue, settings } = deps;
  const views = createStatusViewCache();

  async function ownedJob(tenant: string, jobId: string, caller: Caller): Promise<ExportJob> {
    const job = await jobs.getJob(jobId);
    // Another client's or another tenant's job is indistinguishable from a job that does not exist.
    if (!job || job.tenant !== tenant || job.clientId !== caller.clientId || job.status === 'deleted' || job.expiresAt < now()) {
      throw notFound(`Export job ${jobId} was not found.`);
    }
    return job;
  }

  return {
    async kickoff(req) {
      const at = now();
      const params = parseKickoff({ ...req, now: at, maxPatients: settings.maxPatients, maxFileBytes: settings.maxFileBytes });
      params.fhirBase = req.fhirBase;
      const transactionTime = await resources.snapshotTime(req.tenant);
      const until = params.until !== undefined ? Math.min(params.until, transactionTime) : transactionTime;
      // Only the checks the IG wants answered at kick-off run here (each one indexed read); the job plans itself.
      const checked = await checkKickoffData(resources, req.tenant, params, until);
      if (checked.group) params.group = checked.group;
      const requestHash = requestFingerprint(params);
      if (settings.rejectDuplicates) {
        const previous = await jobs.findByRequestHash(req.tenant, req.caller.clientId, requestHash);
        if (previous) {
          throw new FhirError(
            409,
            'duplicate',
            `This request duplicates export job ${previous.id} (status URL ${req.fhirBase}/bulk-export/jobs/${previous.id}); delete that job to request the same export again.`,
          );
        }
      }
      const created = await jobs.createJob({
        id: randomUUID(),
        tenant: req.tenant,
        clientId: req.caller.clientId,
        kind: params.kind,
        request: req.requestUrl,
        requestHash,
        params,
        transactionTime,
        createdAt: at,
        expiresAt: at + settings.retentionSeconds * 1000,
        chunks: [{ type: PLAN_CHUNK_TYPE, slice: { mode: 'plan' } satisfies Slice, estimate: 0 }],
      });
      if ('conflict' in created) {
        throw throttled(
          `An export of this client is already in progress for this tenant (status URL ${req.fhirBase}/bulk-export/jobs/${created.conflict.id}); wait for it to complete or delete it. GET ${req.fhirBase}/bulk-export/jobs lists your jobs.`,
          settings.retryAfterSeconds,
        );
      }
      const job = created.job;
      const log = deps.log.child({ jobId: job.id, tenant: req.tenant });
      try {
        await queue.send([{ jobId: job.id, seq: 0 }]);
      } catch (e) {
        // The job is stored; the workers' start-up and lease checks queue its pending chunk again.
        log.error({ err: e }, 'queueing the export job failed');
      }
      log.info({ kind: params.kind, types: params.types.length }, 'export job accepted');
      deps.events?.jobAccepted?.(job);
      return job;
    },

    async status(tenant, jobId, caller, fhirBase, page = 0) {
      const cached = page === 0 ? views.get({ id: jobId, tenant, clientId: caller.clientId }, now()) : undefined;
      if (cached) return cached;
      const job = await ownedJob(tenant, jobId, caller);
      const params = job.params as ExportParams;
      const separate = params.separateStatus === true ? { separate: true as const } : {};
      const failed = (): JobStatusView => {
        const error = internal(`The export failed: ${job.error ?? 'unknown error'}`);
        if (params.separateStatus) return { state: 'failed', error, separate: true };
        throw error;
      };
      const showsRunning = job.status === 'in-progress' || (job.status === 'completed' && now() < job.createdAt + MIN_IN_PROGRESS_MS);
      const inProgress = () => ({
        state: 'in-progress' as const,
        progress: formatProgress(job.doneResources, job.totalResources),
        retryAfter: advisedRetryAfter(job, now(), settings.retryAfterSeconds),
        ...separate,
      });
      const urls: ManifestUrls = {
        file: (f: ExportFile) => `${fhirBase}/bulk-export/files/${f.id}`,
        page: (k: number) => `${fhirBase}/bulk-export/jobs/${job.id}${k === 0 ? '' : `/manifests/${k}`}`,
      };
      if (params.allowPartialManifests) {
        const [files, chunks] = await Promise.all([jobs.listFiles(job.id), jobs.listChunks(job.id)]);
        const view = manifestPage({
          job: showsRunning ? { ...job, status: 'in-progress' } : job,
          params,
          files,
          chunks,
          pageSize: settings.manifestPageFiles,
          page,
          urls,
        });
        switch (view.state) {
          case 'page':
            return view.running ? { ...inProgress(), manifest: view.manifest } : { state: 'completed', manifest: view.manifest, expires: new Date(job.expiresAt), ...separate };
          case 'pending':
            return inProgress();
          case 'failed':
            return failed();
          case 'absent':
            throw notFound(`Manifest page ${page} of export job ${job.id} was not found.`);
        }
      }
      if (page !== 0) throw notFound(`Manifest page ${page} of export job ${job.id} was not found.`);
      if (job.status === 'failed') return failed();
      if (showsRunning) {
        const view = inProgress();
        views.put(job, view, now());
        return view;
      }
      const manifest = wholeManifest(job, params, await jobs.listFiles(job.id), urls);
      return { state: 'completed', manifest, expires: new Date(job.expiresAt), ...separate };
    },

    async cancel(tenant, jobId, caller) {
      const job = await ownedJob(tenant, jobId, caller);
      views.drop(job.id);
      // Once marked deleted the job is gone for the client (and frees its slot); removing its files may race a
      // chunk still writing, so a failure here is left to the worker and the sweeper, which purge deleted jobs.
      await jobs.deleteJob(job.id);
      try {
        await purgeDeletedJob(jobs, storage, job.id);
      } catch (e) {
        deps.log.warn({ err: e, jobId: job.id, tenant }, 'export files not removed yet; the sweeper will retry');
      }
      deps.log.info({ jobId: job.id, tenant }, 'export job deleted');
    },

    async fileLocation(tenant, fileId, caller, origin) {
      const file = await jobs.getFile(fileId);
      if (!file) throw notFound(`File ${fileId} was not found.`);
      const job = await ownedJob(tenant, file.jobId, caller);
      // With partial manifests a file is listed (and readable) once its chunk has committed, whatever the job's state.
      if (job.status !== 'completed' && !((job.params as ExportParams).allowPartialManifests)) throw notFound(`File ${fileId} was not found.`);
      if (file.kind !== 'error' && !caller.canRead(file.type)) {
        throw forbidden(`The access token does not grant read access to ${file.type}.`);
      }
      return { location: await storage.presign(file.objectKey, now() + settings.presignSeconds * 1000, origin), jobId: job.id };
    },

    async listOwn(tenant, caller, limit = 100) {
      return jobs.listJobs({
        tenant,
        clientId: caller.clientId,
        status: ['in-progress', 'completed', 'failed'],
        expiresAfter: now(),
        newestFirst: true,
        limit,
      });
    },
  };
}
