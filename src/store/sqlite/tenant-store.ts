import type Database from 'better-sqlite3';
import type { TenantRecord, TenantStore } from '../ports.js';
import { TENANT_TABLES, type TenantRow, toTenant } from '../rows.js';
import { writeTransaction } from './write-transaction.js';

export class SqliteTenantStore implements TenantStore {
  constructor(private readonly db: Database.Database) {}

  async createTenant(id: string, name: string, createdAt: number): Promise<boolean> {
    const insert = this.db.prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING');
    return writeTransaction(this.db, () => insert.run(id, name, createdAt).changes > 0);
  }

  async getTenant(id: string): Promise<TenantRecord | undefined> {
    const row = this.db.prepare('SELECT id, name, created_at FROM tenants WHERE id = ?').get(id) as TenantRow | undefined;
    return row ? toTenant(row) : undefined;
  }

  async listTenantRecords(): Promise<TenantRecord[]> {
    return (this.db.prepare('SELECT id, name, created_at FROM tenants ORDER BY id').all() as TenantRow[]).map(toTenant);
  }

  async tenantCounts(id: string): Promise<{ clients: number; jobs: number }> {
    const clients = this.db.prepare('SELECT count(*) FROM clients WHERE tenant = ?').pluck().get(id) as number;
    const jobs = this.db.prepare('SELECT count(*) FROM jobs WHERE tenant = ?').pluck().get(id) as number;
    return { clients, jobs };
  }

  async tenantJobIds(id: string): Promise<string[]> {
    return this.db.prepare('SELECT id FROM jobs WHERE tenant = ? ORDER BY id').pluck().all(id) as string[];
  }

  async removeTenant(id: string): Promise<boolean> {
    const db = this.db;
    return writeTransaction(db, (): boolean => {
      if (db.prepare('DELETE FROM tenants WHERE id = ?').run(id).changes === 0) return false;
      for (const table of [...TENANT_TABLES, 'search_tokens', 'search_dates']) db.prepare(`DELETE FROM ${table} WHERE tenant = ?`).run(id);
      db.prepare('DELETE FROM used_jti WHERE client_id IN (SELECT client_id FROM clients WHERE tenant = ?)').run(id);
      db.prepare('DELETE FROM clients WHERE tenant = ?').run(id);
      for (const table of ['job_patients', 'chunks', 'files']) {
        db.prepare(`DELETE FROM ${table} WHERE job_id IN (SELECT id FROM jobs WHERE tenant = ?)`).run(id);
      }
      db.prepare('DELETE FROM jobs WHERE tenant = ?').run(id);
      return true;
    });
  }
}
