import type { Pool } from 'pg';
import type { ClientStore, RegisteredClient } from '../ports.js';
import { query, transaction } from './db.js';
import * as sql from './client-sql.js';
import { type ClientRow, toClient } from '../rows.js';

export class PostgresClientStore implements ClientStore {
  constructor(
    private readonly pool: Pool,
    private readonly now: () => number = Date.now,
  ) {}

  async registerClient(c: RegisteredClient): Promise<void> {
    await query(this.pool, sql.insertClient(c));
  }

  async getClient(clientId: string): Promise<RegisteredClient | undefined> {
    const [row] = await query<ClientRow>(this.pool, sql.getClient(clientId));
    return row ? toClient(row) : undefined;
  }

  async listClients(tenant?: string): Promise<RegisteredClient[]> {
    return (await query<ClientRow>(this.pool, sql.listClients(tenant))).map(toClient);
  }

  async setClientDisabled(clientId: string, disabled: boolean): Promise<boolean> {
    return transaction(this.pool, async (client) => {
      const changed = ((await client.query(sql.setDisabled(clientId, disabled))).rowCount ?? 0) > 0;
      if (changed && disabled) await client.query(sql.revoke(clientId, this.now()));
      return changed;
    });
  }

  async removeClient(clientId: string): Promise<boolean> {
    return transaction(this.pool, async (client) => {
      const removed = ((await client.query(sql.removeClient(clientId))).rowCount ?? 0) > 0;
      if (removed) await client.query(sql.revoke(clientId, this.now()));
      return removed;
    });
  }

  async revocations(since: number): Promise<Map<string, number>> {
    const rows = await query<{ client_id: string; revoked_at: number }>(this.pool, sql.revocations(since));
    return new Map(rows.map((r) => [r.client_id, Number(r.revoked_at)]));
  }

  async useJti(clientId: string, jti: string, expiresAt: number, now: number): Promise<boolean> {
    // Housekeeping only: the upsert alone decides (atomically) whether the jti was already used.
    await query(this.pool, sql.deleteExpiredJtis(now));
    const result = await this.pool.query(sql.useJti(clientId, jti, expiresAt, now));
    return (result.rowCount ?? 0) > 0;
  }
}
