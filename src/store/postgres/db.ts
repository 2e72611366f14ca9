import pg from 'pg';
import type { CustomTypesConfig, Pool, PoolClient, PoolConfig, QueryResultRow } from 'pg';

/** A plain SQL text with its positional parameters. */
export interface Sql {
  text: string;
  values: unknown[];
}

/** Collects positional parameters while a statement is built: `p.add(v, 'bigint')` returns `$n::bigint`. */
export class Params {
  readonly values: unknown[] = [];

  add(value: unknown, cast?: string): string {
    this.values.push(value);
    return cast ? `$${this.values.length}::${cast}` : `$${this.values.length}`;
  }
}

const INT8_OID = 20;

function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${text} is outside the safe integer range`);
  return n;
}

/**
 * Type parsers of the store's pool only: BIGINT (epoch milliseconds, counts) comes back as a JS number. The
 * global pg type registry is left alone, so other pg users in the process keep their own parsing.
 */
export const STORE_TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as CustomTypesConfig['getTypeParser'],
};

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Validates a schema name (lower-case identifier, so it needs no quoting in `search_path`). */
export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(schema)} (expected [a-z_][a-z0-9_]*)`);
  return schema;
}

/**
 * Session settings of every store connection, before any the URL's `options` give (which win). JIT compilation is
 * off: the store's statements are index scans whose estimated cost (inflated by the compartment subqueries) is
 * far above `jit_above_cost`, so PostgreSQL spent about a second of CPU compiling each export scan and planning
 * count, more than running it.
 */
const SESSION_DEFAULTS = '-c jit=off';

/**
 * Pool configuration whose every connection has `search_path` set to `schema` (through the startup `options`
 * parameter, combined with any `options` the URL already carries), kept open while idle.
 */
export function poolConfig(url: string, schema: string, max: number): PoolConfig {
  let connectionString = url;
  let options = `${SESSION_DEFAULTS} -c search_path=${schema}`;
  try {
    const parsed = new URL(url);
    const existing = parsed.searchParams.get('options');
    if (existing) {
      // A connection string's own `options` would override ours; merge them instead.
      parsed.searchParams.delete('options');
      connectionString = parsed.toString();
      options = `${SESSION_DEFAULTS} ${existing} -c search_path=${schema}`;
    }
  } catch {
    // Not a URL (e.g. a key=value string): use it as is.
  }
  // Idle connections stay open (pg closes them after 10 s by default): a request after a quiet spell, the first
  // kick-off after start among them, does not wait for a new connection's start-up.
  return { connectionString, options, max, types: STORE_TYPES, idleTimeoutMillis: 0 };
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; constraint?: unknown };
  return e.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

export async function query<R extends QueryResultRow>(db: Pool | PoolClient, sql: Sql): Promise<R[]> {
  const result = await db.query<R>({ text: sql.text, values: sql.values });
  return result.rows;
}

/** Gives a client back to the pool after a failed transaction, discarding it if it cannot roll back. */
export async function rollbackAndRelease(client: PoolClient): Promise<void> {
  try {
    await client.query('ROLLBACK');
    client.release();
  } catch (err) {
    client.release(err instanceof Error ? err : new Error(String(err)));
  }
}

/** Runs `fn` in a transaction on one pooled client: COMMIT when it resolves, ROLLBACK when it throws. */
export async function transaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const client = await pool.connect();
  let result: T;
  try {
    await client.query(begin);
    result = await fn(client);
    await client.query('COMMIT');
  } catch (err) {
    await rollbackAndRelease(client);
    throw err;
  }
  client.release();
  return result;
}

/** Thrown inside `transaction` to roll back and return a value instead of an error. */
export class Rollback<T> {
  constructor(readonly value: T) {}
}

/** Like `transaction`, but `fn` may `throw new Rollback(value)` to undo its work and return `value`. */
export async function transactionOrRollback<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  try {
    return await transaction(pool, fn);
  } catch (err) {
    if (err instanceof Rollback) return err.value as T;
    throw err;
  }
}

/** Opens `n` of the pool's connections at once and leaves them idle in it, so the first requests find them ready. */
export async function warmPool(pool: Pool, n: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: n }, () => pool.connect()));
  for (const c of clients) c.release();
}
