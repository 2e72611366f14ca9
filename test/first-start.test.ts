/**
 * A first start in PostgreSQL mode with a data directory that does not exist yet: the server creates what it
 * needs, and a first start killed half-way through seeding leaves nothing that breaks the next start.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSigningKey, signClientAssertion, CLIENT_ASSERTION_TYPE } from '../src/client/auth.js';
import { SANDBOX_GROUP_LARGE, SANDBOX_TENANT } from '../src/config/index.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';
import { runFlatfhir, stop } from './helpers/process.js';
import { auth } from './helpers/server.js';

const schema = freshSchema('first_start');
let root: string | undefined;

afterAll(async () => {
  await schema.drop();
  if (root) await rm(root, { recursive: true, force: true });
});

async function count(db: pg.Client, sql: string): Promise<number> {
  try {
    const r = await db.query<{ n: string }>(sql);
    return Number(r.rows[0]?.n ?? 0);
  } catch {
    return 0; // the schema is not there yet
  }
}

describe('first start on PostgreSQL with a new data directory', () => {
  it('creates the data directory, and a start killed while seeding is completed by the next one', async () => {
    root = await mkdtemp(join(tmpdir(), 'flatfhir-first-'));
    const dataDir = join(root, 'not', 'yet', 'data');
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('schema', schema.name);
    const env = { FLATFHIR_DATABASE_URL: url.toString(), FLATFHIR_LOG_LEVEL: 'info', FLATFHIR_EXPORT_THREADS: '0' };
    const args = ['serve', '--data', dataDir, '--port', '0'];

    // 1. killed as soon as the seeding has written its first resources
    const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await db.connect();
    try {
      const first = runFlatfhir(args, env);
      const table = `${pg.escapeIdentifier(schema.name)}.resources`;
      let seen = 0;
      const deadline = Date.now() + 60_000;
      while (seen === 0 && first.child.exitCode === null && Date.now() < deadline) {
        seen = await count(db, `SELECT count(*) AS n FROM ${table}`);
        if (seen === 0) await new Promise((r) => setTimeout(r, 20));
      }
      first.child.kill('SIGKILL');
      await first.exited;
      expect(seen, `first start output:\n${first.stdout()}\n${first.stderr()}`).toBeGreaterThan(0);
      // half-made: some resources, and no sandbox groups yet
      expect(await count(db, `SELECT count(*) AS n FROM ${table} WHERE type = 'Group'`)).toBe(0);
      expect((await stat(dataDir)).mode & 0o777).toBe(0o700);

      // 2. the second start completes the seeding and serves the sandbox
      const second = runFlatfhir(args, env);
      try {
        const origin = await second.listening;
        expect((await readdir(dataDir)).filter((e) => e.startsWith('.seed-'))).toEqual([]);
        const clientFile = JSON.parse(await readFile(join(dataDir, 'sandbox-client.json'), 'utf8')) as {
          clientId: string;
          tokenUrl: string;
          privateJwk: Parameters<typeof loadSigningKey>[0];
        };
        const signing = await loadSigningKey(clientFile.privateJwk);
        const assertion = await signClientAssertion(signing, clientFile.clientId, clientFile.tokenUrl, Date.now());
        const tokenResponse = await fetch(clientFile.tokenUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            scope: 'system/*.rs',
            client_assertion_type: CLIENT_ASSERTION_TYPE,
            client_assertion: assertion,
          }),
        });
        expect(tokenResponse.status).toBe(200);
        const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
        const group = await fetch(`${origin}/r4/${SANDBOX_TENANT}/Group/${SANDBOX_GROUP_LARGE}`, { headers: auth(token) });
        expect(group.status).toBe(200);
        expect(((await group.json()) as { member: unknown[] }).member).toHaveLength(10);
        const patients = await count(db, `SELECT count(*) AS n FROM ${table} WHERE type = 'Patient' AND NOT deleted`);
        expect(patients).toBe(120);
      } finally {
        expect(await stop(second)).toBe(0);
      }
    } finally {
      await db.end();
    }
  }, 120_000);
});
