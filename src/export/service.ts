import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Caller } from '../auth/access.js';
import { FhirError, forbidden, internal, invalid, notFound, throttled } from '../fhir/errors.js';
import { activeMembers, type GroupMember } from '../fhir/group.js';
import type { ObjectStorage } from '../storage/ports.js';
import type { ExportFile, ExportJob, JobStore, ResourceStore } from '../store/ports.js';
import { type ExportParams, type KickoffInput, parseKickoff, requestFingerprint } from './kickoff.js';
import { planExport } from './planner.js';
import { purgeDeletedJob } from './runner.js';
import { advisedRetryAfter, createStatusViewCache, formatProgress } from './status-view.js';

export interface ExportSettings {
  chunkResources: number;
  retentionSeconds: number;
  retryAfterSeconds: number;
  presignSeconds: number;
  maxPatients: number;
  rejectDuplicates: boolean;
}

export interface ExportServiceDeps {
  resources: ResourceStore;
  jobs: JobStore;
  storage: ObjectStorage;
  log: Logger;
  settings: ExportSettings;
  /** Called when a job has chunks to run (wakes the in-process worker). */
  onPlanned?: () => void;
  now?: () => number;
}

export interface KickoffRequest extends Omit<KickoffInput, 'now' | 'maxPatients'> {
  tenant: string;
  /** The absolute kick-off URL, for the manifest's `request`. */
  requestUrl: string;
  fhirBase: string;
}

export interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: true;
  output: { type: string; url: string; count: number }[];
  error: { type: 'OperationOutcome'; url: string }[];
  deleted?: { type: 'Bundle'; url: string }[];
}

export type JobStatusView =
  | { state: 'in-progress'; progress: string; retryAfter: number }
  | { state: 'completed'; manifest: Manifest; expires: Date };

export interface ExportService {
  kickoff(request: KickoffRequest): Promise<ExportJob>;
  status(tenant: string, jobId: string, caller: Caller, fhirBase: string): Promise<JobStatusView>;
  cancel(tenant: string, jobId: string, caller: Caller): Promise<void>;
  /** The pre-signed URL of a file the caller may read. */
  fileLocation(tenant: string, fileId: string, caller: Caller, origin: string): Promise<string>;
}

/** Minimum time a job shows as in progress, so the first poll right after kick-off is always a 202. */
const MIN_IN_PROGRESS_MS = 1000;

export function createExportService(deps: ExportServiceDeps): ExportService {
  const now = deps.now ?? Date.now;
  const { resources, jobs, storage, settings } = deps;
  const views = createStatusViewCache();

  async function ownedJob(tenant: string, jobId: string, caller: Caller): Promise<ExportJob> {
    const job = await jobs.getJob(jobId);
    // Another client's or another tenant's job is indistinguishable from a job that does not exist.
    if (!job || job.tenant !== tenant || job.clientId !== caller.clientId || job.status === 'deleted' || job.expiresAt < now()) {
      throw notFound(`Export job ${jobId} was not found.`);
    }
    return job;
  }

  async function livePatientIds(tenant: string, until: number): Promise<string[]> {
    const ids: string[] = [];
    for await (const batch of resources.scan({ tenant, type: 'Patient', until })) for (const r of batch) ids.push(r.id);
    return ids;
  }

  /** The job's patients with whether each gets its full history (a member who joined after `_since`). */
  async function jobPatients(
    req: KickoffRequest,
    params: ExportParams,
    until: number,
  ): Promise<{ id: string; fullHistory: boolean }[] | undefined> {
    if (params.kind === 'system') return undefined;
    if (params.kind === 'group') {
      const stored = await resources.readAt(req.tenant, 'Group', req.groupId as string, until);
      if (!stored || stored.deleted || !stored.json) throw notFound(`Group/${req.groupId} was not found.`);
      const members = activeMembers(JSON.parse(stored.json) as object, until);
      let selected: GroupMember[] = members;
      if (params.patients) {
        const byId = new Map(members.map((m) => [m.patientId, m]));
        const outside = params.patients.filter((p) => !byId.has(p));
        if (outside.length > 0) {
          throw invalid(`Not members of Group/${req.groupId}: ${outside.slice(0, 10).map((p) => `Patient/${p}`).join(', ')}${outside.length > 10 ? ', …' : ''}.`);
        }
        selected = params.patients.map((p) => byId.get(p) as GroupMember);
      }
      let before = new Set<string>();
      if (params.since !== undefined) {
        const old = await resources.readAt(req.tenant, 'Group', req.groupId as string, params.since);
        if (old && !old.deleted && old.json) before = new Set(activeMembers(JSON.parse(old.json) as object, params.since).map((m) => m.patientId));
      }
      return selected.map((m) => ({
        id: m.patientId,
        fullHistory: params.since !== undefined && (!before.has(m.patientId) || (m.start !== undefined && m.start > params.since)),
      }));
    }
    if (params.patients) {
      const missing: string[] = [];
      for (const id of params.patients) {
        const r = await resources.readAt(req.tenant, 'Patient', id, until);
        if (!r || r.deleted) missing.push(id);
      }
      if (missing.length > 0) {
        throw invalid(`Unknown patients: ${missing.slice(0, 10).map((p) => `Patient/${p}`).join(', ')}${missing.length > 10 ? ', …' : ''}.`);
      }
      return params.patients.map((id) => ({ id, fullHistory: false }));
    }
    return (await livePatientIds(req.tenant, until)).map((id) => ({ id, fullHistory: false }));
  }

  return {
    async kickoff(req) {
      const at = now();
      const params = parseKickoff({ ...req, now: at, maxPatients: settings.maxPatients });
      params.fhirBase = req.fhirBase;
      const transactionTime = await resources.snapshotTime(req.tenant);
      const until = params.until !== undefined ? Math.min(params.until, transactionTime) : transactionTime;
      const patients = await jobPatients(req, params, until);
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
        ...(patients ? { patients } : {}),
      });
      if ('conflict' in created) {
        throw throttled(
          'An export of this client is already in progress for this tenant; wait for it to complete or delete it.',
          settings.retryAfterSeconds,
        );
      }
      const job = created.job;
      try {
        const chunks = await planExport({
          job,
          params,
          until,
          ...(patients ? { patients: patients.map((p) => p.id).sort() } : {}),
          resources,
          chunkResources: settings.chunkResources,
        });
        const total = chunks.reduce((n, c) => n + c.estimate, 0);
        await jobs.planChunks(job.id, chunks, total);
        if (chunks.length === 0) await jobs.finishJob(job.id, 'completed', now());
        else deps.onPlanned?.();
      } catch (e) {
        deps.log.error({ err: e, jobId: job.id, tenant: req.tenant }, 'planning the export failed');
        await jobs.finishJob(job.id, 'failed', now(), 'Planning the export failed.');
        throw internal('The export could not be planned.', e);
      }
      deps.log.info({ jobId: job.id, tenant: req.tenant, kind: params.kind, types: params.types.length }, 'export job accepted');
      return job;
    },

    async status(tenant, jobId, caller, fhirBase) {
      const cached = views.get({ id: jobId, tenant, clientId: caller.clientId }, now());
      if (cached) return cached;
      const job = await ownedJob(tenant, jobId, caller);
      if (job.status === 'failed') throw internal(`The export failed: ${job.error ?? 'unknown error'}`);
      if (job.status === 'in-progress' || now() < job.createdAt + MIN_IN_PROGRESS_MS) {
        const retryAfter = advisedRetryAfter(job, now(), settings.retryAfterSeconds);
        const view = { state: 'in-progress' as const, progress: formatProgress(job.doneResources, job.totalResources), retryAfter };
        views.put(job, view, now());
        return view;
      }
      const files = await jobs.listFiles(job.id);
      const params = job.params as ExportParams;
      const url = (f: ExportFile): string => `${fhirBase}/bulk-export/files/${f.id}`;
      const manifest: Manifest = {
        transactionTime: new Date(job.transactionTime).toISOString(),
        request: job.request,
        requiresAccessToken: true,
        output: files.filter((f) => f.kind === 'output' && f.count > 0).map((f) => ({ type: f.type, url: url(f), count: f.count })),
        error: files.filter((f) => f.kind === 'error').map((f) => ({ type: 'OperationOutcome' as const, url: url(f) })),
      };
      if (params.since !== undefined) {
        manifest.deleted = files.filter((f) => f.kind === 'deleted' && f.count > 0).map((f) => ({ type: 'Bundle' as const, url: url(f) }));
      }
      return { state: 'completed', manifest, expires: new Date(job.expiresAt) };
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
      if (job.status !== 'completed') throw notFound(`File ${fileId} was not found.`);
      if (file.kind !== 'error' && !caller.canRead(file.type)) {
        throw forbidden(`The access token does not grant read access to ${file.type}.`);
      }
      return storage.presign(file.objectKey, now() + settings.presignSeconds * 1000, origin);
    },
  };
}
