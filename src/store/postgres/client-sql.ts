import type { RegisteredClient } from '../ports.js';
import type { Sql } from './db.js';

/** The SQL of the PostgreSQL client store. */

export const insertClient = (c: RegisteredClient): Sql => ({
  text: `INSERT INTO clients (client_id, tenant, name, jwks, jwks_url, scope, disabled, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
  values: [c.clientId, c.tenant, c.name, c.jwks ? JSON.stringify(c.jwks) : null, c.jwksUrl, c.scope, c.disabled, c.createdAt],
});

export const getClient = (clientId: string): Sql => ({ text: 'SELECT * FROM clients WHERE client_id = $1', values: [clientId] });

export const listClients = (tenant?: string): Sql =>
  tenant === undefined
    ? { text: 'SELECT * FROM clients ORDER BY created_at, client_id', values: [] }
    : { text: 'SELECT * FROM clients WHERE tenant = $1 ORDER BY created_at, client_id', values: [tenant] };

export const setDisabled = (clientId: string, disabled: boolean): Sql => ({
  text: 'UPDATE clients SET disabled = $2 WHERE client_id = $1',
  values: [clientId, disabled],
});

export const removeClient = (clientId: string): Sql => ({ text: 'DELETE FROM clients WHERE client_id = $1', values: [clientId] });

export const deleteExpiredJtis = (now: number): Sql => ({ text: 'DELETE FROM used_jti WHERE expires_at < $1', values: [now] });

/**
 * Records a jti unless it is recorded and unexpired, in one atomic statement: a recorded but expired jti is
 * taken over (its expiry moved). Concurrent uses of one jti serialise on the primary key; one wins.
 */
export const useJti = (clientId: string, jti: string, expiresAt: number, now: number): Sql => ({
  text: `INSERT INTO used_jti AS j (client_id, jti, expires_at) VALUES ($1, $2, $3)
    ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE j.expires_at < $4`,
  values: [clientId, jti, expiresAt, now],
});

/** Voids a client's tokens issued before `at` (a later revocation of the same client moves the instant on). */
export const revoke = (clientId: string, at: number): Sql => ({
  text: `INSERT INTO token_revocations AS r (client_id, revoked_at) VALUES ($1, $2)
    ON CONFLICT (client_id) DO UPDATE SET revoked_at = GREATEST(r.revoked_at, EXCLUDED.revoked_at)`,
  values: [clientId, at],
});

export const revocations = (since: number): Sql => ({
  text: 'SELECT client_id, revoked_at FROM token_revocations WHERE revoked_at > $1',
  values: [since],
});
