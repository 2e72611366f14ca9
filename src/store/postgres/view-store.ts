import type { Pool } from 'pg';
import type { StoredView, ViewStore } from '../ports.js';
import { query, type Sql } from './db.js';

interface ViewRow {
  tenant: string;
  name: string;
  url: string | null;
  resource: string;
  definition: string;
  created_at: string;
  updated_at: string;
}

const toView = (r: ViewRow): StoredView => ({
  tenant: r.tenant,
  name: r.name,
  url: r.url,
  resource: r.resource,
  definition: r.definition,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

/** Upserts a view; `inserted` tells a new row from a replaced one (xmax is 0 only for a fresh insert). */
const putView = (v: StoredView): Sql => ({
  text: `INSERT INTO view_definitions (tenant, name, url, resource, definition, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (tenant, name) DO UPDATE SET url = EXCLUDED.url, resource = EXCLUDED.resource,
      definition = EXCLUDED.definition, updated_at = EXCLUDED.updated_at
    RETURNING (xmax = 0) AS inserted`,
  values: [v.tenant, v.name, v.url, v.resource, v.definition, v.createdAt, v.updatedAt],
});

export class PostgresViewStore implements ViewStore {
  constructor(private readonly pool: Pool) {}

  async putView(v: StoredView): Promise<boolean> {
    const [row] = await query<{ inserted: boolean }>(this.pool, putView(v));
    return row?.inserted === true;
  }

  async getView(tenant: string, name: string): Promise<StoredView | undefined> {
    const [row] = await query<ViewRow>(this.pool, {
      text: 'SELECT * FROM view_definitions WHERE tenant = $1 AND name = $2',
      values: [tenant, name],
    });
    return row ? toView(row) : undefined;
  }

  async findViewByUrl(tenant: string, url: string): Promise<StoredView | undefined> {
    const [row] = await query<ViewRow>(this.pool, {
      text: 'SELECT * FROM view_definitions WHERE tenant = $1 AND url = $2 ORDER BY name LIMIT 1',
      values: [tenant, url],
    });
    return row ? toView(row) : undefined;
  }

  async listViews(tenant: string): Promise<StoredView[]> {
    return (await query<ViewRow>(this.pool, { text: 'SELECT * FROM view_definitions WHERE tenant = $1 ORDER BY name', values: [tenant] })).map(toView);
  }

  async removeView(tenant: string, name: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM view_definitions WHERE tenant = $1 AND name = $2', [tenant, name])).rowCount ?? 0) > 0;
  }
}
