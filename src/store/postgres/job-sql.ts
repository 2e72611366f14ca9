import type { ExportFile, JobFilter, Lease, NewJob, PlannedChunkRow } from '../ports.js';
import { jobListClauses, newJobValues } from '../rows.js';
import { Params, type Sql } from './db.js';

/** The SQL of the PostgreSQL job store. */

/** The partial unique index allowing one in-progress job per (tenant, client). */
export const ONE_RUNNING_INDEX = 'jobs_one_running';

export const insertJob = (job: NewJob): Sql => ({
  text: `INSERT INTO jobs (id, tenant, client_id, kind, status, request, request_hash, params, transaction_time, created_at, expires_at)
    VALUES ($1, $2, $3, $4, 'in-progress', $5, $6, $7, $8, $9, $10)
    RETURNING *`,
  values: newJobValues(job),
});

/**
 * A job with its planned chunks and their total estimate in one statement (one round trip, one commit): the
 * kick-off's write.
 */
export const insertJobWithChunks = (job: NewJob, chunks: PlannedChunkRow[]): Sql => ({
  text: `WITH j AS (
      INSERT INTO jobs (id, tenant, client_id, kind, status, request, request_hash, params, transaction_time, created_at, expires_at, total)
      VALUES ($1, $2, $3, $4, 'in-progress', $5, $6, $7, $8, $9, $10, $11)
      RETURNING *
    ), c AS (
      INSERT INTO chunks (job_id, seq, type, slice, status, estimate)
      SELECT j.id, u.seq - 1, u.type, u.slice, 'pending', u.estimate
      FROM j, unnest($12::text[], $13::text[], $14::bigint[]) WITH ORDINALITY AS u(type, slice, estimate, seq)
    )
    SELECT * FROM j`,
  values: [
    ...newJobValues(job),
    chunks.reduce((n, c) => n + c.estimate, 0),
    chunks.map((c) => c.type),
    chunks.map((c) => JSON.stringify(c.slice)),
    chunks.map((c) => c.estimate),
  ],
});

export const insertJobPatients = (jobId: string, patients: { id: string; fullHistory: boolean }[]): Sql => ({
  text: `INSERT INTO job_patients (job_id, patient_id, full_history)
    SELECT $1, u.patient_id, u.full_history FROM unnest($2::text[], $3::boolean[]) AS u(patient_id, full_history)
    ON CONFLICT DO NOTHING`,
  values: [jobId, patients.map((p) => p.id), patients.map((p) => p.fullHistory)],
});

export const runningJob = (tenant: string, clientId: string): Sql => ({
  text: "SELECT * FROM jobs WHERE tenant = $1 AND client_id = $2 AND status = 'in-progress'",
  values: [tenant, clientId],
});

export const getJob = (id: string): Sql => ({ text: 'SELECT * FROM jobs WHERE id = $1', values: [id] });

export const lockJob = (id: string): Sql => ({ text: 'SELECT status FROM jobs WHERE id = $1 FOR UPDATE', values: [id] });

export const findByRequestHash = (tenant: string, clientId: string, requestHash: string): Sql => ({
  text: `SELECT * FROM jobs WHERE tenant = $1 AND client_id = $2 AND request_hash = $3 AND status <> 'deleted'
    ORDER BY created_at DESC LIMIT 1`,
  values: [tenant, clientId, requestHash],
});

export function listJobs(filter: JobFilter): Sql {
  const p = new Params();
  return { text: `SELECT * FROM jobs ${jobListClauses(filter, (v) => p.add(v))}`, values: p.values };
}

export const countJobsByStatus = (): Sql => ({ text: 'SELECT status, count(*)::bigint AS n FROM jobs GROUP BY status', values: [] });
export const countChunksByStatus = (): Sql => ({ text: 'SELECT status, count(*)::bigint AS n FROM chunks GROUP BY status', values: [] });

export const insertChunks = (jobId: string, firstSeq: number, chunks: PlannedChunkRow[]): Sql => ({
  text: `INSERT INTO chunks (job_id, seq, type, slice, status, estimate)
    SELECT $1, $2::int + u.seq - 1, u.type, u.slice, 'pending', u.estimate
    FROM unnest($3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY AS u(type, slice, estimate, seq)`,
  values: [jobId, firstSeq, chunks.map((c) => c.type), chunks.map((c) => JSON.stringify(c.slice)), chunks.map((c) => c.estimate)],
});

export const nextSeq = (jobId: string): Sql => ({
  text: 'SELECT COALESCE(max(seq), -1) + 1 AS next FROM chunks WHERE job_id = $1',
  values: [jobId],
});

export const setTotal = (jobId: string, total: number): Sql => ({
  text: 'UPDATE jobs SET total = $2 WHERE id = $1',
  values: [jobId, total],
});

export const listChunks = (jobId: string): Sql => ({ text: 'SELECT * FROM chunks WHERE job_id = $1 ORDER BY seq', values: [jobId] });

/**
 * Claims one chunk of an in-progress job (pending, or running under a lapsed lease). The WHERE clause is
 * checked again on the locked row, so of concurrent claims exactly one updates it.
 */
export const claimChunk = (jobId: string, seq: number, lease: Lease, now: number): Sql => ({
  text: `UPDATE chunks c SET status = 'running', attempts = c.attempts + 1, lease_until = $4::bigint, lease_owner = $3
    FROM jobs j
    WHERE c.job_id = $1 AND c.seq = $2 AND j.id = c.job_id AND j.status = 'in-progress'
      AND (c.status = 'pending' OR (c.status = 'running' AND c.lease_until < $5::bigint))
    RETURNING c.*`,
  values: [jobId, seq, lease.owner, lease.until, now],
});

export const reclaimExpired = (now: number): Sql => ({
  text: `UPDATE chunks c SET status = 'pending', lease_until = NULL, lease_owner = NULL
    FROM jobs j
    WHERE c.status = 'running' AND c.lease_until < $1::bigint AND j.id = c.job_id AND j.status = 'in-progress'
    RETURNING c.job_id, c.seq`,
  values: [now],
});

export const releaseAllLeases = (): Sql => ({
  text: "UPDATE chunks SET status = 'pending', lease_until = NULL, lease_owner = NULL WHERE status = 'running'",
  values: [],
});

export const pendingChunks = (): Sql => ({
  text: `SELECT c.job_id, c.seq FROM chunks c JOIN jobs j ON j.id = c.job_id
    WHERE c.status = 'pending' AND j.status = 'in-progress' ORDER BY j.created_at, j.id, c.seq`,
  values: [],
});

export const remainingChunks = (jobId: string): Sql => ({
  text: "SELECT count(*) AS n FROM chunks WHERE job_id = $1 AND status <> 'done'",
  values: [jobId],
});

export const completeJob = (jobId: string, at: number): Sql => ({
  text: "UPDATE jobs SET status = 'completed', completed_at = $2 WHERE id = $1 AND status = 'in-progress'",
  values: [jobId, at],
});

export const takeTurn = (task: string, now: number, intervalMs: number): Sql => ({
  text: `INSERT INTO turns AS t (task, next_at) VALUES ($1, $2::bigint + $3::bigint)
    ON CONFLICT (task) DO UPDATE SET next_at = EXCLUDED.next_at WHERE t.next_at <= $2::bigint
    RETURNING task`,
  values: [task, now, intervalMs],
});

export const renewLease = (jobId: string, seq: number, lease: Lease): Sql => ({
  text: "UPDATE chunks SET lease_until = $4 WHERE job_id = $1 AND seq = $2 AND status = 'running' AND lease_owner = $3",
  values: [jobId, seq, lease.owner, lease.until],
});

export const markChunkDone = (jobId: string, seq: number, count: number): Sql => ({
  text: `UPDATE chunks SET status = 'done', count = $3, lease_until = NULL, lease_owner = NULL, error = NULL
    WHERE job_id = $1 AND seq = $2 AND status <> 'done'
    RETURNING estimate`,
  values: [jobId, seq, count],
});

export const deleteChunkFiles = (jobId: string, seq: number): Sql => ({
  text: 'DELETE FROM files WHERE job_id = $1 AND chunk_seq = $2',
  values: [jobId, seq],
});

export const insertFiles = (jobId: string, seq: number, files: Omit<ExportFile, 'jobId' | 'chunkSeq'>[]): Sql => ({
  text: `INSERT INTO files (id, job_id, chunk_seq, kind, type, part, object_key, count, bytes)
    SELECT u.id, $1, $2, u.kind, u.type, u.part, u.object_key, u.count, u.bytes
    FROM unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::bigint[], $9::bigint[])
      AS u(id, kind, type, part, object_key, count, bytes)`,
  values: [
    jobId,
    seq,
    files.map((f) => f.id),
    files.map((f) => f.kind),
    files.map((f) => f.type),
    files.map((f) => f.part),
    files.map((f) => f.objectKey),
    files.map((f) => f.count),
    files.map((f) => f.bytes),
  ],
});

export const addDone = (jobId: string, count: number, estimate: number): Sql => ({
  text: 'UPDATE jobs SET done = done + $2::bigint, total = GREATEST(total + $2::bigint - $3::bigint, 0) WHERE id = $1',
  values: [jobId, count, estimate],
});

export const failChunk = (jobId: string, seq: number, error: string, retry: boolean): Sql => ({
  text: "UPDATE chunks SET status = $3, error = $4, lease_until = NULL, lease_owner = NULL WHERE job_id = $1 AND seq = $2 AND status != 'done'",
  values: [jobId, seq, retry ? 'pending' : 'failed', error],
});

export const finishJob = (jobId: string, status: 'completed' | 'failed', at: number, error: string | null): Sql => ({
  text: "UPDATE jobs SET status = $2, completed_at = $3, error = $4 WHERE id = $1 AND status = 'in-progress'",
  values: [jobId, status, at, error],
});

export const markJobDeleted = (jobId: string): Sql => ({
  text: "UPDATE jobs SET status = 'deleted' WHERE id = $1",
  values: [jobId],
});

export const purge = (jobId: string): Sql[] => [
  { text: 'DELETE FROM files WHERE job_id = $1', values: [jobId] },
  { text: 'DELETE FROM chunks WHERE job_id = $1', values: [jobId] },
  { text: 'DELETE FROM job_patients WHERE job_id = $1', values: [jobId] },
  { text: "DELETE FROM jobs WHERE id = $1 AND status = 'deleted'", values: [jobId] },
];

export const listFiles = (jobId: string): Sql => ({
  text: 'SELECT * FROM files WHERE job_id = $1 ORDER BY chunk_seq, part',
  values: [jobId],
});

export const getFile = (fileId: string): Sql => ({ text: 'SELECT * FROM files WHERE id = $1', values: [fileId] });
