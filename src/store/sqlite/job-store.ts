import type Database from 'better-sqlite3';
import type { ChunkStatus, ExportChunk, ExportFile, ExportJob, JobStatus, JobStore, NewJob } from '../ports.js';
import { type ChunkRow, type FileRow, type JobRow, newJobValues, toChunk, toFile, toJob } from '../rows.js';

export class SqliteJobStore implements JobStore {
  constructor(private readonly db: Database.Database) {}

  async createJob(job: NewJob): Promise<{ job: ExportJob } | { conflict: ExportJob }> {
    const db = this.db;
    return db
      .transaction((): { job: ExportJob } | { conflict: ExportJob } => {
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
        return { job: toJob(db.prepare('SELECT * FROM jobs WHERE id = ?').get(job.id) as JobRow) };
      })
      .immediate();
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

  async listJobs(filter: { status?: JobStatus; expiredBefore?: number }): Promise<ExportJob[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.status) {
      where.push('status = ?');
      params.push(filter.status);
    }
    if (filter.expiredBefore !== undefined) {
      where.push('expires_at < ?');
      params.push(filter.expiredBefore);
    }
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at`;
    return (this.db.prepare(sql).all(...params) as JobRow[]).map(toJob);
  }

  async countByStatus(): Promise<{ jobs: Partial<Record<JobStatus, number>>; chunks: Partial<Record<ChunkStatus, number>> }> {
    const count = (table: 'jobs' | 'chunks') =>
      Object.fromEntries((this.db.prepare(`SELECT status, count(*) AS n FROM ${table} GROUP BY status`).all() as { status: string; n: number }[]).map((r) => [r.status, r.n]));
    return { jobs: count('jobs'), chunks: count('chunks') };
  }

  async planChunks(jobId: string, chunks: { type: string; slice: unknown; estimate: number }[], total: number): Promise<void> {
    const db = this.db;
    db.transaction(() => {
      db.prepare('DELETE FROM chunks WHERE job_id = ?').run(jobId);
      const add = db.prepare("INSERT INTO chunks (job_id, seq, type, slice, status, estimate) VALUES (?, ?, ?, ?, 'pending', ?)");
      chunks.forEach((c, seq) => add.run(jobId, seq, c.type, JSON.stringify(c.slice), c.estimate));
      db.prepare('UPDATE jobs SET total = ? WHERE id = ?').run(total, jobId);
    }).immediate();
  }

  async listChunks(jobId: string): Promise<ExportChunk[]> {
    return (this.db.prepare('SELECT * FROM chunks WHERE job_id = ? ORDER BY seq').all(jobId) as ChunkRow[]).map(toChunk);
  }

  async claimChunk(leaseMs: number, now: number): Promise<ExportChunk | undefined> {
    const db = this.db;
    return db
      .transaction((): ExportChunk | undefined => {
        const row = db
          .prepare(
            `SELECT c.* FROM chunks c JOIN jobs j ON j.id = c.job_id
             WHERE j.status = 'in-progress' AND (c.status = 'pending' OR (c.status = 'running' AND c.lease_until < ?))
             ORDER BY j.created_at, c.seq LIMIT 1`,
          )
          .get(now) as ChunkRow | undefined;
        if (!row) return undefined;
        db.prepare("UPDATE chunks SET status = 'running', attempts = attempts + 1, lease_until = ? WHERE job_id = ? AND seq = ?").run(
          now + leaseMs,
          row.job_id,
          row.seq,
        );
        return toChunk({ ...row, status: 'running', attempts: row.attempts + 1, lease_until: now + leaseMs });
      })
      .immediate();
  }

  async renewLease(jobId: string, seq: number, leaseUntil: number): Promise<boolean> {
    const r = this.db
      .prepare("UPDATE chunks SET lease_until = ? WHERE job_id = ? AND seq = ? AND status = 'running'")
      .run(leaseUntil, jobId, seq);
    return r.changes > 0;
  }

  async completeChunk(
    jobId: string,
    seq: number,
    files: Omit<ExportFile, 'jobId' | 'chunkSeq'>[],
    count: number,
  ): Promise<boolean> {
    const db = this.db;
    return db
      .transaction((): boolean => {
        const job = db.prepare("SELECT status FROM jobs WHERE id = ? AND status = 'in-progress'").get(jobId);
        if (!job) return false;
        const r = db
          .prepare("UPDATE chunks SET status = 'done', count = ?, lease_until = NULL, error = NULL WHERE job_id = ? AND seq = ? AND status != 'done'")
          .run(count, jobId, seq);
        if (r.changes === 0) return false;
        db.prepare('DELETE FROM files WHERE job_id = ? AND chunk_seq = ?').run(jobId, seq);
        const add = db.prepare(
          'INSERT INTO files (id, job_id, chunk_seq, kind, type, part, object_key, count, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        );
        for (const f of files) add.run(f.id, jobId, seq, f.kind, f.type, f.part, f.objectKey, f.count, f.bytes);
        db.prepare('UPDATE jobs SET done = done + ? WHERE id = ?').run(count, jobId);
        return true;
      })
      .immediate();
  }

  async failChunk(jobId: string, seq: number, error: string, retry: boolean): Promise<void> {
    this.db
      .prepare('UPDATE chunks SET status = ?, error = ?, lease_until = NULL WHERE job_id = ? AND seq = ?')
      .run(retry ? 'pending' : 'failed', error, jobId, seq);
  }

  async finishJob(jobId: string, status: 'completed' | 'failed', at: number, error?: string): Promise<boolean> {
    const r = this.db
      .prepare("UPDATE jobs SET status = ?, completed_at = ?, error = ? WHERE id = ? AND status = 'in-progress'")
      .run(status, at, error ?? null, jobId);
    return r.changes > 0;
  }

  async deleteJob(jobId: string): Promise<ExportFile[]> {
    const db = this.db;
    return db
      .transaction((): ExportFile[] => {
        db.prepare("UPDATE jobs SET status = 'deleted' WHERE id = ?").run(jobId);
        return (db.prepare('SELECT * FROM files WHERE job_id = ?').all(jobId) as FileRow[]).map(toFile);
      })
      .immediate();
  }

  async purgeJob(jobId: string): Promise<void> {
    const db = this.db;
    db.transaction(() => {
      db.prepare('DELETE FROM files WHERE job_id = ?').run(jobId);
      db.prepare('DELETE FROM chunks WHERE job_id = ?').run(jobId);
      db.prepare('DELETE FROM job_patients WHERE job_id = ?').run(jobId);
      db.prepare("DELETE FROM jobs WHERE id = ? AND status = 'deleted'").run(jobId);
    }).immediate();
  }

  async listFiles(jobId: string): Promise<ExportFile[]> {
    return (this.db.prepare('SELECT * FROM files WHERE job_id = ? ORDER BY chunk_seq, part').all(jobId) as FileRow[]).map(toFile);
  }

  async getFile(fileId: string): Promise<ExportFile | undefined> {
    const row = this.db.prepare('SELECT * FROM files WHERE id = ?').get(fileId) as FileRow | undefined;
    return row ? toFile(row) : undefined;
  }
}
