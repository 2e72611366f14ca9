import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ClientStoreOptions, clientCommand } from '../src/cli/client-command.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import {
  type AuthTestServer,
  generateClientKey,
  getAccessToken,
  postForm,
  signAssertion,
  startAuthServer,
  TEST_ADMIN_TOKEN,
  type TestClient,
  tokenForm,
} from './helpers/auth.js';
import type { ClientView } from '../src/manage/views.js';

const T = 'tenant-admin';

let server: AuthTestServer;

beforeAll(async () => {
  server = await startAuthServer({ tenants: [T] });
});

afterAll(async () => {
  await server?.close();
});

const admin = (path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> => {
  const { token = TEST_ADMIN_TOKEN, headers, ...rest } = init;
  return fetch(`${server.origin}${path}`, {
    ...rest,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(headers as Record<string, string> | undefined) },
  });
};

const postJson = (path: string, body: unknown): Promise<Response> =>
  admin(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function outcomeCode(res: Response): Promise<string | undefined> {
  expect(res.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
  const body = (await res.json()) as { resourceType: string; issue: { code: string }[] };
  expect(body.resourceType).toBe('OperationOutcome');
  return body.issue[0]?.code;
}

describe('admin API', () => {
  it('does not exist when no admin token is configured', async () => {
    const off = await startAuthServer({ tenants: [T], adminToken: null });
    try {
      const res = await fetch(`${off.origin}/admin/clients`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
      expect(res.status).toBe(404);
      expect(await outcomeCode(res)).toBe('not-found');
    } finally {
      await off.close();
    }
  });

  it('answers a missing or wrong admin token with 401', async () => {
    const missing = await admin('/admin/clients', { token: null });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await outcomeCode(missing)).toBe('login');
    const wrong = await admin('/admin/clients', { token: 'wrong-token-wrong-token' });
    expect(wrong.status).toBe(401);
    expect(await outcomeCode(wrong)).toBe('login');
    const wrongPost = await admin('/admin/clients', { token: 'x', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(wrongPost.status).toBe(401);
  });

  it('registers, lists, shows, disables, enables and removes clients', async () => {
    const key = await generateClientKey('ES384');
    const created = await postJson('/admin/clients', { tenant: T, scope: 'system/*.rs', name: 'Admin app', jwks: { keys: [key.publicJwk] } });
    expect(created.status).toBe(201);
    const client = (await created.json()) as ClientView;
    expect(client.client_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(client).toMatchObject({ tenant: T, name: 'Admin app', scope: 'system/*.rs', jwks_url: null, disabled: false });
    expect(created.headers.get('location')).toBe(`/admin/clients/${client.client_id}`);

    const tc: TestClient = { clientId: client.client_id, privateKey: key.privateKey, kid: key.kid, alg: 'ES384' };
    const tokenUrl = server.tokenUrl(T);
    await getAccessToken(tokenUrl, tc);

    const list = (await (await admin(`/admin/clients?tenant=${T}`)).json()) as { clients: ClientView[] };
    expect(list.clients.map((c) => c.client_id)).toContain(client.client_id);
    const otherTenant = (await (await admin('/admin/clients?tenant=elsewhere')).json()) as { clients: ClientView[] };
    expect(otherTenant.clients).toEqual([]);

    const shown = await admin(`/admin/clients/${client.client_id}`);
    expect(shown.status).toBe(200);
    expect(((await shown.json()) as ClientView).client_id).toBe(client.client_id);

    const disabled = await admin(`/admin/clients/${client.client_id}/disable`, { method: 'POST' });
    expect(disabled.status).toBe(200);
    expect(((await disabled.json()) as ClientView).disabled).toBe(true);
    const refused = await postForm(tokenUrl, tokenForm(await signAssertion(tc, tokenUrl)));
    expect(refused.status).toBe(401);

    const enabled = await admin(`/admin/clients/${client.client_id}/enable`, { method: 'POST' });
    expect(((await enabled.json()) as ClientView).disabled).toBe(false);
    await getAccessToken(tokenUrl, tc);

    const removed = await admin(`/admin/clients/${client.client_id}`, { method: 'DELETE' });
    expect(removed.status).toBe(204);
    expect((await admin(`/admin/clients/${client.client_id}`)).status).toBe(404);
    expect((await admin(`/admin/clients/${client.client_id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await admin(`/admin/clients/${client.client_id}/disable`, { method: 'POST' })).status).toBe(404);
    const gone = await postForm(tokenUrl, tokenForm(await signAssertion(tc, tokenUrl)));
    expect(gone.status).toBe(401);
  });

  it('registers a client with a JWKS URL', async () => {
    const res = await postJson('/admin/clients', { tenant: T, scope: 'system/Patient.read', jwks_url: 'https://app.example.org/.well-known/jwks.json' });
    expect(res.status).toBe(201);
    const c = (await res.json()) as ClientView;
    expect(c.jwks_url).toBe('https://app.example.org/.well-known/jwks.json');
    expect(c.jwks).toBeNull();
  });

  it('validates registrations', async () => {
    const { privateKey } = await generateKeyPair('ES384', { extractable: true });
    const privateJwk = { ...(await exportJWK(privateKey)), kid: 'k1' };
    const { publicJwk } = await generateClientKey('ES384');
    const { publicKey: p256 } = await generateKeyPair('ES256', { extractable: true });
    const cases: [string, unknown][] = [
      ['private key material', { tenant: T, scope: 'system/*.rs', jwks: { keys: [privateJwk] } }],
      ['symmetric key', { tenant: T, scope: 'system/*.rs', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 's' }] } }],
      ['key without kid', { tenant: T, scope: 'system/*.rs', jwks: { keys: [{ ...publicJwk, kid: undefined }] } }],
      ['P-256 key', { tenant: T, scope: 'system/*.rs', jwks: { keys: [{ ...(await exportJWK(p256)), kid: 'p' }] } }],
      ['empty JWKS', { tenant: T, scope: 'system/*.rs', jwks: { keys: [] } }],
      ['write scope', { tenant: T, scope: 'system/*.cruds', jwks: { keys: [publicJwk] } }],
      ['patient scope', { tenant: T, scope: 'patient/*.read', jwks: { keys: [publicJwk] } }],
      ['unknown type', { tenant: T, scope: 'system/Nope.read', jwks: { keys: [publicJwk] } }],
      ['no scope', { tenant: T, jwks: { keys: [publicJwk] } }],
      ['no tenant', { scope: 'system/*.rs', jwks: { keys: [publicJwk] } }],
      ['bad tenant', { tenant: '../x', scope: 'system/*.rs', jwks: { keys: [publicJwk] } }],
      ['both key sources', { tenant: T, scope: 'system/*.rs', jwks: { keys: [publicJwk] }, jwks_url: 'https://a.example/jwks' }],
      ['no key source', { tenant: T, scope: 'system/*.rs' }],
      ['bad URL', { tenant: T, scope: 'system/*.rs', jwks_url: 'ftp://a.example/jwks' }],
      ['not an object', [1, 2]],
    ];
    for (const [label, body] of cases) {
      const res = await postJson('/admin/clients', body);
      expect(res.status, label).toBe(400);
      expect(await outcomeCode(res), label).toBe('invalid');
    }
  });
});

describe('flatfhir client (CLI)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flatfhir-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the command against a SQLite store under opts.data (or the server's store), capturing stdout. */
  async function run(args: string[], useServerStore = false): Promise<{ out: string; opened: ClientStoreOptions[] }> {
    const opened: ClientStoreOptions[] = [];
    let out = '';
    const cmd = clientCommand(
      async (opts) => {
        opened.push(opts);
        if (useServerStore) return { clients: server.store.clients, tenants: () => server.store.resources.listTenants(), close: async () => {} };
        const store = openSqliteStore(join(opts.data ?? dir, 'cli.sqlite'));
        await store.resources.ensureTenant(T);
        return { clients: store.clients, tenants: () => store.resources.listTenants(), close: () => store.close() };
      },
      { stdout: { write: (s: string) => (out += s) } },
    );
    quiet(cmd);
    await cmd.parseAsync(args, { from: 'user' });
    return { out, opened };
  }

  function quiet(cmd: Command): void {
    cmd.exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
    for (const sub of cmd.commands) quiet(sub);
  }

  it('registers a client from a JWKS file, passing --data to the store factory, and prints its client_id', async () => {
    const key = await generateClientKey('RS384');
    const file = join(dir, 'jwks.json');
    await writeFile(file, JSON.stringify({ keys: [key.publicJwk] }));
    const { out, opened } = await run(['--data', dir, 'register', '--tenant', T, '--jwks-file', file, '--scope', 'system/*.rs', '--name', 'CLI app']);
    expect(opened).toEqual([{ data: dir }]);
    const c = JSON.parse(out) as ClientView;
    expect(c.client_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(c).toMatchObject({ tenant: T, name: 'CLI app', scope: 'system/*.rs', disabled: false });

    const listed = JSON.parse((await run(['list', '--json', '--data', dir])).out) as ClientView[];
    expect(listed.map((x) => x.client_id)).toEqual([c.client_id]);
    await expect(run(['list', '--tenant', 'other', '--data', dir])).rejects.toThrow(/no tenant other/);
    expect((JSON.parse((await run(['show', c.client_id, '--data', dir])).out) as ClientView).name).toBe('CLI app');
    expect((JSON.parse((await run(['disable', c.client_id, '--data', dir])).out) as ClientView).disabled).toBe(true);
    expect((JSON.parse((await run(['enable', c.client_id, '--data', dir])).out) as ClientView).disabled).toBe(false);
    expect(JSON.parse((await run(['remove', c.client_id, '--data', dir])).out)).toEqual({ client_id: c.client_id, removed: true });
    await expect(run(['show', c.client_id, '--data', dir])).rejects.toThrow(/No client/);
    await expect(run(['remove', c.client_id, '--data', dir])).rejects.toThrow(/No client/);
  });

  it('passes --database-url to the store factory', async () => {
    const { opened } = await run(['list', '--database-url', 'postgres://x@127.0.0.1/y', '--data', dir]);
    expect(opened).toEqual([{ data: dir, databaseUrl: 'postgres://x@127.0.0.1/y' }]);
  });

  it('registers a JWKS-URL client and writes to stdout by default', async () => {
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let printed = '';
    try {
      const cmd = clientCommand(async () => ({ clients: server.store.clients, tenants: () => server.store.resources.listTenants(), close: async () => {} }));
      quiet(cmd);
      await cmd.parseAsync(['register', '--tenant', T, '--jwks-url', 'https://app.example.org/jwks.json', '--scope', 'system/Observation.rs'], { from: 'user' });
      printed = spy.mock.calls.map((c) => String(c[0])).join('');
    } finally {
      spy.mockRestore();
    }
    const c = JSON.parse(printed) as ClientView;
    expect(c.jwks_url).toBe('https://app.example.org/jwks.json');
    expect(c.scope).toBe('system/Observation.rs');
  });

  it('registers with an inline single JWK file; the client gets tokens', async () => {
    const key = await generateClientKey('ES384');
    const file = join(dir, 'one-key.json');
    await writeFile(file, JSON.stringify(key.publicJwk));
    const { out } = await run(['register', '--tenant', T, '--jwks-file', file, '--scope', 'system/*.read'], true);
    const c = JSON.parse(out) as ClientView;
    const accessToken = await getAccessToken(server.tokenUrl(T), { clientId: c.client_id, privateKey: key.privateKey, kid: key.kid, alg: 'ES384' }, 'system/*.read');
    expect(accessToken.split('.')).toHaveLength(3);
  });

  it('refuses invalid registrations', async () => {
    const { privateKey } = await generateKeyPair('ES384', { extractable: true });
    const file = join(dir, 'private.json');
    await writeFile(file, JSON.stringify({ keys: [{ ...(await exportJWK(privateKey)), kid: 'k' }] }));
    await expect(run(['register', '--tenant', T, '--jwks-file', file, '--scope', 'system/*.rs', '--data', dir])).rejects.toThrow(/private key material/);
    await expect(run(['register', '--tenant', T, '--jwks-url', 'https://a.example/j', '--scope', 'system/*.write', '--data', dir])).rejects.toThrow(/scope/);
    await expect(
      run(['register', '--tenant', T, '--jwks-url', 'https://a.example/j', '--jwks-file', file, '--scope', 'system/*.rs', '--data', dir]),
    ).rejects.toThrow(/exactly one/);
    await expect(run(['register', '--tenant', T, '--jwks-file', join(dir, 'missing.json'), '--scope', 'system/*.rs', '--data', dir])).rejects.toThrow(/Cannot read/);
    await expect(run(['register', '--jwks-url', 'https://a.example/j', '--scope', 'system/*.rs', '--data', dir])).rejects.toThrow(/tenant/);
  });

  it('has --help on every subcommand', async () => {
    const cmd = clientCommand(async () => {
      throw new Error('not used');
    });
    expect(cmd.commands.map((c) => c.name()).sort()).toEqual(['disable', 'enable', 'list', 'register', 'remove', 'show']);
    for (const sub of ['register', 'list', 'show', 'disable', 'enable', 'remove']) {
      let help = '';
      const c = clientCommand(async () => {
        throw new Error('not used');
      });
      c.exitOverride().configureOutput({ writeOut: (s) => (help += s), writeErr: () => {} });
      for (const s of c.commands) s.exitOverride().configureOutput({ writeOut: (s2) => (help += s2), writeErr: () => {} });
      await expect(c.parseAsync([sub, '--help'], { from: 'user' })).rejects.toMatchObject({ code: 'commander.helpDisplayed' });
      expect(help, sub).toContain(`client ${sub}`);
    }
    expect(cmd.helpInformation()).toContain('--database-url');
  });
});
