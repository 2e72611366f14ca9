/**
 * A PostgreSQL connection the store holds (checked out of its pool, midway through a scan) that the server ends:
 * the operation on it fails, and nothing else does. pg emits an `error` event on a checked-out client whose
 * connection ends, and the pool listens for it only on idle clients: without a listener of the store's own, the
 * event would be an uncaught exception that ends the process.
 */
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { writeCohort } from './helpers/cohort.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';

const schema = freshSchema('connloss');
const appName = `flatfhir_connloss_${schema.name}`;

afterAll(async () => {
  await schema.drop();
});

it('fails a scan whose connection the server ends, and keeps serving on new connections', async () => {
  const store = await openPostgresStore(`${TEST_DATABASE_URL}?application_name=${appName}`, { schema: schema.name });
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await writeCohort(store.resources, 't', 3000, 0);
    const scan = store.resources.scan({ tenant: 't', type: 'Patient', until: Date.now() + 60_000 })[Symbol.asyncIterator]();
    // The first batch: the scan now holds its connection, its COPY not read to the end.
    const first = await scan.next();
    expect(first.done).toBe(false);
    const ended = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName]);
    expect(ended.rowCount).toBeGreaterThan(0);
    // Let the connections' ends arrive (each emits its client's `error` event: uncaught, it fails this test run).
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The rows already received may complete the scan; if not, it fails: never fewer rows without an error.
    let rows = first.value?.length ?? 0;
    const outcome = await (async () => {
      for (let r = await scan.next(); !r.done; r = await scan.next()) rows += r.value.length;
      return rows;
    })().catch((e: unknown) => e);
    if (outcome instanceof Error) expect(outcome.message).toMatch(/terminat|ended before its trailer/i);
    else expect(outcome).toBe(3000);
    expect(await store.resources.countByType('t')).toMatchObject({ Patient: 3000 });
  } finally {
    await admin.end();
    await store.close();
  }
}, 60_000);
