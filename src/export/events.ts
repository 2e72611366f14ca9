/**
 * What the export engine tells an observer (metrics, tests): jobs accepted and finished, chunks run and failed.
 * Every callback is optional and must not throw; the engine never waits on them.
 */
import type { ExportJob } from '../store/ports.js';

/** Why a job failed, as counted: the storage refused writes, ran out of space, or something else. */
export type FailureReason = 'storage-denied' | 'storage-full' | 'database' | 'error';

export interface ExportEvents {
  jobAccepted?(job: ExportJob): void;
  jobCompleted?(job: { id: string; tenant: string }): void;
  jobFailed?(job: { id: string; tenant: string }, reason: FailureReason): void;
  chunkCompleted?(chunk: { jobId: string; type: string; resources: number; bytes: number; durationMs: number }): void;
  /** A chunk attempt failed; `final` when it will not be tried again (its job fails). */
  chunkFailed?(chunk: { jobId: string; type: string; reason: FailureReason; final: boolean }): void;
}

/** Counts of what happened since the process started (for a metrics endpoint to read). */
export interface ExportCounts {
  jobsAccepted: number;
  jobsCompleted: number;
  jobsFailed: Record<FailureReason, number>;
  chunksCompleted: number;
  chunkAttemptsFailed: number;
  resourcesExported: number;
  bytesExported: number;
}

/** An observer that counts; `counts` is live. */
export function createExportCounters(): ExportEvents & { counts: ExportCounts } {
  const counts: ExportCounts = {
    jobsAccepted: 0,
    jobsCompleted: 0,
    jobsFailed: { 'storage-denied': 0, 'storage-full': 0, database: 0, error: 0 },
    chunksCompleted: 0,
    chunkAttemptsFailed: 0,
    resourcesExported: 0,
    bytesExported: 0,
  };
  return {
    counts,
    jobAccepted: () => void counts.jobsAccepted++,
    jobCompleted: () => void counts.jobsCompleted++,
    jobFailed: (_job, reason) => void counts.jobsFailed[reason]++,
    chunkCompleted: (c) => {
      counts.chunksCompleted++;
      counts.resourcesExported += c.resources;
      counts.bytesExported += c.bytes;
    },
    chunkFailed: () => void counts.chunkAttemptsFailed++,
  };
}

/** Classifies an error of a chunk or plan (errno codes of the storage, PostgreSQL connection errors). */
export function failureReason(e: unknown): FailureReason {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'AccessDenied') return 'storage-denied';
  if (code === 'ENOSPC' || code === 'EFBIG' || code === 'EDQUOT') return 'storage-full';
  if (typeof code === 'string' && (/^(08|57P)/.test(code) || code === 'ECONNREFUSED' || code === 'ECONNRESET')) return 'database';
  return 'error';
}

/** The sentence a failed job's status answers (no paths, no internals). */
export function failureMessage(reason: FailureReason, what: string): string {
  switch (reason) {
    case 'storage-denied':
      return `${what} failed: the export storage refused the write (permission denied).`;
    case 'storage-full':
      return `${what} failed: the export storage is full.`;
    case 'database':
      return `${what} failed: the database could not be reached.`;
    default:
      return `${what} failed.`;
  }
}
