/**
 * The KeyStore contract over every store adapter (the embedded store's key files, PostgreSQL's tables), and what it
 * gives a deployment: API processes on one PostgreSQL verify each other's tokens and download URLs.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSigningKey, rotateSigningKey } from '../src/auth/signing-keys.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger, createRuntime, type Runtime } from '../src/main.js';
import { openStorage } from '../src/storage/open.js';
import type { Store, StoredSigningKey } from '../src/store/ports.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { createTestClient, getAccessToken } from './helpers/auth.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';

interface Opened {
  store: Store;
  /** The same database opened again, as another process would. */
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

const adapters: { name: string; open(): Promise<Opened> }[] = [
  {
    name: 'sqlite (key files)',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'flatfhir-keys-contract-'));
      const store = openSqliteStore(join(dir, 'flatfhir.sqlite'));
      const others: Store[] = [];
      return {
        store,
        reopen: async () => {
          const s = openSqliteStore(join(dir, 'flatfhir.sqlite'));
          others.push(s);
          return s;
        },
        async cleanup() {
          for (const s of [store, ...others]) await s.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    async open() {
      const schema = freshSchema('keys');
      const store = await openPostgresStore(TEST_DATABASE_URL, { schema: schema.name, poolSize: 4 });
      const others: Store[] = [];
      return {
        store,
        reopen: async () => {
          const s = await openPostgresStore(TEST_DATABASE_URL, { schema: schema.name, poolSize: 2 });
          others.push(s);
          return s;
        },
        async cleanup() {
          for (const s of [store, ...others]) await s.close();
          await schema.drop();
        },
      };
    },
  },
];

describe.each(adapters)('KeyStore contract: $name', ({ open }) => {
  let o: Opened;
  beforeAll(async () => {
    o = await open();
  });
  afterAll(async () => {
    await o?.cleanup();
  });

  it('creates the first signing key once, even when several processes start at once', async () => {
    expect(await o.store.keys.signingKeysVersion()).toBe('');
    const others = await Promise.all([o.reopen(), o.reopen(), o.reopen()]);
    let made = 0;
    const first = async (): Promise<StoredSigningKey> => {
      made++;
      return newSigningKey(Date.now());
    };
    const sets = await Promise.all([o.store, ...others].map((s) => s.keys.signingKeys(first)));
    expect(made).toBeGreaterThanOrEqual(1);
    const kid = sets[0]?.[0]?.kid;
    for (const set of sets) {
      expect(set).toHaveLength(1);
      expect(set[0]?.kid).toBe(kid);
      expect(set[0]?.privateJwk['d']).toBeTypeOf('string');
    }
    // Later calls return it without making another.
    const again = await o.store.keys.signingKeys(async () => {
      throw new Error('must not be called');
    });
    expect(again.map((k) => k.kid)).toEqual([kid]);
    expect(await o.store.keys.signingKeysVersion()).not.toBe('');
  });

  it('replaces keys atomically, lists them oldest first, and changes the version', async () => {
    const [before] = await o.store.keys.signingKeys(() => newSigningKey(Date.now()));
    const v1 = await o.store.keys.signingKeysVersion();
    const second = await newSigningKey((before?.createdAt ?? 0) + 10);
    await o.store.keys.replaceSigningKeys(second, []);
    const v2 = await o.store.keys.signingKeysVersion();
    expect(v2).not.toBe(v1);
    const other = await o.reopen();
    expect((await other.keys.signingKeys(() => newSigningKey(0))).map((k) => k.kid)).toEqual([before?.kid, second.kid]);
    const third = await newSigningKey(second.createdAt + 10);
    await other.keys.replaceSigningKeys(third, [before?.kid as string]);
    expect((await o.store.keys.signingKeys(() => newSigningKey(0))).map((k) => k.kid)).toEqual([second.kid, third.kid]);
    expect(await o.store.keys.signingKeysVersion()).not.toBe(v2);
    // rotateSigningKey on top of the port: a new newest key, none retired while recent.
    const rotated = await rotateSigningKey(o.store.keys);
    expect(rotated.retired).toEqual([]);
    expect((await other.keys.signingKeys(() => newSigningKey(0))).at(-1)?.kid).toBe(rotated.kid);
  });

  it('keeps named secrets: created once, the same for every process, distinct by name', async () => {
    const others = await Promise.all([o.reopen(), o.reopen()]);
    const values = await Promise.all([o.store, ...others].map((s) => s.keys.secret('download-signing', () => randomBytes(32))));
    for (const v of values) expect(v.equals(values[0] as Buffer)).toBe(true);
    expect(values[0]?.length).toBe(32);
    const again = await o.store.keys.secret('download-signing', () => {
      throw new Error('must not be called');
    });
    expect(again.equals(values[0] as Buffer)).toBe(true);
    const other = await o.store.keys.secret('another-secret', () => randomBytes(32));
    expect(other.equals(values[0] as Buffer)).toBe(false);
    await expect(o.store.keys.secret('../escape', () => randomBytes(4))).rejects.toThrow(/Invalid secret name/);
  });

  it('check resolves on an open, migrated store', async () => {
    await o.store.check();
  });
});

describe('embedded key files', () => {
  it('are mode 0600 in a 0700 folder beside the database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flatfhir-keys-mode-'));
    const store = openSqliteStore(join(dir, 'flatfhir.sqlite'));
    try {
      await store.keys.signingKeys(() => newSigningKey(Date.now()));
      await store.keys.secret('download-signing', () => randomBytes(32));
      expect(statSync(join(dir, 'keys')).mode & 0o777).toBe(0o700);
      expect(statSync(join(dir, 'keys', 'signing-keys.json')).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'keys', 'download-signing.key')).mode & 0o777).toBe(0o600);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('API processes on one PostgreSQL', () => {
  const schema = freshSchema('shared');
  const dirs: string[] = [];
  const runtimes: Runtime[] = [];
  const origins: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const dataDir = mkdtempSync(join(tmpdir(), `flatfhir-node-${i}-`));
      dirs.push(dataDir);
      const config = loadConfig(
        { dataDir, port: 0, logLevel: 'silent', seedSandbox: false, databaseUrl: `${TEST_DATABASE_URL}?schema=${schema.name}`, export: { threads: 0 } },
        {},
      );
      const runtime = await createRuntime(config, { log: createLogger(config) });
      await runtime.app.listen({ port: 0, host: '127.0.0.1' });
      const address = runtime.app.server.address();
      runtimes.push(runtime);
      origins.push(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
    }
    await runtimes[0]?.store.resources.ensureTenant('tenant-shared');
  });

  afterAll(async () => {
    for (const r of runtimes) await r.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await schema.drop();
  });

  it('verify each other’s access tokens, before and after a rotation, with nothing shared but the database', async () => {
    const [a, b] = runtimes as [Runtime, Runtime];
    const client = await createTestClient(a.store.clients, 'tenant-shared');
    const tokenA = await getAccessToken(a.auth.tokenUrl(origins[0] as string, 'tenant-shared'), client);
    expect((await b.auth.authenticate('tenant-shared', `Bearer ${tokenA}`)).clientId).toBe(client.clientId);
    const res = await fetch(`${origins[1]}/r4/tenant-shared/bulk-export/jobs/none`, { headers: { authorization: `Bearer ${tokenA}` } });
    expect(res.status).toBe(404); // authenticated: the job does not exist (an unverified token would be 401)

    const { kid } = await rotateSigningKey(a.store.keys);
    const tokenB = await getAccessToken(b.auth.tokenUrl(origins[1] as string, 'tenant-shared'), client);
    expect(decodeProtectedHeader(tokenB).kid).toBe(kid);
    expect((await a.auth.authenticate('tenant-shared', `Bearer ${tokenB}`)).clientId).toBe(client.clientId);
    expect((await b.auth.authenticate('tenant-shared', `Bearer ${tokenA}`)).clientId).toBe(client.clientId);
    // No key files in either data directory: the keys are in the database.
    for (const d of dirs) expect(() => statSync(join(d, 'keys', 'signing-keys.json'))).toThrow();
  });

  it('accept each other’s download URLs (the download secret is in the database)', async () => {
    const [a, b] = runtimes as [Runtime, Runtime];
    const storageA = await openStorage(a.config, a.store.keys);
    const storageB = await openStorage(b.config, b.store.keys);
    const expires = Date.now() + 60_000;
    const url = new URL(await storageA.presign('jobs/x/0000-0.Patient.ndjson', expires, origins[0] as string));
    const signature = url.searchParams.get('signature') as string;
    expect(storageB.verifyPresigned?.('jobs/x/0000-0.Patient.ndjson', expires, signature, Date.now())).toBe(true);
    expect(storageB.verifyPresigned?.('jobs/x/other.ndjson', expires, signature, Date.now())).toBe(false);
    await storageA.close();
    await storageB.close();
  });
});
