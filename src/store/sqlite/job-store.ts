import type Database from 'better-sqlite3';
import type { ChunkRef, ChunkStatus, ExportChunk, ExportFile, ExportJob, JobFilter, JobStatus, JobStore, Lease, NewJob, PlannedChunkRow } from '../ports.js';
import { type ChunkRow, type FileRow, type JobRow, jobListClauses, newJobValues, toChunk, toFile, toJob } from '../rows.js';
import { deleteInSlices, inSlices, writeTransaction } from './write-transaction.js';

export class SqliteJobStore implements JobStore {
  constructor(private readonly db: Database.Database) {}

  async createJob(job: NewJob): Promise<{ job: ExportJob } | { conflict: ExportJob }> {
    const db = this.db;
    return writeTransaction(db, (): { job: ExportJob } | { conflict: ExportJob } => {
      const running = db
        .prepare("SELECT * FROM jobs WHERE tenant = ? AND client_id = ? AND status = 'in-progress'")
        .get(job.tenant, job.clientId) as JobRow | undefined;
      if (running) return { conflict: toJob(running) };
      db.prepare(
        `INSERT INTO jobs (id, tenant, client_id, kind, status, request, request_hash, params, transaction_time, created_at, expires_at)
         VALUES (?, ?, ?, ?, 'in-progress', ?, ?, ?, ?, ?, ?)`,
      ).run(...newJobValues(job));
      if (job.patients) {
        const add = db.prepare('INSERT OR IGNORE INTO job_patients (job_id, patient_id, full_history) VALUES (?, ?, ?)');
        for (const p of job.patients) add.run(job.id, p.id, p.fullHistory ? 1 : 0);
      }
      if (job.chunks) {
        this.insertChunks(job.id, 0, job.chunks);
        db.prepare('UPDATE jobs SET total = ? WHERE id = ?').run(
          job.chunks.reduce((n, c) => n + c.estimate, 0),
          job.id,
        );
      }
      return { job: toJob(db.prepare('SELECT * FROM jobs WHERE id = ?').get(job.id) as JobRow) };
    });
  }

  async getJob(id: string): Promise<ExportJob | undefined> {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row ? toJob(row) : undefined;
  }

  async findByRequestHash(tenant: string, clientId: string, requestHash: string): Promise<ExportJob | undefined> {
    const row = this.db
      .prepare(
        "SELECT * FROM jobs WHERE tenant = ? AND client_id = ? AND request_hash = ? AND status != 'deleted' ORDER BY created_at DESC LIMIT 1",
      )
      .get(tenant, clientId, requestHash) as JobRow | undefined;
    return row ? toJob(row) : undefined;
  }

  async listJobs(filter: JobFilter): Promise<ExportJob[]> {
    const params: unknown[] = [];
    const sql = `SELECT * FROM jobs ${jobListClauses(filter, (v) => {
      params.push(v);
      return '?';
    })}`;
    return (this.db.prepare(sql).all(...params) as JobRow[]).map(toJob);
  }

  private insertChunks(jobId: string, first: number, chunks: PlannedChunkRow[]): void {
    const add = this.db.prepare("INSERT INTO chunks (job_id, seq, type, slice, status, estimate) VALUES (?, ?, ?, ?, 'pending', ?)");
    chunks.forEach((c, i) => add.run(jobId, first + i, c.type, JSON.stringify(c.slice), c.estimate));
  }

  /** Completes the job when none of its chunks is left to run (inside the caller's transaction). */
  private completeIfDone(jobId: string, at: number): boolean {
    const left = this.db.prepare("SELECT count(*) FROM chunks WHERE job_id = ? AND status != 'done'").pluck().get(jobId) as number;
    if (left > 0) return false;
    return this.db.prepare("UPDATE jobs SET status = 'completed', completed_at = ? WHERE id = ? AND status = 'in-progress'").run(at, jobId).changes > 0;
  }

  async countByStatus(): Promise<{ jobs: Partial<Record<JobStatus, number>>; chunks: Partial<Record<ChunkStatus, number>> }> {
    const count = (table: 'jobs' | 'chunks') =>
      Object.fromEntries((this.db.prepare(`SELECT status, count(*) AS n FROM ${table} GROUP BY status`).all() as { status: string; n: number }[]).map((r) => [r.status, r.n]));
    return { jobs: count('jobs'), chunks: count('chunks') };
  }

  async setJobPatients(jobId: string, patients: { id: string; fullHistory: boolean }[]): Promise<void> {
    const db = this.db;
    const add = db.prepare('INSERT OR IGNORE INTO job_patients (job_id, patient_id, full_history) VALUES (?, ?, ?)');
    await inSlices(db, [...patients].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)), (slice) => {
      for (const p of slice) add.run(jobId, p.id, p.fullHistory ? 1 : 0);
    });
  }

  async completePlan(
    jobId: string,
    seq: number,
    chunks: PlannedChunkRow[],
    total: number,
    at: number,
  ): Promise<{ seqs: number[]; jobCompleted: boolean } | undefined> {
    const db = this.db;
    return writeTransaction(db, (): { seqs: number[]; jobCompleted: boolean } | undefined => {
      if (!db.prepare("SELECT 1 FROM jobs WHERE id = ? AND status = 'in-progress'").get(jobId)) return undefined;
      const r = db
        .prepare("UPDATE chunks SET status = 'done', lease_until = NULL, lease_owner = NULL, error = NULL WHERE job_id = ? AND seq = ? AND status != 'done'")
        .run(jobId, seq);
      if (r.changes === 0) return undefined;
      const first = db.prepare('SELECT COALESCE(max(seq), -1) + 1 FROM chunks WHERE job_id = ?').pluck().get(jobId) as number;
      this.insertChunks(jobId, first, chunks);
      db.prepare('UPDATE jobs SET total = ? WHERE id = ?').run(total, jobId);
      return { seqs: chunks.map((_, i) => first + i), jobCompleted: this.completeIfDone(jobId, at) };
    });
  }

  async listChunks(jobId: string): Promise<ExportChunk[]> {
    return (this.db.prepare('SELECT * FROM chunks WHERE job_id = ? ORDER BY seq').all(jobId) as ChunkRow[]).map(toChunk);
  }

  async claimChunk(jobId: string, seq: number, lease: Lease, now: number): Promise<{ job: ExportJob; chunk: ExportChunk } | undefined> {
    const db = this.db;
    return writeTransaction(db, (): { job: ExportJob; chunk: ExportChunk } | undefined => {
      const job = db.prepare("SELECT * FROM jobs WHERE id = ? AND status = 'in-progress'").get(jobId) as JobRow | undefined;
      if (!job) return undefined;
      const r = db
        .prepare(
          `UPDATE chunks SET status = 'running', attempts = attempts + 1, lease_until = ?, lease_owner = ?
           WHERE job_id = ? AND seq = ? AND (status = 'pending' OR (status = 'running' AND lease_until < ?))`,
        )
        .run(lease.until, lease.owner, jobId, seq, now);
      if (r.changes === 0) return undefined;
      const chunk = db.prepare('SELECT * FROM chunks WHERE job_id = ? AND seq = ?').get(jobId, seq) as ChunkRow;
      return { job: toJob(job), chunk: toChunk(chunk) };
    });
  }

  async renewLease(jobId: string, seq: number, lease: Lease): Promise<boolean> {
    const update = this.db.prepare("UPDATE chunks SET lease_until = ? WHERE job_id = ? AND seq = ? AND status = 'running' AND lease_owner = ?");
    return writeTransaction(this.db, () => update.run(lease.until, jobId, seq, lease.owner).changes > 0);
  }

  async reclaimExpired(now: number): Promise<ChunkRef[]> {
    const reclaim = this.db.prepare(
      `UPDATE chunks SET status = 'pending', lease_until = NULL, lease_owner = NULL
       WHERE status = 'running' AND lease_until < ? AND job_id IN (SELECT id FROM jobs WHERE status = 'in-progress')
       RETURNING job_id, seq`,
    );
    const rows = await writeTransaction(this.db, () => reclaim.all(now) as { job_id: string; seq: number }[]);
    return rows.map((r) => ({ jobId: r.job_id, seq: r.seq }));
  }

  async releaseAllLeases(): Promise<number> {
    const release = this.db.prepare("UPDATE chunks SET status = 'pending', lease_until = NULL, lease_owner = NULL WHERE status = 'running'");
    return writeTransaction(this.db, () => release.run().changes);
  }

  async pendingChunks(): Promise<ChunkRef[]> {
    const rows = this.db
      .prepare(
        `SELECT c.job_id, c.seq FROM chunks c JOIN jobs j ON j.id = c.job_id
         WHERE c.status = 'pending' AND j.status = 'in-progress' ORDER BY j.created_at, j.id, c.seq`,
      )
      .all() as { job_id: string; seq: number }[];
    return rows.map((r) => ({ jobId: r.job_id, seq: r.seq }));
  }

  async completeChunk(
    jobId: string,
    seq: number,
    files: Omit<ExportFile, 'jobId' | 'chunkSeq'>[],
    count: number,
    at: number,
  ): Promise<{ recorded: boolean; jobCompleted: boolean }> {
    const db = this.db;
    return writeTransaction(db, (): { recorded: boolean; jobCompleted: boolean } => {
      const unchanged = { recorded: false, jobCompleted: false };
      const job = db.prepare("SELECT status FROM jobs WHERE id = ? AND status = 'in-progress'").get(jobId);
      if (!job) return unchanged;
      const done = db
        .prepare(
          "UPDATE chunks SET status = 'done', count = ?, lease_until = NULL, lease_owner = NULL, error = NULL WHERE job_id = ? AND seq = ? AND status != 'done' RETURNING estimate",
        )
        .get(count, jobId, seq) as { estimate: number } | undefined;
      if (!done) return unchanged;
      db.prepare('DELETE FROM files WHERE job_id = ? AND chunk_seq = ?').run(jobId, seq);
      const add = db.prepare(
        'INSERT INTO files (id, job_id, chunk_seq, kind, type, part, object_key, count, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      for (const f of files) add.run(f.id, jobId, seq, f.kind, f.type, f.part, f.objectKey, f.count, f.bytes);
      db.prepare('UPDATE jobs SET done = done + ?, total = max(total + ? - ?, 0) WHERE id = ?').run(count, count, done.estimate, jobId);
      return { recorded: true, jobCompleted: this.completeIfDone(jobId, at) };
    });
  }

  async failChunk(jobId: string, seq: number, error: string, retry: boolean): Promise<void> {
    const update = this.db.prepare("UPDATE chunks SET status = ?, error = ?, lease_until = NULL, lease_owner = NULL WHERE job_id = ? AND seq = ? AND status != 'done'");
    await writeTransaction(this.db, () => update.run(retry ? 'pending' : 'failed', error, jobId, seq));
  }

  async finishJob(jobId: string, status: 'completed' | 'failed', at: number, error?: string): Promise<boolean> {
    const update = this.db.prepare("UPDATE jobs SET status = ?, completed_at = ?, error = ? WHERE id = ? AND status = 'in-progress'");
    return writeTransaction(this.db, () => update.run(status, at, error ?? null, jobId).changes > 0);
  }

  async deleteJob(jobId: string): Promise<ExportFile[]> {
    const db = this.db;
    return writeTransaction(db, (): ExportFile[] => {
      db.prepare("UPDATE jobs SET status = 'deleted' WHERE id = ?").run(jobId);
      return (db.prepare('SELECT * FROM files WHERE job_id = ?').all(jobId) as FileRow[]).map(toFile);
    });
  }

  async purgeJob(jobId: string): Promise<void> {
    const db = this.db;
    // The patient set (a row per patient) goes first, in slices: a purge, which runs where requests are answered,
    // never holds the thread or the write lock for long, nor reads the whole set. A purge cut short leaves a job
    // marked deleted, purged again.
    const removeSome = db.prepare('DELETE FROM job_patients WHERE job_id = ? AND patient_id IN (SELECT patient_id FROM job_patients WHERE job_id = ? LIMIT ?)');
    await deleteInSlices(db, (limit) => removeSome.run(jobId, jobId, limit).changes);
    await writeTransaction(db, () => {
      db.prepare('DELETE FROM files WHERE job_id = ?').run(jobId);
      db.prepare('DELETE FROM chunks WHERE job_id = ?').run(jobId);
      db.prepare('DELETE FROM job_patients WHERE job_id = ?').run(jobId);
      db.prepare("DELETE FROM jobs WHERE id = ? AND status = 'deleted'").run(jobId);
    });
  }

  async listFiles(jobId: string): Promise<ExportFile[]> {
    return (this.db.prepare('SELECT * FROM files WHERE job_id = ? ORDER BY chunk_seq, part').all(jobId) as FileRow[]).map(toFile);
  }

  async getFile(fileId: string): Promise<ExportFile | undefined> {
    const row = this.db.prepare('SELECT * FROM files WHERE id = ?').get(fileId) as FileRow | undefined;
    return row ? toFile(row) : undefined;
  }

  async takeTurn(task: string, now: number, intervalMs: number): Promise<boolean> {
    const take = this.db.prepare(
      `INSERT INTO turns (task, next_at) VALUES (?, ?)
       ON CONFLICT (task) DO UPDATE SET next_at = excluded.next_at WHERE turns.next_at <= ?
       RETURNING task`,
    );
    return writeTransaction(this.db, () => take.get(task, now + intervalMs, now) !== undefined);
  }
}
