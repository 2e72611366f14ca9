import type Database from 'better-sqlite3';
import type { ClientStore, RegisteredClient } from '../ports.js';
import { type ClientRow, toClient } from '../rows.js';
import { writeTransaction } from './write-transaction.js';

export class SqliteClientStore implements ClientStore {
  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number = Date.now,
  ) {}

  /** Voids the client's tokens issued until now (inside the caller's transaction). */
  private revoke(clientId: string): void {
    this.db
      .prepare('INSERT INTO token_revocations (client_id, revoked_at) VALUES (?, ?) ON CONFLICT (client_id) DO UPDATE SET revoked_at = max(revoked_at, excluded.revoked_at)')
      .run(clientId, this.now());
  }

  async registerClient(c: RegisteredClient): Promise<void> {
    const insert = this.db.prepare(
      `INSERT INTO clients (client_id, tenant, name, jwks, jwks_url, scope, disabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    await writeTransaction(this.db, () =>
      insert.run(c.clientId, c.tenant, c.name, c.jwks ? JSON.stringify(c.jwks) : null, c.jwksUrl, c.scope, c.disabled ? 1 : 0, c.createdAt),
    );
  }

  async getClient(clientId: string): Promise<RegisteredClient | undefined> {
    const row = this.db.prepare('SELECT * FROM clients WHERE client_id = ?').get(clientId) as ClientRow | undefined;
    return row ? toClient(row) : undefined;
  }

  async listClients(tenant?: string): Promise<RegisteredClient[]> {
    const rows = (
      tenant === undefined
        ? this.db.prepare('SELECT * FROM clients ORDER BY created_at, client_id').all()
        : this.db.prepare('SELECT * FROM clients WHERE tenant = ? ORDER BY created_at, client_id').all(tenant)
    ) as ClientRow[];
    return rows.map(toClient);
  }

  async setClientDisabled(clientId: string, disabled: boolean): Promise<boolean> {
    const db = this.db;
    return writeTransaction(db, (): boolean => {
      const changed = db.prepare('UPDATE clients SET disabled = ? WHERE client_id = ?').run(disabled ? 1 : 0, clientId).changes > 0;
      if (changed && disabled) this.revoke(clientId);
      return changed;
    });
  }

  async removeClient(clientId: string): Promise<boolean> {
    const db = this.db;
    return writeTransaction(db, (): boolean => {
      const removed = db.prepare('DELETE FROM clients WHERE client_id = ?').run(clientId).changes > 0;
      if (removed) this.revoke(clientId);
      return removed;
    });
  }

  async revocations(since: number): Promise<Map<string, number>> {
    const rows = this.db.prepare('SELECT client_id, revoked_at FROM token_revocations WHERE revoked_at > ?').all(since) as { client_id: string; revoked_at: number }[];
    return new Map(rows.map((r) => [r.client_id, r.revoked_at]));
  }

  async useJti(clientId: string, jti: string, expiresAt: number, now: number): Promise<boolean> {
    const db = this.db;
    return writeTransaction(db, (): boolean => {
      db.prepare('DELETE FROM used_jti WHERE expires_at < ?').run(now);
      const r = db.prepare('INSERT OR IGNORE INTO used_jti (client_id, jti, expires_at) VALUES (?, ?, ?)').run(clientId, jti, expiresAt);
      return r.changes > 0;
    });
  }
}
