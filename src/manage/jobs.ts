import type { Logger } from 'pino';
import { invalid, notFound } from '../fhir/errors.js';
import { objectPrefix, purgeDeletedJob } from '../export/runner.js';
import type { ExportParams } from '../export/kickoff.js';
import type { ObjectStorage } from '../storage/ports.js';
import type { ExportChunk, ExportJob, JobStatus, JobStore } from '../store/ports.js';
import type { AuditTrail } from './audit-trail.js';
import type { JobDetailView, JobSummaryView } from './views.js';

/**
 * Export jobs for an operator (`flatfhir jobs …`, `/admin/jobs`): every tenant's and client's jobs, their detail,
 * cancelling one and purging old ones (their files too). Each change is recorded in the audit trail.
 */

export const JOB_STATES: readonly JobStatus[] = ['in-progress', 'completed', 'failed', 'deleted'];

/** Who asks for a change, for the audit trail: where from (an address, or `cli`) and what was asked. */
export interface AdminActor {
  source: string;
  request: string;
}

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

export const jobSummaryView = (j: ExportJob): JobSummaryView => ({
  id: j.id,
  tenant: j.tenant,
  client_id: j.clientId,
  kind: j.kind,
  state: j.status,
  request: j.request,
  created_at: new Date(j.createdAt).toISOString(),
  completed_at: iso(j.completedAt),
  expires_at: new Date(j.expiresAt).toISOString(),
  progress: { done: j.doneResources, total: j.totalResources },
  error: j.error,
});

/** The kick-off parameters as an operator reads them (instants as ISO text, empty parts left out). */
function parametersView(params: ExportParams): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: params.kind };
  if (params.groupId !== undefined) out['group'] = params.groupId;
  out['types'] = params.types;
  out['outputFormat'] = params.outputFormat;
  if (params.since !== undefined) out['since'] = new Date(params.since).toISOString();
  if (params.until !== undefined) out['until'] = new Date(params.until).toISOString();
  if (Object.keys(params.typeFilters ?? {}).length > 0) out['typeFilters'] = params.typeFilters;
  if (params.elements) out['elements'] = params.elements;
  if (params.provenance) out['provenance'] = params.provenance;
  if (params.patients) out['patients'] = params.patients.length;
  if (params.warnings?.length) out['warnings'] = params.warnings;
  return out;
}

export interface JobFilterInput {
  tenant?: string;
  clientId?: string;
  states?: JobStatus[];
  limit?: number;
}

export interface JobsAdmin {
  /** Jobs newest first. */
  list(filter: JobFilterInput): Promise<JobSummaryView[]>;
  show(id: string): Promise<JobDetailView>;
  /**
   * Cancels (deletes) a job not deleted yet and removes its files; the client's status URL then answers 404. The job
   * stays listed as deleted until the retention sweep.
   */
  cancel(id: string, actor: AdminActor): Promise<JobSummaryView>;
  /** Deletes jobs finished (completed or failed) before `before`, with their files; returns their ids. */
  purge(before: number, actor: AdminActor): Promise<string[]>;
}

/** Parses `--state`/`state=` values (comma-separated), refusing unknown ones. */
export function parseStates(value: string | string[] | undefined): JobStatus[] | undefined {
  if (value === undefined) return undefined;
  const states = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  for (const s of states) if (!JOB_STATES.includes(s as JobStatus)) throw invalid(`Unknown job state "${s}": use ${JOB_STATES.join(', ')}.`);
  return states.length > 0 ? (states as JobStatus[]) : undefined;
}

/**
 * The jobs service. Without object storage (a process that removes nothing itself) a cancelled or purged job is
 * marked deleted and its files are left to the retention sweep, which purges deleted jobs.
 */
export function createJobsAdmin(deps: { jobs: JobStore; storage?: ObjectStorage | undefined; audit?: AuditTrail | undefined; log?: Logger | undefined }): JobsAdmin {
  const { jobs, storage } = deps;

  async function existing(id: string): Promise<ExportJob> {
    const job = await jobs.getJob(id);
    if (!job) throw notFound(`No export job ${id}.`);
    return job;
  }

  /**
   * Deletes a job and removes its files. `keepRow`: the job stays listed as deleted (its files' records too)
   * until the retention sweep purges it, so an operator sees what was cancelled.
   */
  async function remove(job: ExportJob, keepRow: boolean): Promise<void> {
    await jobs.deleteJob(job.id);
    if (!storage) return;
    try {
      if (keepRow) await storage.deletePrefix(objectPrefix(job.id));
      else await purgeDeletedJob(jobs, storage, job.id);
    } catch (e) {
      // A chunk may still be writing: the worker and the sweeper purge deleted jobs.
      deps.log?.warn({ err: e, jobId: job.id, tenant: job.tenant }, 'export files not removed yet; the sweeper will retry');
    }
  }

  return {
    async list(filter) {
      const found = await jobs.listJobs({
        ...(filter.tenant !== undefined ? { tenant: filter.tenant } : {}),
        ...(filter.clientId !== undefined ? { clientId: filter.clientId } : {}),
        ...(filter.states !== undefined ? { status: filter.states } : {}),
        newestFirst: true,
        limit: filter.limit ?? 1000,
      });
      return found.map(jobSummaryView);
    },

    async show(id) {
      const job = await existing(id);
      const [chunks, files] = await Promise.all([jobs.listChunks(id), jobs.listFiles(id)]);
      const params = job.params as ExportParams;
      const counts: Partial<Record<ExportChunk['status'], number>> = {};
      for (const c of chunks) counts[c.status] = (counts[c.status] ?? 0) + 1;
      return {
        ...jobSummaryView(job),
        transaction_time: new Date(job.transactionTime).toISOString(),
        parameters: parametersView(params),
        timings: {
          created_at: new Date(job.createdAt).toISOString(),
          completed_at: iso(job.completedAt),
          duration_ms: job.completedAt === null ? null : job.completedAt - job.createdAt,
          expires_at: new Date(job.expiresAt).toISOString(),
        },
        chunks: counts,
        files: files.map((f) => ({ id: f.id, kind: f.kind, type: f.type, count: f.count, bytes: f.bytes })),
        totals: {
          files: files.length,
          resources: files.filter((f) => f.kind === 'output').reduce((n, f) => n + f.count, 0),
          bytes: files.reduce((n, f) => n + f.bytes, 0),
        },
        errors: chunks
          .filter((c) => c.error !== null)
          .map((c) => ({ seq: c.seq, type: c.type, state: c.status, attempts: c.attempts, error: c.error as string })),
      };
    },

    async cancel(id, actor) {
      const job = await existing(id);
      if (job.status === 'deleted') throw notFound(`Export job ${id} is deleted already.`);
      await remove(job, true);
      deps.log?.info({ jobId: id, tenant: job.tenant }, 'export job cancelled by an operator');
      deps.audit?.record({
        action: 'admin.job.cancel',
        outcome: 'success',
        tenant: job.tenant,
        clientId: job.clientId,
        jobId: id,
        source: actor.source,
        request: actor.request,
        detail: `was ${job.status}`,
      });
      return jobSummaryView({ ...job, status: 'deleted' });
    },

    async purge(before, actor) {
      const old = await jobs.listJobs({ status: ['completed', 'failed'], completedBefore: before });
      for (const job of old) {
        await remove(job, false);
        deps.audit?.record({
          action: 'admin.job.purge',
          outcome: 'success',
          tenant: job.tenant,
          clientId: job.clientId,
          jobId: job.id,
          source: actor.source,
          request: actor.request,
          detail: `${job.status} ${new Date(job.completedAt ?? job.createdAt).toISOString()}`,
        });
      }
      if (old.length > 0) deps.log?.info({ count: old.length, before: new Date(before).toISOString() }, 'export jobs purged by an operator');
      return old.map((j) => j.id);
    },
  };
}

export type { JobDetailView, JobSummaryView } from './views.js';
