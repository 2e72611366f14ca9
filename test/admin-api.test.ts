import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './helpers/server.js';

const ADMIN = 'admin-token-for-the-admin-api-tests';
const T = 'admin-api';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ auth: { adminToken: ADMIN } });
  await server.runtime.store.resources.ensureTenant(T);
});

afterAll(async () => {
  await server?.close();
});

interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, { tags?: string[]; parameters?: { in: string; name: string }[] }>>;
  components: { securitySchemes: Record<string, unknown> };
}

const call = (path: string, method: string, token: string | null, body?: unknown): Promise<Response> =>
  fetch(`${server.origin}${path}`, {
    method,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

async function outcome(res: Response): Promise<{ code: string | undefined; diagnostics: string | undefined }> {
  expect(res.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
  const body = (await res.json()) as { resourceType: string; issue: { code: string; diagnostics?: string }[] };
  expect(body.resourceType).toBe('OperationOutcome');
  return { code: body.issue[0]?.code, diagnostics: body.issue[0]?.diagnostics };
}

/** Every route of the OpenAPI description, its path parameters filled in. */
async function routes(): Promise<{ method: string; path: string }[]> {
  const doc = (await (await call('/admin/openapi.json', 'GET', ADMIN)).json()) as OpenApi;
  const out: { method: string; path: string }[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const method of Object.keys(methods)) out.push({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, 'x1') });
  }
  return out;
}

describe('admin API framework', () => {
  it('serves an OpenAPI 3 description of every admin route, behind the admin token', async () => {
    const res = await call('/admin/openapi.json', 'GET', ADMIN);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as OpenApi;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes['adminToken']).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(Object.keys(doc.paths)).toContain('/admin/clients');
    expect(Object.keys(doc.paths)).toContain('/admin/clients/{id}');
    expect(Object.keys(doc.paths)).not.toContain('/admin/openapi.json');
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) expect(op.tags?.length, `${method} ${path} has a tag`).toBeGreaterThan(0);
    }
    expect((await call('/admin/openapi.json', 'GET', null)).status).toBe(401);
  });

  it('refuses every admin route a missing or wrong admin token (401) and a client access token (403)', async () => {
    const client = await server.client(T);
    const all = await routes();
    expect(all.length).toBeGreaterThan(5);
    for (const { method, path } of [...all, { method: 'GET', path: '/admin/openapi.json' }]) {
      const body = method === 'POST' || method === 'PUT' || method === 'PATCH' ? {} : undefined;
      const missing = await call(path, method, null, body);
      expect(missing.status, `${method} ${path} without a token`).toBe(401);
      expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await outcome(missing)).code).toBe('login');
      const wrong = await call(path, method, 'not-the-admin-token-at-all', body);
      expect(wrong.status, `${method} ${path} with a wrong token`).toBe(401);
      await wrong.arrayBuffer();
      const asClient = await call(path, method, client.token, body);
      expect(asClient.status, `${method} ${path} with a client token`).toBe(403);
      expect((await outcome(asClient)).code).toBe('forbidden');
    }
  });

  it('answers a body that does not match the schema with a 400 OperationOutcome, never a 500', async () => {
    const notJson = await fetch(`${server.origin}/admin/clients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: '{"tenant":',
    });
    expect(notJson.status).toBe(400);
    expect((await outcome(notJson)).code).toBe('invalid');
    const badParam = await call(`/admin/clients/${'x'.repeat(300)}`, 'GET', ADMIN);
    expect(badParam.status).toBe(400);
    expect((await outcome(badParam)).code).toBe('invalid');
  });

  it('does not exist without an admin token', async () => {
    const off = await startServer();
    try {
      for (const path of ['/admin/openapi.json', '/admin/clients']) {
        const res = await fetch(`${off.origin}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
        expect(res.status).toBe(404);
        expect((await outcome(res)).code).toBe('not-found');
      }
    } finally {
      await off.close();
    }
  });
});
