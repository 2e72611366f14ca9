import type { Pool } from 'pg';
import type { ChunkStatus, ExportChunk, ExportFile, ExportJob, JobStatus, JobStore, NewJob } from '../ports.js';
import { isUniqueViolation, query, transaction } from './db.js';
import * as sql from './job-sql.js';
import { type ChunkRow, type FileRow, type JobRow, toChunk, toFile, toJob } from '../rows.js';

/** How often createJob retries when the conflicting job finishes between the failed insert and the lookup. */
const CREATE_ATTEMPTS = 5;

export class PostgresJobStore implements JobStore {
  constructor(private readonly pool: Pool) {}

  async createJob(job: NewJob): Promise<{ job: ExportJob } | { conflict: ExportJob }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await transaction(this.pool, async (client) => {
          const [row] = await query<JobRow>(client, sql.insertJob(job));
          if (!row) throw new Error(`job ${job.id} not inserted`);
          if (job.patients && job.patients.length > 0) await query(client, sql.insertJobPatients(job.id, job.patients));
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

  async listJobs(filter: { status?: JobStatus; expiredBefore?: number }): Promise<ExportJob[]> {
    return (await query<JobRow>(this.pool, sql.listJobs(filter))).map(toJob);
  }

  async countByStatus(): Promise<{ jobs: Partial<Record<JobStatus, number>>; chunks: Partial<Record<ChunkStatus, number>> }> {
    const [jobs, chunks] = await Promise.all([query<{ status: string; n: number }>(this.pool, sql.countJobsByStatus()), query<{ status: string; n: number }>(this.pool, sql.countChunksByStatus())]);
    const toRecord = (rows: { status: string; n: number }[]) => Object.fromEntries(rows.map((r) => [r.status, r.n]));
    return { jobs: toRecord(jobs), chunks: toRecord(chunks) };
  }

  async planChunks(jobId: string, chunks: { type: string; slice: unknown; estimate: number }[], total: number): Promise<void> {
    await transaction(this.pool, async (client) => {
      // Job row first, then its chunks: the lock order completeChunk uses too.
      await query(client, sql.lockJob(jobId));
      await query(client, sql.deleteChunks(jobId));
      if (chunks.length > 0) await query(client, sql.insertChunks(jobId, chunks));
      await query(client, sql.setTotal(jobId, total));
    });
  }

  async listChunks(jobId: string): Promise<ExportChunk[]> {
    return (await query<ChunkRow>(this.pool, sql.listChunks(jobId))).map(toChunk);
  }

  async claimChunk(leaseMs: number, now: number): Promise<ExportChunk | undefined> {
    const [row] = await query<ChunkRow>(this.pool, sql.claimChunk(now + leaseMs, now));
    return row ? toChunk(row) : undefined;
  }

  async renewLease(jobId: string, seq: number, leaseUntil: number): Promise<boolean> {
    const result = await this.pool.query(sql.renewLease(jobId, seq, leaseUntil));
    return (result.rowCount ?? 0) > 0;
  }

  async completeChunk(jobId: string, seq: number, files: Omit<ExportFile, 'jobId' | 'chunkSeq'>[], count: number): Promise<boolean> {
    return transaction(this.pool, async (client) => {
      // Locking the job row keeps finishJob/deleteJob from changing its status until this commits.
      const [job] = await query<{ status: JobStatus }>(client, sql.lockJob(jobId));
      if (!job || job.status !== 'in-progress') return false;
      const done = await client.query(sql.markChunkDone(jobId, seq, count));
      if ((done.rowCount ?? 0) === 0) return false;
      await query(client, sql.deleteChunkFiles(jobId, seq));
      if (files.length > 0) await query(client, sql.insertFiles(jobId, seq, files));
      await query(client, sql.addDone(jobId, count));
      return true;
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
}
