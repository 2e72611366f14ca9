/**
 * The console's session: the admin credential exchanged for an HttpOnly SameSite=Strict cookie, the CSRF header
 * on every unsafe request, logout, expiry; the console is off (404) without an admin credential. Real HTTP, no
 * browser; the SessionStore contract runs over SQLite and PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../src/store/ports.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';
import { startServer, type TestServer } from './helpers/server.js';

const ADMIN = 'console-admin-credential-0123456789';

describe('console session over HTTP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ auth: { adminToken: ADMIN } }, { worker: false });
  });
  afterAll(async () => server?.close());

  const login = async (token: string) =>
    fetch(`${server.origin}/admin/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });

  it('serves the console page and its assets', async () => {
    const page = await fetch(`${server.origin}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('app.js');
    const script = await fetch(`${server.origin}/console/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    const bare = await fetch(`${server.origin}/console`, { redirect: 'manual' });
    expect(bare.status).toBe(302);
    expect(bare.headers.get('location')).toBe('/console/');
  });

  it('refuses a wrong credential and bad bodies with OperationOutcomes', async () => {
    const wrong = await login('not-the-admin-credential');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect(((await wrong.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    const bad = await fetch(`${server.origin}/admin/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1]' });
    expect(bad.status).toBe(400);
    expect((await fetch(`${server.origin}/admin/session`)).status).toBe(401);
  });

  it('logs in to an HttpOnly SameSite=Strict cookie that opens the admin API, with CSRF on changes, until logout', async () => {
    const res = await login(ADMIN);
    expect(res.status).toBe(200);
    const { csrfToken, expiresAt } = (await res.json()) as { csrfToken: string; expiresAt: string };
    expect(csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now() + 60 * 60 * 1000);
    const setCookie = res.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^flatfhir_console=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toMatch(/Max-Age=\d+/);
    expect(setCookie).not.toContain('Secure');
    const cookie = setCookie.split(';')[0] as string;
    // The store keeps a digest of the cookie, never the cookie itself.
    const secret = cookie.split('=')[1] as string;
    expect(await server.runtime.store.sessions.getSession(secret, Date.now())).toBeUndefined();

    const session = await fetch(`${server.origin}/admin/session`, { headers: { cookie } });
    expect(((await session.json()) as { csrfToken: string }).csrfToken).toBe(csrfToken);
    expect((await fetch(`${server.origin}/admin/clients`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${server.origin}/admin/stats`, { headers: { cookie } })).status).toBe(200);
    const types = (await (await fetch(`${server.origin}/admin/export-types`, { headers: { cookie } })).json()) as { types: string[] };
    expect(types.types).toContain('Patient');
    expect(types.types).toContain('Observation');

    const body = JSON.stringify({ tenant: 'console-t', scope: 'system/Patient.rs', jwks_url: 'https://example.org/jwks.json' });
    const headers = { cookie, 'content-type': 'application/json' };
    const noCsrf = await fetch(`${server.origin}/admin/clients`, { method: 'POST', headers, body });
    expect(noCsrf.status).toBe(403);
    const wrongCsrf = await fetch(`${server.origin}/admin/clients`, { method: 'POST', headers: { ...headers, 'x-csrf-token': 'x'.repeat(43) }, body });
    expect(wrongCsrf.status).toBe(403);
    expect((await server.runtime.store.clients.listClients('console-t')).length).toBe(0);
    const ok = await fetch(`${server.origin}/admin/clients`, { method: 'POST', headers: { ...headers, 'x-csrf-token': csrfToken }, body });
    expect(ok.status).toBe(201);

    const noCsrfLogout = await fetch(`${server.origin}/admin/session`, { method: 'DELETE', headers: { cookie } });
    expect(noCsrfLogout.status).toBe(403);
    const out = await fetch(`${server.origin}/admin/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrfToken } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^flatfhir_console=; .*Max-Age=0/);
    expect((await fetch(`${server.origin}/admin/clients`, { headers: { cookie } })).status).toBe(401);
    expect((await fetch(`${server.origin}/admin/stats`, { headers: { cookie } })).status).toBe(401);
  });

  it('still takes the bearer admin token, and refuses a forged cookie', async () => {
    expect((await fetch(`${server.origin}/admin/stats`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
    expect((await fetch(`${server.origin}/admin/stats`, { headers: { authorization: 'Bearer wrong-token' } })).status).toBe(401);
    const forged = `flatfhir_console=${'A'.repeat(43)}`;
    expect((await fetch(`${server.origin}/admin/stats`, { headers: { cookie: forged } })).status).toBe(401);
    expect((await fetch(`${server.origin}/admin/stats`)).status).toBe(401);
    await server.runtime.store.resources.ensureTenant('console-c');
    const client = await server.client('console-c');
    expect((await fetch(`${server.origin}/admin/stats`, { headers: { authorization: `Bearer ${client.token}` } })).status).toBe(403);
  });
});

describe('console without an admin credential', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({}, { worker: false });
  });
  afterAll(async () => server?.close());

  it('is off: /console/ and the session routes are 404', async () => {
    for (const path of ['/console/', '/console/app.js', '/console']) expect((await fetch(`${server.origin}${path}`)).status).toBe(404);
    const res = await fetch(`${server.origin}/admin/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token":"x"}' });
    expect(res.status).toBe(404);
  });
});

const adapters: { name: string; open(): Promise<{ store: Store; cleanup(): Promise<void> }> }[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'flatfhir-sessions-'));
      const store = openSqliteStore(join(dir, 'flatfhir.sqlite'));
      return { store, cleanup: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) };
    },
  },
  {
    name: 'postgres',
    async open() {
      const schema = freshSchema('sessions');
      const store = await openPostgresStore(TEST_DATABASE_URL, { schema: schema.name, poolSize: 2 });
      return { store, cleanup: async () => (await store.close(), await schema.drop()) };
    },
  },
];

describe.each(adapters)('SessionStore contract: $name', (adapter) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ store, cleanup } = await adapter.open());
  });
  afterAll(async () => cleanup?.());

  it('finds a session until it expires, removes it on logout and sweeps expired ones', async () => {
    const s = store.sessions;
    await s.createSession({ id: 'a'.repeat(64), csrfToken: 'csrf-a', createdAt: 1000, expiresAt: 5000 });
    await s.createSession({ id: 'b'.repeat(64), csrfToken: 'csrf-b', createdAt: 1000, expiresAt: 9000 });
    expect(await s.getSession('a'.repeat(64), 4999)).toEqual({ id: 'a'.repeat(64), csrfToken: 'csrf-a', createdAt: 1000, expiresAt: 5000 });
    expect(await s.getSession('a'.repeat(64), 5000)).toBeUndefined();
    expect(await s.getSession('c'.repeat(64), 10)).toBeUndefined();
    expect(await s.deleteExpiredSessions(6000)).toBe(1);
    expect(await s.getSession('b'.repeat(64), 6000)).toMatchObject({ csrfToken: 'csrf-b' });
    expect(await s.deleteSession('b'.repeat(64))).toBe(true);
    expect(await s.deleteSession('b'.repeat(64))).toBe(false);
    expect(await s.getSession('b'.repeat(64), 6000)).toBeUndefined();
  });
});
