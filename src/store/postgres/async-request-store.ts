import type { Pool } from 'pg';
import type { AsyncRequest, AsyncRequestStore, NewAsyncRequest } from '../ports.js';
import { type AsyncRequestRow, toAsyncRequest } from '../rows.js';
import { query } from './db.js';

export class PostgresAsyncRequestStore implements AsyncRequestStore {
  constructor(private readonly pool: Pool) {}

  async createRequest(r: NewAsyncRequest): Promise<void> {
    await query(this.pool, {
      text: `INSERT INTO async_requests (id, tenant, client_id, request, payload, status, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)`,
      values: [r.id, r.tenant, r.clientId, r.request, r.payload, r.createdAt, r.expiresAt],
    });
  }

  async getRequest(id: string): Promise<AsyncRequest | undefined> {
    const [row] = await query<AsyncRequestRow>(this.pool, { text: 'SELECT * FROM async_requests WHERE id = $1', values: [id] });
    return row ? toAsyncRequest(row) : undefined;
  }

  async claimRequest(id: string, now: number, leaseUntil: number): Promise<AsyncRequest | undefined> {
    const [row] = await query<AsyncRequestRow>(this.pool, {
      text: `UPDATE async_requests SET lease_until = $1
             WHERE id = $2 AND status = 'pending' AND (lease_until IS NULL OR lease_until < $3) RETURNING *`,
      values: [leaseUntil, id, now],
    });
    return row ? toAsyncRequest(row) : undefined;
  }

  async finishRequest(id: string, status: 'completed' | 'failed', result: string, at: number): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE async_requests SET status = $1, result = $2, completed_at = $3, lease_until = NULL WHERE id = $4 AND status = 'pending'`,
      [status, result, at, id],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async deleteRequest(id: string): Promise<AsyncRequest | undefined> {
    const [row] = await query<AsyncRequestRow>(this.pool, { text: 'DELETE FROM async_requests WHERE id = $1 RETURNING *', values: [id] });
    return row ? toAsyncRequest(row) : undefined;
  }

  async purgeExpiredRequests(now: number): Promise<number> {
    return (await this.pool.query('DELETE FROM async_requests WHERE expires_at <= $1', [now])).rowCount ?? 0;
  }
}
