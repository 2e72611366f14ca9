import { setTimeout as sleep } from 'node:timers/promises';
import type Database from 'better-sqlite3';

/** How long a connection waits for another connection's write to end before it gives up (ms). */
export const BUSY_TIMEOUT_MS = 10_000;

/** How often a write waiting for the lock tries again (ms). */
const RETRY_MS = 1;

/** Starts a write transaction if no other connection holds the write lock now; never waits. */
function tryBegin(db: Database.Database): boolean {
  db.pragma('busy_timeout = 0');
  try {
    db.exec('BEGIN IMMEDIATE');
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === 'SQLITE_BUSY') return false;
    throw e;
  } finally {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  }
}

/**
 * Runs `body` in a write transaction (BEGIN IMMEDIATE), waiting for the write lock without blocking this thread:
 * while another connection (an export thread, the checkpoint thread) writes, it tries again every millisecond,
 * letting the event loop run meanwhile. SQLite's own busy handler would block the thread and sleep in growing
 * steps of up to 100 ms, so a write waiting behind another one took several times that one's duration; here the
 * wait ends within a millisecond of the lock's release. Inside a transaction already open on the connection,
 * `body` runs there (as a savepoint).
 */
export async function writeTransaction<T>(db: Database.Database, body: () => T): Promise<T> {
  if (db.inTransaction) return db.transaction(body)();
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  while (!tryBegin(db)) {
    if (Date.now() >= deadline) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    await sleep(RETRY_MS);
    // Every other transaction of the connection begins and ends within one synchronous call.
    if (db.inTransaction) return db.transaction(body)();
  }
  // From BEGIN to COMMIT without yielding: nothing else runs on this connection in between.
  try {
    const result = body();
    db.exec('COMMIT');
    return result;
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw e;
  }
}

/** Rows per transaction of a write that `inSlices` splits. */
const SLICE_ROWS = 500;
/** The pause between two slices (ms): time for a write waiting on another connection to take the lock. */
const SLICE_PAUSE_MS = 2;

/**
 * Writes many rows idempotently (INSERT OR IGNORE: a write cut short is completed by doing it again) in transactions
 * of `SLICE_ROWS`, pausing between them, so that a large write (a job's patient set: one row per patient) never holds
 * the write lock, nor the thread, for long: a kick-off or a status update waits a slice at most.
 */
export async function inSlices<T>(db: Database.Database, rows: T[], write: (slice: T[]) => void): Promise<void> {
  for (let i = 0; i < rows.length; i += SLICE_ROWS) {
    if (i > 0) await sleep(SLICE_PAUSE_MS);
    const slice = rows.slice(i, i + SLICE_ROWS);
    await writeTransaction(db, () => write(slice));
  }
}

/**
 * Deletes rows as `inSlices` writes them: `remove(limit)` deletes at most `limit` rows and says how many it did;
 * it runs in transactions of its own, with pauses between, until it deletes fewer than a slice.
 */
export async function deleteInSlices(db: Database.Database, remove: (limit: number) => number): Promise<void> {
  for (let first = true; ; first = false) {
    if (!first) await sleep(SLICE_PAUSE_MS);
    if ((await writeTransaction(db, () => remove(SLICE_ROWS))) < SLICE_ROWS) return;
  }
}
