import type Database from 'better-sqlite3';
import type { AsyncRequest, AsyncRequestStore, NewAsyncRequest } from '../ports.js';
import { type AsyncRequestRow, toAsyncRequest } from '../rows.js';
import { writeTransaction } from './write-transaction.js';

export class SqliteAsyncRequestStore implements AsyncRequestStore {
  constructor(private readonly db: Database.Database) {}

  async createRequest(r: NewAsyncRequest): Promise<void> {
    const insert = this.db.prepare(
      `INSERT INTO async_requests (id, tenant, client_id, request, payload, status, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`,
    );
    await writeTransaction(this.db, () => insert.run(r.id, r.tenant, r.clientId, r.request, r.payload, r.createdAt, r.expiresAt));
  }

  async getRequest(id: string): Promise<AsyncRequest | undefined> {
    const row = this.db.prepare('SELECT * FROM async_requests WHERE id = ?').get(id) as AsyncRequestRow | undefined;
    return row ? toAsyncRequest(row) : undefined;
  }

  async claimRequest(id: string, now: number, leaseUntil: number): Promise<AsyncRequest | undefined> {
    const claim = this.db.prepare(
      `UPDATE async_requests SET lease_until = ?
       WHERE id = ? AND status = 'pending' AND (lease_until IS NULL OR lease_until < ?) RETURNING *`,
    );
    const row = await writeTransaction(this.db, () => claim.get(leaseUntil, id, now) as AsyncRequestRow | undefined);
    return row ? toAsyncRequest(row) : undefined;
  }

  async finishRequest(id: string, status: 'completed' | 'failed', result: string, at: number): Promise<boolean> {
    const finish = this.db.prepare(`UPDATE async_requests SET status = ?, result = ?, completed_at = ?, lease_until = NULL WHERE id = ? AND status = 'pending'`);
    return writeTransaction(this.db, () => finish.run(status, result, at, id).changes > 0);
  }

  async deleteRequest(id: string): Promise<AsyncRequest | undefined> {
    const remove = this.db.prepare('DELETE FROM async_requests WHERE id = ? RETURNING *');
    const row = await writeTransaction(this.db, () => remove.get(id) as AsyncRequestRow | undefined);
    return row ? toAsyncRequest(row) : undefined;
  }

  async purgeExpiredRequests(now: number): Promise<number> {
    const remove = this.db.prepare('DELETE FROM async_requests WHERE expires_at <= ?');
    return writeTransaction(this.db, () => remove.run(now).changes);
  }
}
