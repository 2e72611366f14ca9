/**
 * Worker-thread entry: checkpoints the write-ahead log of one SQLite database (copies committed pages into the
 * database file) on a connection of its own, while a bulk load writes on another thread, so that the writer never
 * waits for that copy. A passive checkpoint takes no lock a writer or reader waits for. Stops on any message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { file, intervalMs } = workerData as { file: string; intervalMs: number };
const db = new Database(file, { fileMustExist: true });
db.pragma('busy_timeout = 10000');
// Pages are copied, not kept: a small cache is enough.
db.pragma('cache_size = -2048');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or interrupted: the next turn, or the writer's own checkpoints, copy the pages.
  }
}, intervalMs);
parentPort?.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
