/**
 * Row shapes of the jobs, chunks, files and clients tables and their mapping to the port types, shared by the
 * SQLite and PostgreSQL adapters (same column names; SQLite keeps booleans as 0/1).
 */
import type { ExportChunk, ExportFile, ExportJob, JobStatus, NewJob, RegisteredClient } from './ports.js';

export interface JobRow {
  id: string;
  tenant: string;
  client_id: string;
  kind: ExportJob['kind'];
  status: JobStatus;
  request: string;
  request_hash: string;
  params: string;
  transaction_time: number;
  created_at: number;
  completed_at: number | null;
  expires_at: number;
  total: number;
  done: number;
  error: string | null;
}

export interface ChunkRow {
  job_id: string;
  seq: number;
  type: string;
  slice: string;
  status: ExportChunk['status'];
  attempts: number;
  lease_until: number | null;
  count: number;
  error: string | null;
}

export interface FileRow {
  id: string;
  job_id: string;
  chunk_seq: number;
  kind: ExportFile['kind'];
  type: string;
  part: number;
  object_key: string;
  count: number;
  bytes: number;
}

export const toJob = (r: JobRow): ExportJob => ({
  id: r.id,
  tenant: r.tenant,
  clientId: r.client_id,
  kind: r.kind,
  status: r.status,
  request: r.request,
  requestHash: r.request_hash,
  params: JSON.parse(r.params) as unknown,
  transactionTime: r.transaction_time,
  createdAt: r.created_at,
  completedAt: r.completed_at,
  expiresAt: r.expires_at,
  totalResources: r.total,
  doneResources: r.done,
  error: r.error,
});

export const toChunk = (r: ChunkRow): ExportChunk => ({
  jobId: r.job_id,
  seq: r.seq,
  type: r.type,
  slice: JSON.parse(r.slice) as unknown,
  status: r.status,
  attempts: r.attempts,
  leaseUntil: r.lease_until,
  count: r.count,
  error: r.error,
});

export const toFile = (r: FileRow): ExportFile => ({
  id: r.id,
  jobId: r.job_id,
  chunkSeq: r.chunk_seq,
  kind: r.kind,
  type: r.type,
  part: r.part,
  objectKey: r.object_key,
  count: r.count,
  bytes: r.bytes,
});

export interface ClientRow {
  client_id: string;
  tenant: string;
  name: string;
  jwks: string | null;
  jwks_url: string | null;
  scope: string;
  disabled: boolean | number;
  created_at: number;
}

export const toClient = (r: ClientRow): RegisteredClient => ({
  clientId: r.client_id,
  tenant: r.tenant,
  name: r.name,
  jwks: r.jwks ? (JSON.parse(r.jwks) as RegisteredClient['jwks']) : null,
  jwksUrl: r.jwks_url,
  scope: r.scope,
  disabled: r.disabled === true || r.disabled === 1,
  createdAt: r.created_at,
});

/**
 * The values of a new job's row, in column order: id, tenant, client_id, kind, request, request_hash, params,
 * transaction_time, created_at, expires_at (status is 'in-progress').
 */
export const newJobValues = (job: NewJob): unknown[] => [
  job.id,
  job.tenant,
  job.clientId,
  job.kind,
  job.request,
  job.requestHash,
  JSON.stringify(job.params),
  job.transactionTime,
  job.createdAt,
  job.expiresAt,
];
