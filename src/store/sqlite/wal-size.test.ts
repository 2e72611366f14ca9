import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepareResource } from '../../fhir/prepare.js';
import type { Store } from '../ports.js';
import { openSqliteStore, WAL_SIZE_LIMIT_BYTES } from './index.js';

let dir: string;
let file: string;
let store: Store;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flatfhir-wal-'));
  file = join(dir, 'flatfhir.sqlite');
  store = openSqliteStore(file);
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const walSize = (): number => statSync(`${file}-wal`).size;

/** `n` patients of about 100 KB each. */
const patients = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) =>
    prepareResource({ resourceType: 'Patient', id: `p${from + i}`, text: { status: 'generated', div: `<div>${'x'.repeat(100_000)}</div>` } }),
  );

describe('the SQLite write-ahead log', () => {
  it('is cut back when it starts over after a write that grew it past the limit', async () => {
    // One transaction of about 75 MB: the log holds all of it until a checkpoint has copied it.
    await store.resources.writeBatch('t', patients(0, 750));
    expect(walSize()).toBeGreaterThan(WAL_SIZE_LIMIT_BYTES);
    // This write's commit checkpoints the whole log (over 1,000 pages); the next one starts it over.
    await store.resources.writeBatch('t', patients(10_000, 1));
    await store.resources.writeBatch('t', patients(10_001, 1));
    expect(walSize()).toBeLessThanOrEqual(WAL_SIZE_LIMIT_BYTES);
    expect((await store.resources.read('t', 'Patient', 'p749'))?.json).toContain('x'.repeat(1000));
  });
});
