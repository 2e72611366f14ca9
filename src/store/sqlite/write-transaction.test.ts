import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deleteInSlices, inSlices, writeTransaction } from './write-transaction.js';

let dir: string;
let a: Database.Database;
let b: Database.Database;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flatfhir-write-'));
  a = new Database(join(dir, 'db.sqlite'));
  a.pragma('journal_mode = WAL');
  a.pragma('busy_timeout = 10000');
  a.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)');
  b = new Database(join(dir, 'db.sqlite'));
  b.pragma('busy_timeout = 10000');
});

afterEach(async () => {
  a.close();
  b.close();
  await rm(dir, { recursive: true, force: true });
});

describe('writeTransaction', () => {
  it('waits for another connection to release the write lock without blocking the event loop, then commits', async () => {
    b.exec('BEGIN IMMEDIATE');
    b.prepare('INSERT INTO t VALUES (?, ?)').run('b', 1);
    const events: string[] = [];
    const write = writeTransaction(a, () => {
      events.push('write');
      a.prepare('INSERT INTO t VALUES (?, ?)').run('a', 2);
      return 'done';
    });
    // The event loop runs while the write waits: the other connection ends its transaction from a timer.
    setTimeout(() => {
      events.push('release');
      b.exec('COMMIT');
    }, 20);
    expect(await write).toBe('done');
    expect(events).toEqual(['release', 'write']);
    expect(a.prepare('SELECT k, v FROM t ORDER BY k').raw().all()).toEqual([['a', 2], ['b', 1]]);
    // The connection waits as before for statements outside it.
    expect(a.pragma('busy_timeout', { simple: true })).toBe(10000);
  });

  it('rolls back when the body throws, and the connection takes writes again', async () => {
    await expect(
      writeTransaction(a, () => {
        a.prepare('INSERT INTO t VALUES (?, ?)').run('x', 1);
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(a.inTransaction).toBe(false);
    await writeTransaction(a, () => a.prepare('INSERT INTO t VALUES (?, ?)').run('y', 1));
    expect(a.prepare('SELECT k FROM t').pluck().all()).toEqual(['y']);
  });

  it('runs inside a transaction already open on the connection, as a savepoint', async () => {
    a.exec('BEGIN');
    await writeTransaction(a, () => a.prepare('INSERT INTO t VALUES (?, ?)').run('inner', 1));
    expect(a.inTransaction).toBe(true);
    a.exec('ROLLBACK');
    expect(a.prepare('SELECT count(*) FROM t').pluck().get()).toBe(0);
  });
});

describe('inSlices', () => {
  it('writes every row, in transactions another connection can write between', async () => {
    const rows = Array.from({ length: 1800 }, (_, i) => `k${String(i).padStart(4, '0')}`);
    const add = a.prepare('INSERT OR IGNORE INTO t VALUES (?, 0)');
    let other: Promise<unknown> | undefined;
    let slices = 0;
    const whole = inSlices(a, rows, (slice) => {
      for (const k of slice) add.run(k);
      // After the first slice, a write of the other connection comes; it must not wait for the last slice.
      if (slices++ === 0) other = writeTransaction(b, () => b.prepare('INSERT INTO t VALUES (?, ?)').run('other', 1));
    });
    await other;
    const seenByOther = b.prepare('SELECT count(*) FROM t').pluck().get() as number;
    await whole;
    expect(slices).toBe(4);
    expect(seenByOther).toBeLessThan(rows.length + 1);
    expect(a.prepare('SELECT count(*) FROM t').pluck().get()).toBe(rows.length + 1);
  });
});

describe('deleteInSlices', () => {
  it('deletes every row a slice at a time, each slice its own transaction', async () => {
    const add = a.prepare('INSERT INTO t VALUES (?, 0)');
    a.transaction(() => {
      for (let i = 0; i < 1234; i++) add.run(`k${i}`);
    })();
    const removeSome = a.prepare('DELETE FROM t WHERE k IN (SELECT k FROM t LIMIT ?)');
    const seen: number[] = [];
    await deleteInSlices(a, (limit) => {
      expect(a.inTransaction).toBe(true);
      seen.push(b.prepare('SELECT count(*) FROM t').pluck().get() as number);
      return removeSome.run(limit).changes;
    });
    expect(a.prepare('SELECT count(*) FROM t').pluck().get()).toBe(0);
    // The other connection saw each earlier slice committed: 1234, then 734, then 234 rows left.
    expect(seen).toEqual([1234, 734, 234]);
  });
});
