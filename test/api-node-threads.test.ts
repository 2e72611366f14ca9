/**
 * An API node that runs no export chunks (`--no-workers`) starts no chunk threads: each would open a store of its
 * own. Seen from PostgreSQL: the connections the node's process opens, by their application name.
 */
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';
import { startServer, type TestServer } from './helpers/server.js';

const schema = freshSchema('apinode');
const servers: TestServer[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await schema.drop();
});

async function connections(name: string): Promise<number> {
  const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await db.connect();
  try {
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [name]);
    return Number(rows[0]?.n);
  } finally {
    await db.end();
  }
}

/** The most connections seen over a few seconds (chunk threads open their stores after the server listens). */
async function settled(name: string): Promise<number> {
  let most = 0;
  for (let i = 0; i < 16; i++) {
    most = Math.max(most, await connections(name));
    await new Promise((r) => setTimeout(r, 500));
  }
  return most;
}

it('opens the chunk threads’ connections only where chunks run, before the threads count as started', async () => {
  const apiName = `apinode-api-${process.pid}`;
  const workerName = `apinode-worker-${process.pid}`;
  const url = (name: string): string => `${TEST_DATABASE_URL}?schema=${schema.name}&application_name=${name}`;
  const apiNode = await startServer({ databaseUrl: url(apiName), export: { workers: false, threads: 2 } });
  servers.push(apiNode);
  const workerNode = await startServer({ databaseUrl: url(workerName), export: { workers: true, threads: 2 } });
  servers.push(workerNode);
  await Promise.all([apiNode.runtime.threadsStarted(), workerNode.runtime.threadsStarted()]);
  // Started: each chunk thread has its store open (two connections each) when threadsStarted resolves.
  const withWorkers = await connections(workerName);
  const api = await settled(apiName);
  expect(api).toBeGreaterThan(0);
  expect(withWorkers - api).toBeGreaterThanOrEqual(4);
  expect(await settled(workerName)).toBe(withWorkers);
  // The queue's connections are named apart, after the node's name.
  expect(await connections(`${workerName}-queue`)).toBeGreaterThan(0);
  expect(await connections(`${apiName}-queue`)).toBeGreaterThan(0);
}, 60_000);
