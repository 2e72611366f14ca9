/**
 * Two API processes on one PostgreSQL: a client disabled through one (or straight in the store, as the CLI does)
 * has its token refused by the other at its next request; both write to and read one audit trail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { createLogger, createRuntime, type Runtime } from '../src/main.js';
import { createTestClient, getAccessToken, TEST_ADMIN_TOKEN } from './helpers/auth.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';

const T = 'tenant-revoke';
const schema = freshSchema('revoke');
const dirs: string[] = [];
const runtimes: Runtime[] = [];
const origins: string[] = [];

beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const dataDir = mkdtempSync(join(tmpdir(), `flatfhir-revoke-${i}-`));
    dirs.push(dataDir);
    const config = loadConfig(
      {
        dataDir,
        port: 0,
        logLevel: 'silent',
        seedSandbox: false,
        databaseUrl: `${TEST_DATABASE_URL}?schema=${schema.name}`,
        export: { threads: 0 },
        auth: { adminToken: TEST_ADMIN_TOKEN, revocationCacheMs: 0 },
      },
      {},
    );
    const runtime = await createRuntime(config, { log: createLogger(config) });
    await runtime.app.listen({ port: 0, host: '127.0.0.1' });
    const address = runtime.app.server.address();
    runtimes.push(runtime);
    origins.push(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
  }
  await runtimes[0]?.store.resources.ensureTenant(T);
});

afterAll(async () => {
  for (const r of runtimes) await r.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await schema.drop();
});

describe('token revocation across API processes', () => {
  it('refuses on one process the token of a client disabled through the other, or in the store', async () => {
    const [a, b] = runtimes as [Runtime, Runtime];
    const list = (origin: string, token: string) => fetch(`${origin}/r4/${T}/bulk-export/jobs`, { headers: { authorization: `Bearer ${token}` } });

    const c1 = await createTestClient(a.store.clients, T);
    const token1 = await getAccessToken(a.auth.tokenUrl(origins[0] as string, T), c1);
    expect((await list(origins[1] as string, token1)).status).toBe(200);
    const disabled = await fetch(`${origins[0]}/admin/clients/${c1.clientId}/disable`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    expect(disabled.status).toBe(200);
    expect((await list(origins[1] as string, token1)).status).toBe(401);
    expect((await list(origins[0] as string, token1)).status).toBe(401);

    // As `flatfhir client disable` does: straight in the store, no API process told.
    const c2 = await createTestClient(a.store.clients, T);
    const token2 = await getAccessToken(b.auth.tokenUrl(origins[1] as string, T), c2);
    expect((await list(origins[0] as string, token2)).status).toBe(200);
    await b.store.clients.setClientDisabled(c2.clientId, true);
    expect((await list(origins[0] as string, token2)).status).toBe(401);
  });

  it('keeps one audit trail for both processes', async () => {
    const [a, b] = runtimes as [Runtime, Runtime];
    const c = await createTestClient(a.store.clients, T);
    await getAccessToken(b.auth.tokenUrl(origins[1] as string, T), c);
    await b.audit.flush();
    const res = await fetch(`${origins[0]}/admin/audit?client=${c.clientId}&action=token`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    const { events } = (await res.json()) as { events: { outcome: string; tenant: string }[] };
    expect(events).toEqual([expect.objectContaining({ outcome: 'success', tenant: T })]);
  });
});
