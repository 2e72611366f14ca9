import type { Pool } from 'pg';
import type { ClientStore, RegisteredClient } from '../ports.js';
import { query } from './db.js';
import * as sql from './client-sql.js';

interface ClientRow {
  client_id: string;
  tenant: string;
  name: string;
  jwks: string | null;
  jwks_url: string | null;
  scope: string;
  disabled: boolean;
  created_at: number;
}

const toClient = (r: ClientRow): RegisteredClient => ({
  clientId: r.client_id,
  tenant: r.tenant,
  name: r.name,
  jwks: r.jwks ? (JSON.parse(r.jwks) as RegisteredClient['jwks']) : null,
  jwksUrl: r.jwks_url,
  scope: r.scope,
  disabled: r.disabled,
  createdAt: r.created_at,
});

export class PostgresClientStore implements ClientStore {
  constructor(private readonly pool: Pool) {}

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
    return ((await this.pool.query(sql.setDisabled(clientId, disabled))).rowCount ?? 0) > 0;
  }

  async removeClient(clientId: string): Promise<boolean> {
    return ((await this.pool.query(sql.removeClient(clientId))).rowCount ?? 0) > 0;
  }

  async useJti(clientId: string, jti: string, expiresAt: number, now: number): Promise<boolean> {
    // Housekeeping only: the upsert alone decides (atomically) whether the jti was already used.
    await query(this.pool, sql.deleteExpiredJtis(now));
    const result = await this.pool.query(sql.useJti(clientId, jti, expiresAt, now));
    return (result.rowCount ?? 0) > 0;
  }
}
