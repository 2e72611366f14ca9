import type { Pool } from 'pg';
import type { TenantRecord, TenantStore } from '../ports.js';
import { TENANT_TABLES, type TenantRow, toTenant } from '../rows.js';
import { query, rollbackAndRelease } from './db.js';

export class PostgresTenantStore implements TenantStore {
  constructor(private readonly pool: Pool) {}

  async createTenant(id: string, name: string, createdAt: number): Promise<boolean> {
    const rows = await query(this.pool, {
      text: 'INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING id',
      values: [id, name, createdAt],
    });
    return rows.length > 0;
  }

  async getTenant(id: string): Promise<TenantRecord | undefined> {
    const [row] = await query<TenantRow>(this.pool, { text: 'SELECT id, name, created_at FROM tenants WHERE id = $1', values: [id] });
    return row ? toTenant(row) : undefined;
  }

  async listTenantRecords(): Promise<TenantRecord[]> {
    return (await query<TenantRow>(this.pool, { text: 'SELECT id, name, created_at FROM tenants ORDER BY id', values: [] })).map(toTenant);
  }

  async tenantCounts(id: string): Promise<{ clients: number; jobs: number }> {
    const [row] = await query<{ clients: number; jobs: number }>(this.pool, {
      text: `SELECT (SELECT count(*) FROM clients WHERE tenant = $1)::bigint AS clients, (SELECT count(*) FROM jobs WHERE tenant = $1)::bigint AS jobs`,
      values: [id],
    });
    return { clients: row?.clients ?? 0, jobs: row?.jobs ?? 0 };
  }

  async tenantJobIds(id: string): Promise<string[]> {
    return (await query<{ id: string }>(this.pool, { text: 'SELECT id FROM jobs WHERE tenant = $1 ORDER BY id', values: [id] })).map((r) => r.id);
  }

  async removeTenant(id: string): Promise<boolean> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const removed = await client.query('DELETE FROM tenants WHERE id = $1', [id]);
      if (removed.rowCount === 0) {
        await client.query('ROLLBACK');
        client.release();
        return false;
      }
      for (const table of [...TENANT_TABLES, 'search_values']) await client.query(`DELETE FROM ${table} WHERE tenant = $1`, [id]);
      await client.query('DELETE FROM used_jti WHERE client_id IN (SELECT client_id FROM clients WHERE tenant = $1)', [id]);
      await client.query('DELETE FROM clients WHERE tenant = $1', [id]);
      for (const table of ['job_patients', 'chunks', 'files']) {
        await client.query(`DELETE FROM ${table} WHERE job_id IN (SELECT id FROM jobs WHERE tenant = $1)`, [id]);
      }
      await client.query('DELETE FROM jobs WHERE tenant = $1', [id]);
      await client.query('COMMIT');
      client.release();
      return true;
    } catch (err) {
      await rollbackAndRelease(client);
      throw err;
    }
  }
}
