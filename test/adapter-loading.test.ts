/**
 * Adapters are loaded only when configured: the embedded server (SQLite, local files, in-process queue) never
 * loads the AWS SDK, pg or pg-boss, and no thread loads @medplum/core before it is needed; a server configured for S3
 * loads the SDK.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastJsonLine } from './helpers/process.js';

let dataDir: string;

async function loadedPackages(config: Record<string, unknown>): Promise<string[]> {
  return lastJsonLine<string[]>(['--import', 'tsx', 'test/helpers/loaded-packages.ts', JSON.stringify(config)]);
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'flatfhir-adapters-'));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('adapter modules', () => {
  it('the embedded server loads neither the AWS SDK nor pg nor pg-boss; an S3 configuration loads the SDK', async () => {
    const base = { port: 0, logLevel: 'silent', seedSandbox: false, export: { threads: 0 } };
    const [embedded, onS3] = await Promise.all([
      loadedPackages({ ...base, dataDir: join(dataDir, 'embedded') }),
      // Never reached: opening the adapter does not connect.
      loadedPackages({ ...base, dataDir: join(dataDir, 's3'), storage: { url: 's3://bucket/prefix', s3: { endpoint: 'http://127.0.0.1:9', forcePathStyle: true, accessKeyId: 'a', secretAccessKey: 'b' } } }),
    ]);
    expect(embedded).toContain('better-sqlite3');
    expect(embedded.filter((p) => p.startsWith('@aws-sdk/') || p === 'pg' || p === 'pg-boss')).toEqual([]);
    // Nor @medplum/core, which nothing needs until a FHIRPath, a _typeFilter or an indexed write comes.
    expect(embedded).not.toContain('@medplum/core');
    expect(onS3).toContain('@aws-sdk/client-s3');
  }, 60_000);
});
