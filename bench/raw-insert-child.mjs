// The raw insert baseline of the import bench: the rows an import stored, copied with plain better-sqlite3
// prepared single-row INSERTs, in one transaction, into a table of the same shape (same columns and indexes) in a
// fresh database with the store's pragmas. Reading the source rows is not timed. Prints {rows, seconds} as JSON.
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';

const [source, target, tenant] = process.argv.slice(2);
for (const suffix of ['', '-wal', '-shm']) rmSync(target + suffix, { force: true });
const from = new Database(source, { readonly: true });
const to = new Database(target);
to.pragma('journal_mode = WAL');
to.pragma('synchronous = NORMAL');
to.pragma('cache_size = -32768');
to.pragma('temp_store = MEMORY');
for (const { sql } of from.prepare("SELECT sql FROM sqlite_master WHERE tbl_name = 'resources' AND sql IS NOT NULL ORDER BY type DESC").all()) to.exec(sql);
const insert = to.prepare('INSERT INTO resources (tenant, type, id, version, last_updated, deleted, hash, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
const CHUNK = 5000;
const read = from
  .prepare(`SELECT rowid, tenant, type, id, version, last_updated, deleted, hash, json FROM resources WHERE tenant = ? AND rowid > ? ORDER BY rowid LIMIT ${CHUNK}`)
  .raw();
let rows = 0;
let elapsed = 0n;
let last = 0;
to.exec('BEGIN');
for (;;) {
  const chunk = read.all(tenant, last);
  if (chunk.length === 0) break;
  last = chunk[chunk.length - 1][0];
  const values = chunk.map((row) => row.slice(1));
  const started = process.hrtime.bigint();
  for (const row of values) insert.run(row);
  elapsed += process.hrtime.bigint() - started;
  rows += chunk.length;
  if (chunk.length < CHUNK) break;
}
const started = process.hrtime.bigint();
to.exec('COMMIT');
elapsed += process.hrtime.bigint() - started;
from.close();
to.close();
for (const suffix of ['', '-wal', '-shm']) rmSync(target + suffix, { force: true });
console.log(JSON.stringify({ rows, seconds: Number(elapsed) / 1e9 }));
