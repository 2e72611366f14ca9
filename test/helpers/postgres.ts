import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL the tests use (trust auth on 127.0.0.1); override with TEST_DATABASE_URL. */
export const TEST_DATABASE_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh schema name for one test run, and a way to drop it (with everything in it) afterwards. */
export function freshSchema(prefix = 'test'): { name: string; drop(): Promise<void> } {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  return {
    name,
    async drop() {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(name)} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
