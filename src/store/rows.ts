/**
 * Row shapes of the jobs, chunks, files, clients, audit, asynchronous-request and tenant tables and their mapping
 * to the port types, shared by the SQLite and PostgreSQL adapters (same column names; SQLite keeps booleans as 0/1).
 */
import type { AsyncRequest, AuditEvent, AuditQuery, ExportChunk, ExportFile, ExportJob, JobFilter, JobStatus, NewAuditEvent, NewJob, RegisteredClient, TenantRecord } from './ports.js';

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

/**
 * The WHERE and ORDER BY of `listJobs`, for either adapter: `add(value)` records a parameter and returns its
 * placeholder (`?` or `$n`).
 */
export function jobListClauses(filter: JobFilter, add: (value: unknown) => string): string {
  const where: string[] = [];
  if (filter.tenant !== undefined) where.push(`tenant = ${add(filter.tenant)}`);
  if (filter.clientId !== undefined) where.push(`client_id = ${add(filter.clientId)}`);
  if (filter.status !== undefined) {
    const statuses = Array.isArray(filter.status) ? filter.status : [filter.status];
    where.push(statuses.length === 0 ? 'false' : `status IN (${statuses.map((s) => add(s)).join(', ')})`);
  }
  if (filter.expiredBefore !== undefined) where.push(`expires_at < ${add(filter.expiredBefore)}`);
  if (filter.expiresAfter !== undefined) where.push(`expires_at > ${add(filter.expiresAfter)}`);
  if (filter.completedBefore !== undefined) where.push(`completed_at < ${add(filter.completedBefore)}`);
  const order = filter.newestFirst ? 'ORDER BY created_at DESC, id DESC' : 'ORDER BY created_at, id';
  const limit = filter.limit !== undefined ? ` LIMIT ${add(filter.limit)}` : '';
  return `${where.length ? `WHERE ${where.join(' AND ')} ` : ''}${order}${limit}`;
}

export interface AuditRow {
  id: number;
  at: number;
  action: string;
  outcome: AuditEvent['outcome'];
  status: number | null;
  tenant: string | null;
  client_id: string | null;
  source: string | null;
  job_id: string | null;
  request: string | null;
  detail: string | null;
}

export const toAuditEvent = (r: AuditRow): AuditEvent => ({
  id: Number(r.id),
  at: Number(r.at),
  action: r.action,
  outcome: r.outcome,
  status: r.status,
  tenant: r.tenant,
  clientId: r.client_id,
  source: r.source,
  jobId: r.job_id,
  request: r.request,
  detail: r.detail,
});

/** The columns of an appended audit record, in order, and their values. */
export const AUDIT_COLUMNS = ['at', 'action', 'outcome', 'status', 'tenant', 'client_id', 'source', 'job_id', 'request', 'detail'] as const;
export const auditValues = (e: NewAuditEvent): unknown[] => [e.at, e.action, e.outcome, e.status, e.tenant, e.clientId, e.source, e.jobId, e.request, e.detail];

/** The default and largest page of `AuditStore.list`. */
export const AUDIT_PAGE = 100;
export const AUDIT_MAX_PAGE = 1000;

/**
 * The WHERE clause of an audit query, for either adapter (`add` as in `jobListClauses`). A patient restricts the
 * records to jobs whose patient set held it, in the record's own tenant.
 */
export function auditWhere(q: Omit<AuditQuery, 'limit'>, add: (value: unknown) => string): string {
  const where: string[] = [];
  if (q.tenant !== undefined) where.push(`e.tenant = ${add(q.tenant)}`);
  if (q.clientId !== undefined) where.push(`e.client_id = ${add(q.clientId)}`);
  if (q.jobId !== undefined) where.push(`e.job_id = ${add(q.jobId)}`);
  if (q.action !== undefined) {
    const prefix = `${q.action.replace(/[\\%_]/g, (c) => `\\${c}`)}.%`;
    where.push(`(e.action = ${add(q.action)} OR e.action LIKE ${add(prefix)} ESCAPE '\\')`);
  }
  if (q.outcome !== undefined) where.push(`e.outcome = ${add(q.outcome)}`);
  if (q.from !== undefined) where.push(`e.at >= ${add(q.from)}`);
  if (q.to !== undefined) where.push(`e.at < ${add(q.to)}`);
  if (q.beforeId !== undefined) where.push(`e.id < ${add(q.beforeId)}`);
  if (q.patient !== undefined) {
    where.push(`e.job_id IN (SELECT p.job_id FROM audit_job_patients p WHERE p.patient_id = ${add(q.patient)} AND p.tenant = e.tenant)`);
  }
  return where.length ? `WHERE ${where.join(' AND ')}` : '';
}

/** A row of async_requests (PostgreSQL may give BIGINT columns as strings). */
export interface AsyncRequestRow {
  id: string;
  tenant: string;
  client_id: string;
  request: string;
  payload: string;
  status: AsyncRequest['status'];
  result: string | null;
  created_at: string | number;
  completed_at: string | number | null;
  expires_at: string | number;
  lease_until: string | number | null;
}

export const toAsyncRequest = (r: AsyncRequestRow): AsyncRequest => ({
  id: r.id,
  tenant: r.tenant,
  clientId: r.client_id,
  request: r.request,
  payload: r.payload,
  status: r.status,
  result: r.result,
  createdAt: Number(r.created_at),
  completedAt: r.completed_at === null ? null : Number(r.completed_at),
  expiresAt: Number(r.expires_at),
  leaseUntil: r.lease_until === null ? null : Number(r.lease_until),
});

export interface TenantRow {
  id: string;
  name: string;
  created_at: number | null;
}

export const toTenant = (r: TenantRow): TenantRecord => ({ id: r.id, name: r.name, createdAt: r.created_at });

/**
 * Tables whose rows belong to a tenant through a `tenant` column (both adapters remove a tenant from these, and
 * from their search-index tables, which differ).
 */
export const TENANT_TABLES = ['resources', 'resource_history', 'compartment', 'refs', 'view_definitions', 'async_requests'];
