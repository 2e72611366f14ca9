import type { StoredSigningKey } from '../ports.js';
import type { Sql } from './db.js';

/** The SQL of the PostgreSQL key store. */

/** Serialises creating the first key of a schema's key set (transaction-level advisory lock). */
export const lockKeySet = (): Sql => ({
  text: "SELECT pg_advisory_xact_lock(hashtext('flatfhir.signing-keys'), hashtext(current_schema()))",
  values: [],
});

export const listSigningKeys = (): Sql => ({
  text: 'SELECT kid, alg, created_at, private_jwk FROM signing_keys ORDER BY created_at, kid',
  values: [],
});

export const insertSigningKey = (k: StoredSigningKey): Sql => ({
  text: 'INSERT INTO signing_keys (kid, alg, created_at, private_jwk) VALUES ($1, $2, $3, $4) ON CONFLICT (kid) DO NOTHING',
  values: [k.kid, k.alg, k.createdAt, JSON.stringify(k.privateJwk)],
});

export const deleteSigningKeys = (kids: string[]): Sql => ({ text: 'DELETE FROM signing_keys WHERE kid = ANY($1::text[])', values: [kids] });

export const signingKeysVersion = (): Sql => ({
  text: "SELECT coalesce(string_agg(kid, ',' ORDER BY kid), '') AS version FROM signing_keys",
  values: [],
});

export const insertSecret = (name: string, value: string, at: number): Sql => ({
  text: 'INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING',
  values: [name, value, at],
});

export const getSecret = (name: string): Sql => ({ text: 'SELECT value FROM secrets WHERE name = $1', values: [name] });
