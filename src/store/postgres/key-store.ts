import type { Pool } from 'pg';
import type { KeyStore, StoredSigningKey } from '../ports.js';
import { query, transaction } from './db.js';
import * as sql from './key-sql.js';

interface KeyRow {
  kid: string;
  alg: string;
  created_at: number;
  private_jwk: string;
}

const toKey = (r: KeyRow): StoredSigningKey => ({ kid: r.kid, alg: r.alg, createdAt: r.created_at, privateJwk: JSON.parse(r.private_jwk) as Record<string, unknown> });

const SECRET_NAME = /^[a-z0-9-]{1,64}$/;

/** Signing keys and secrets in tables of the store's schema, shared by every process on the database. */
export class PostgresKeyStore implements KeyStore {
  constructor(private readonly pool: Pool) {}

  async signingKeys(first: () => Promise<StoredSigningKey>): Promise<StoredSigningKey[]> {
    const existing = (await query<KeyRow>(this.pool, sql.listSigningKeys())).map(toKey);
    if (existing.length > 0) return existing;
    const candidate = await first();
    return transaction(this.pool, async (client) => {
      await query(client, sql.lockKeySet());
      const now = (await query<KeyRow>(client, sql.listSigningKeys())).map(toKey);
      if (now.length > 0) return now;
      await query(client, sql.insertSigningKey(candidate));
      return [candidate];
    });
  }

  async signingKeysVersion(): Promise<string> {
    const [row] = await query<{ version: string }>(this.pool, sql.signingKeysVersion());
    return row?.version ?? '';
  }

  async replaceSigningKeys(add: StoredSigningKey, retire: string[]): Promise<void> {
    await transaction(this.pool, async (client) => {
      await query(client, sql.insertSigningKey(add));
      if (retire.length > 0) await query(client, sql.deleteSigningKeys(retire.filter((k) => k !== add.kid)));
    });
  }

  async secret(name: string, create: () => Buffer): Promise<Buffer> {
    if (!SECRET_NAME.test(name)) throw new Error(`Invalid secret name ${name}`);
    const [row] = await query<{ value: string }>(this.pool, sql.getSecret(name));
    if (row) return Buffer.from(row.value, 'base64');
    await query(this.pool, sql.insertSecret(name, create().toString('base64'), Date.now()));
    const [stored] = await query<{ value: string }>(this.pool, sql.getSecret(name));
    if (!stored) throw new Error(`secret ${name} could not be stored`);
    return Buffer.from(stored.value, 'base64');
  }
}
