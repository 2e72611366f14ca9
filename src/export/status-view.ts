/**
 * What a status poll of a running job answers, and how long that answer is kept: polls are cheap (one job row,
 * whose done counter the chunk commits maintain; then a cached view), and `Retry-After` grows with the time the
 * job is expected to take still, so clients that honour it poll a long job less.
 */
import type { ExportJob } from '../store/ports.js';

/** The longest `Retry-After` advised. */
export const MAX_RETRY_AFTER_SECONDS = 60;
/** Polls advised over a job's expected remaining time. */
const POLLS_OVER_REMAINING = 10;
/** A view is kept for this fraction of the Retry-After it advises. */
const CACHE_FRACTION = 0.25;

export interface InProgressView {
  state: 'in-progress';
  progress: string;
  retryAfter: number;
  /** The kick-off asked `Prefer: separate-export-status`. */
  separate?: boolean;
}

export function formatProgress(done: number, total: number): string {
  const shown = Math.max(total, done);
  const pct = shown === 0 ? 0 : Math.min(99, Math.floor((done / shown) * 100));
  return `${pct}% (${done.toLocaleString('en-US')} of ${shown.toLocaleString('en-US')} resources)`;
}

/**
 * Seconds to advise before the next poll: the expected remaining time (from the rate so far) spread over a few
 * polls, at least `baseSeconds` and at most MAX_RETRY_AFTER_SECONDS. Before anything is done, the job's size alone.
 */
export function advisedRetryAfter(job: Pick<ExportJob, 'createdAt' | 'doneResources' | 'totalResources'>, now: number, baseSeconds: number): number {
  const elapsed = (now - job.createdAt) / 1000;
  const remaining = job.totalResources - job.doneResources;
  let seconds: number;
  if (job.doneResources <= 0 || elapsed <= 0) seconds = baseSeconds + Math.floor(job.totalResources / 1_000_000);
  else seconds = Math.ceil(Math.max(0, remaining) / (job.doneResources / elapsed) / POLLS_OVER_REMAINING);
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(baseSeconds, seconds));
}

/** In-progress views by job, each kept for a fraction of its Retry-After; only the job's own client gets it. */
export interface StatusViewCache {
  get(job: { id: string; tenant: string; clientId: string }, now: number): InProgressView | undefined;
  put(job: Pick<ExportJob, 'id' | 'tenant' | 'clientId'>, view: InProgressView, now: number): void;
  drop(jobId: string): void;
}

export function createStatusViewCache(maxEntries = 10_000): StatusViewCache {
  const views = new Map<string, { tenant: string; clientId: string; view: InProgressView; until: number }>();
  return {
    get(job, now) {
      const e = views.get(job.id);
      if (!e) return undefined;
      if (e.until <= now) {
        views.delete(job.id);
        return undefined;
      }
      return e.tenant === job.tenant && e.clientId === job.clientId ? e.view : undefined;
    },
    put(job, view, now) {
      views.delete(job.id);
      if (views.size >= maxEntries) views.delete(views.keys().next().value as string);
      views.set(job.id, { tenant: job.tenant, clientId: job.clientId, view, until: now + view.retryAfter * 1000 * CACHE_FRACTION });
    },
    drop(jobId) {
      views.delete(jobId);
    },
  };
}
