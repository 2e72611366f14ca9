/** The session settings every PostgreSQL store connection starts with, and a URL's own `options` over them. */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { poolConfig } from '../src/store/postgres/db.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';

const schema = freshSchema('session');
const pools: pg.Pool[] = [];

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await schema.drop();
});

async function settings(url: string): Promise<{ jit: string; path: string }> {
  const pool = new pg.Pool(poolConfig(url, schema.name, 1));
  pools.push(pool);
  const jit = await pool.query<{ jit: string }>('SHOW jit');
  const path = await pool.query<{ search_path: string }>('SHOW search_path');
  return { jit: jit.rows[0]?.jit as string, path: path.rows[0]?.search_path as string };
}

describe('PostgreSQL store sessions', () => {
  it('run without JIT compilation, in the store schema', async () => {
    expect(await settings(TEST_DATABASE_URL)).toEqual({ jit: 'off', path: schema.name });
  });

  it('stay open while idle, so a request after a quiet spell finds one ready', () => {
    expect(poolConfig(TEST_DATABASE_URL, schema.name, 1).idleTimeoutMillis).toBe(0);
  });

  it("let the URL's options turn JIT back on, the schema still the store's", async () => {
    expect(await settings(`${TEST_DATABASE_URL}?options=${encodeURIComponent('-c jit=on')}`)).toEqual({ jit: 'on', path: schema.name });
  });
});
