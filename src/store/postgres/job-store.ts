import type { Pool, PoolClient } from 'pg';
import type { ChunkRef, ChunkStatus, ExportChunk, ExportFile, ExportJob, JobFilter, JobStatus, JobStore, Lease, NewJob, PlannedChunkRow } from '../ports.js';
import { isUniqueViolation, query, Rollback, transaction, transactionOrRollback } from './db.js';
import * as sql from './job-sql.js';
import { type ChunkRow, type FileRow, type JobRow, toChunk, toFile, toJob } from '../rows.js';

/** How often createJob retries when the conflicting job finishes between the failed insert and the lookup. */
const CREATE_ATTEMPTS = 5;
/** Patients inserted per statement. */
const PATIENT_BATCH = 5000;

export class PostgresJobStore implements JobStore {
  constructor(private readonly pool: Pool) {}

  async createJob(job: NewJob): Promise<{ job: ExportJob } | { conflict: ExportJob }> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (!(job.patients && job.patients.length > 0) && job.chunks && job.chunks.length > 0) {
          // The kick-off's shape (no patients yet, the planning chunk): one statement.
          const [row] = await query<JobRow>(this.pool, sql.insertJobWithChunks(job, job.chunks));
          if (!row) throw new Error(`job ${job.id} not inserted`);
          return { job: toJob(row) };
        }
        return await transaction(this.pool, async (client) => {
          const [row] = await query<JobRow>(client, sql.insertJob(job));
          if (!row) throw new Error(`job ${job.id} not inserted`);
          if (job.patients && job.patients.length > 0) await query(client, sql.insertJobPatients(job.id, job.patients));
          if (job.chunks && job.chunks.length > 0) {
            await query(client, sql.insertChunks(job.id, 0, job.chunks));
            const total = job.chunks.reduce((n, c) => n + c.estimate, 0);
            await query(client, sql.setTotal(job.id, total));
            return { job: { ...toJob(row), totalResources: total } };
          }
          return { job: toJob(row) };
        });
      } catch (err) {
        // The partial unique index makes concurrent kick-offs of one client atomic: the loser lands here.
        if (!isUniqueViolation(err, sql.ONE_RUNNING_INDEX)) throw err;
        const [running] = await query<JobRow>(this.pool, sql.runningJob(job.tenant, job.clientId));
        if (running) return { conflict: toJob(running) };
        if (attempt >= CREATE_ATTEMPTS) throw err;
      }
    }
  }

  async getJob(id: string): Promise<ExportJob | undefined> {
    const [row] = await query<JobRow>(this.pool, sql.getJob(id));
    return row ? toJob(row) : undefined;
  }

  async findByRequestHash(tenant: string, clientId: string, requestHash: string): Promise<ExportJob | undefined> {
    const [row] = await query<JobRow>(this.pool, sql.findByRequestHash(tenant, clientId, requestHash));
    return row ? toJob(row) : undefined;
  }

  async listJobs(filter: JobFilter): Promise<ExportJob[]> {
    return (await query<JobRow>(this.pool, sql.listJobs(filter))).map(toJob);
  }

  async countByStatus(): Promise<{ jobs: Partial<Record<JobStatus, number>>; chunks: Partial<Record<ChunkStatus, number>> }> {
    const [jobs, chunks] = await Promise.all([query<{ status: string; n: number }>(this.pool, sql.countJobsByStatus()), query<{ status: string; n: number }>(this.pool, sql.countChunksByStatus())]);
    const toRecord = (rows: { status: string; n: number }[]) => Object.fromEntries(rows.map((r) => [r.status, r.n]));
    return { jobs: toRecord(jobs), chunks: toRecord(chunks) };
  }

  async setJobPatients(jobId: string, patients: { id: string; fullHistory: boolean }[]): Promise<void> {
    for (let i = 0; i < patients.length; i += PATIENT_BATCH) await query(this.pool, sql.insertJobPatients(jobId, patients.slice(i, i + PATIENT_BATCH)));
  }

  async completePlan(
    jobId: string,
    seq: number,
    chunks: PlannedChunkRow[],
    total: number,
    at: number,
  ): Promise<{ seqs: number[]; jobCompleted: boolean } | undefined> {
    return transactionOrRollback(this.pool, async (client) => {
      // Job row first, then its chunks: the lock order completeChunk uses too.
      const [job] = await query<{ status: JobStatus }>(client, sql.lockJob(jobId));
      if (!job || job.status !== 'in-progress') throw new Rollback(undefined);
      const done = await client.query(sql.markChunkDone(jobId, seq, 0));
      if ((done.rowCount ?? 0) === 0) throw new Rollback(undefined);
      const [next] = await query<{ next: number }>(client, sql.nextSeq(jobId));
      const first = next?.next ?? 0;
      if (chunks.length > 0) await query(client, sql.insertChunks(jobId, first, chunks));
      await query(client, sql.setTotal(jobId, total));
      const jobCompleted = await this.completeIfDone(client, jobId, at);
      return { seqs: chunks.map((_, i) => first + i), jobCompleted };
    });
  }

  private async completeIfDone(client: PoolClient, jobId: string, at: number): Promise<boolean> {
    const [remaining] = await query<{ n: number }>(client, sql.remainingChunks(jobId));
    if (Number(remaining?.n ?? 0) > 0) return false;
    return ((await client.query(sql.completeJob(jobId, at))).rowCount ?? 0) > 0;
  }

  async listChunks(jobId: string): Promise<ExportChunk[]> {
    return (await query<ChunkRow>(this.pool, sql.listChunks(jobId))).map(toChunk);
  }

  async claimChunk(jobId: string, seq: number, lease: Lease, now: number): Promise<{ job: ExportJob; chunk: ExportChunk } | undefined> {
    const [row] = await query<ChunkRow>(this.pool, sql.claimChunk(jobId, seq, lease, now));
    if (!row) return undefined;
    const job = await this.getJob(jobId);
    return job ? { job, chunk: toChunk(row) } : undefined;
  }

  async renewLease(jobId: string, seq: number, lease: Lease): Promise<boolean> {
    const result = await this.pool.query(sql.renewLease(jobId, seq, lease));
    return (result.rowCount ?? 0) > 0;
  }

  async reclaimExpired(now: number): Promise<ChunkRef[]> {
    return (await query<{ job_id: string; seq: number }>(this.pool, sql.reclaimExpired(now))).map((r) => ({ jobId: r.job_id, seq: r.seq }));
  }

  async releaseAllLeases(): Promise<number> {
    return (await this.pool.query(sql.releaseAllLeases())).rowCount ?? 0;
  }

  async pendingChunks(): Promise<ChunkRef[]> {
    return (await query<{ job_id: string; seq: number }>(this.pool, sql.pendingChunks())).map((r) => ({ jobId: r.job_id, seq: r.seq }));
  }

  async completeChunk(
    jobId: string,
    seq: number,
    files: Omit<ExportFile, 'jobId' | 'chunkSeq'>[],
    count: number,
    at: number,
  ): Promise<{ recorded: boolean; jobCompleted: boolean }> {
    const unchanged = { recorded: false, jobCompleted: false };
    return transactionOrRollback(this.pool, async (client) => {
      // Locking the job row keeps finishJob/deleteJob from changing its status until this commits, and orders
      // the completions of one job's chunks, so exactly one of them sees no chunk left.
      const [job] = await query<{ status: JobStatus }>(client, sql.lockJob(jobId));
      if (!job || job.status !== 'in-progress') throw new Rollback(unchanged);
      const [done] = await query<{ estimate: number }>(client, sql.markChunkDone(jobId, seq, count));
      if (!done) throw new Rollback(unchanged);
      await query(client, sql.deleteChunkFiles(jobId, seq));
      if (files.length > 0) await query(client, sql.insertFiles(jobId, seq, files));
      await query(client, sql.addDone(jobId, count, done.estimate));
      return { recorded: true, jobCompleted: await this.completeIfDone(client, jobId, at) };
    });
  }

  async failChunk(jobId: string, seq: number, error: string, retry: boolean): Promise<void> {
    await query(this.pool, sql.failChunk(jobId, seq, error, retry));
  }

  async finishJob(jobId: string, status: 'completed' | 'failed', at: number, error?: string): Promise<boolean> {
    const result = await this.pool.query(sql.finishJob(jobId, status, at, error ?? null));
    return (result.rowCount ?? 0) > 0;
  }

  async deleteJob(jobId: string): Promise<ExportFile[]> {
    return transaction(this.pool, async (client) => {
      await query(client, sql.markJobDeleted(jobId));
      return (await query<FileRow>(client, sql.listFiles(jobId))).map(toFile);
    });
  }

  async purgeJob(jobId: string): Promise<void> {
    await transaction(this.pool, async (client) => {
      await query(client, sql.lockJob(jobId));
      for (const statement of sql.purge(jobId)) await query(client, statement);
    });
  }

  async listFiles(jobId: string): Promise<ExportFile[]> {
    return (await query<FileRow>(this.pool, sql.listFiles(jobId))).map(toFile);
  }

  async getFile(fileId: string): Promise<ExportFile | undefined> {
    const [row] = await query<FileRow>(this.pool, sql.getFile(fileId));
    return row ? toFile(row) : undefined;
  }

  async takeTurn(task: string, now: number, intervalMs: number): Promise<boolean> {
    return (await query(this.pool, sql.takeTurn(task, now, intervalMs))).length > 0;
  }
}
