import type Database from 'better-sqlite3';
import type { StoredView, ViewStore } from '../ports.js';
import { writeTransaction } from './write-transaction.js';

interface ViewRow {
  tenant: string;
  name: string;
  url: string | null;
  resource: string;
  definition: string;
  created_at: number;
  updated_at: number;
}

const toView = (r: ViewRow): StoredView => ({
  tenant: r.tenant,
  name: r.name,
  url: r.url,
  resource: r.resource,
  definition: r.definition,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class SqliteViewStore implements ViewStore {
  constructor(private readonly db: Database.Database) {}

  async putView(v: StoredView): Promise<boolean> {
    const db = this.db;
    return writeTransaction(db, (): boolean => {
      const had = db.prepare('SELECT 1 FROM view_definitions WHERE tenant = ? AND name = ?').get(v.tenant, v.name) !== undefined;
      db.prepare(
        `INSERT INTO view_definitions (tenant, name, url, resource, definition, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant, name) DO UPDATE SET url = excluded.url, resource = excluded.resource,
           definition = excluded.definition, updated_at = excluded.updated_at`,
      ).run(v.tenant, v.name, v.url, v.resource, v.definition, v.createdAt, v.updatedAt);
      return !had;
    });
  }

  async getView(tenant: string, name: string): Promise<StoredView | undefined> {
    const row = this.db.prepare('SELECT * FROM view_definitions WHERE tenant = ? AND name = ?').get(tenant, name) as ViewRow | undefined;
    return row ? toView(row) : undefined;
  }

  async findViewByUrl(tenant: string, url: string): Promise<StoredView | undefined> {
    const row = this.db
      .prepare('SELECT * FROM view_definitions WHERE tenant = ? AND url = ? ORDER BY name LIMIT 1')
      .get(tenant, url) as ViewRow | undefined;
    return row ? toView(row) : undefined;
  }

  async listViews(tenant: string): Promise<StoredView[]> {
    return (this.db.prepare('SELECT * FROM view_definitions WHERE tenant = ? ORDER BY name').all(tenant) as ViewRow[]).map(toView);
  }

  async removeView(tenant: string, name: string): Promise<boolean> {
    const remove = this.db.prepare('DELETE FROM view_definitions WHERE tenant = ? AND name = ?');
    return writeTransaction(this.db, () => remove.run(tenant, name).changes > 0);
  }
}
