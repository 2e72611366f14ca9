import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureSandboxClient, sandboxClientFile, type SandboxClientFile } from '../src/auth/sandbox-client.js';
import { createAuthService } from '../src/auth/service.js';
import { rotateSigningKey } from '../src/auth/signing-keys.js';
import { loadConfig } from '../src/config/index.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { FileKeyStore } from '../src/store/sqlite/key-files.js';
import { createTestClient, getAccessToken, startAuthServer, type TestClient } from './helpers/auth.js';

const T = 'tenant-keys';
let dir: string;
const signingKeyFile = (dataDir: string): string => join(dataDir, 'keys', 'signing-keys.json');
const fileKeys = (dataDir: string): FileKeyStore => new FileKeyStore(join(dataDir, 'keys'));

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flatfhir-keys-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const newService = async (dataDir: string, now?: () => number) => {
  const store = openSqliteStore(join(dataDir, 'other.sqlite'));
  const auth = await createAuthService({
    config: loadConfig({ dataDir, port: 0, logLevel: 'silent' }, {}),
    keys: store.keys,
    clients: store.clients,
    tenants: async () => [T],
    log: pino({ level: 'silent' }),
    ...(now ? { now } : {}),
  });
  return { auth, close: () => store.close() };
};

describe('access-token signing keys', () => {
  it('are generated on first start under <dataDir>/keys (mode 0600) and shared by every instance on the data dir', async () => {
    const server = await startAuthServer({ tenants: [T], dataDir: dir });
    const other = await newService(dir);
    try {
      const file = signingKeyFile(dir);
      expect(file).toBe(join(dir, 'keys', 'signing-keys.json'));
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const c = await createTestClient(server.store.clients, T);
      const accessToken = await getAccessToken(server.tokenUrl(T), c);
      const caller = await other.auth.authenticate(T, `Bearer ${accessToken}`);
      expect(caller.clientId).toBe(c.clientId);
      expect(caller.tenant).toBe(T);
      expect(caller.canRead('Observation')).toBe(true);
      // The server restarted on the same data dir keeps its key.
      await server.close();
      const again = await startAuthServer({ tenants: [T], dataDir: dir });
      try {
        expect((await again.auth.authenticate(T, `Bearer ${accessToken}`)).clientId).toBe(c.clientId);
      } finally {
        await again.close();
      }
    } finally {
      await server.close();
      await other.close();
    }
  });

  it('agree on one key when several processes start at once', async () => {
    const services = await Promise.all([newService(dir), newService(dir), newService(dir)]);
    const keys = JSON.parse(await readFile(signingKeyFile(dir), 'utf8')) as { keys: unknown[] };
    expect(keys.keys).toHaveLength(1);
    await Promise.all(services.map((s) => s.close()));
  });

  it('rotate: old tokens stay valid until they expire, new tokens use the new kid', async () => {
    const server = await startAuthServer({ tenants: [T], dataDir: dir });
    const before = await newService(dir);
    try {
      const c: TestClient = await createTestClient(server.store.clients, T);
      const oldToken = await getAccessToken(server.tokenUrl(T), c);
      const oldKid = decodeProtectedHeader(oldToken).kid;

      const { kid: newKid } = await rotateSigningKey(fileKeys(dir));
      expect(newKid).not.toBe(oldKid);
      const newToken = await getAccessToken(server.tokenUrl(T), c);
      expect(decodeProtectedHeader(newToken).kid).toBe(newKid);

      // Verified by the running server, by an instance loaded before the rotation and by a fresh one.
      const fresh = await newService(dir);
      try {
        for (const svc of [server.auth, before.auth, fresh.auth]) {
          expect((await svc.authenticate(T, `Bearer ${oldToken}`)).clientId).toBe(c.clientId);
          expect((await svc.authenticate(T, `Bearer ${newToken}`)).clientId).toBe(c.clientId);
        }
      } finally {
        await fresh.close();
      }
      const res = await fetch(`${server.fhirBase(T)}/Patient/x`, { headers: { authorization: `Bearer ${oldToken}` } });
      expect(res.status).toBe(200);
    } finally {
      await server.close();
      await before.close();
    }
  });

  it('rotation retires keys replaced long ago', async () => {
    await newService(dir).then((s) => s.close());
    const first = ((JSON.parse(await readFile(signingKeyFile(dir), 'utf8')) as { keys: { kid: string }[] }).keys[0] as { kid: string }).kid;
    const second = await rotateSigningKey(fileKeys(dir));
    expect(second.retired).toEqual([]);
    const third = await rotateSigningKey(fileKeys(dir), { now: () => Date.now() + 2 * 24 * 3600 * 1000 });
    expect(third.retired).toEqual([first]);
    const kids = (JSON.parse(await readFile(signingKeyFile(dir), 'utf8')) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    expect(kids).toEqual([second.kid, third.kid]);
    expect((await stat(signingKeyFile(dir))).mode & 0o777).toBe(0o600);
  });
});

describe('ensureSandboxClient', () => {
  it('writes a usable sandbox-client.json (0600) and keeps the client on later calls', async () => {
    const server = await startAuthServer({ tenants: [T], dataDir: dir });
    try {
      const options = { clients: server.store.clients, dataDir: dir, tenant: T, fhirBaseUrl: server.fhirBase(T), tokenUrl: server.tokenUrl(T) };
      const clientId = await ensureSandboxClient(options);
      const file = sandboxClientFile(dir);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const content = JSON.parse(await readFile(file, 'utf8')) as SandboxClientFile;
      expect(content).toMatchObject({ tenant: T, fhirBaseUrl: server.fhirBase(T), tokenUrl: server.tokenUrl(T), clientId, scope: 'system/*.rs' });
      expect(typeof content.privateJwk.kid).toBe('string');
      expect(['ES384', 'RS384']).toContain(content.privateJwk.alg);
      const registered = await server.store.clients.getClient(clientId);
      expect(registered?.scope).toBe('system/*.rs');
      expect(registered?.jwks?.keys).toHaveLength(1);
      expect(registered?.jwks?.keys[0]).not.toHaveProperty('d');

      // A real token with the file's key.
      const jwk = content.privateJwk as JWK & { alg: 'ES384' | 'RS384'; kid: string };
      const sandbox: TestClient = { clientId, kid: jwk.kid, alg: jwk.alg, privateKey: (await importJWK(jwk, jwk.alg)) as TestClient['privateKey'] };
      const accessToken = await getAccessToken(content.tokenUrl, sandbox);
      const res = await fetch(`${content.fhirBaseUrl}/Patient/x`, { headers: { authorization: `Bearer ${accessToken}` } });
      expect(res.status).toBe(200);

      // Later calls keep the client and refresh the URLs.
      expect(await ensureSandboxClient({ ...options, fhirBaseUrl: 'https://new.example/r4/x', tokenUrl: 'https://new.example/token' })).toBe(clientId);
      const refreshed = JSON.parse(await readFile(file, 'utf8')) as SandboxClientFile;
      expect(refreshed).toMatchObject({ clientId, fhirBaseUrl: 'https://new.example/r4/x', tokenUrl: 'https://new.example/token' });
      expect(refreshed.privateJwk).toEqual(content.privateJwk);
      expect((await server.store.clients.listClients(T)).length).toBe(1);

      // A new database: the same key is registered again under the same id.
      const fresh = openSqliteStore(join(dir, 'fresh.sqlite'));
      try {
        expect(await ensureSandboxClient({ ...options, clients: fresh.clients })).toBe(clientId);
        expect((await fresh.clients.getClient(clientId))?.jwks?.keys[0]?.['kid']).toBe(jwk.kid);
      } finally {
        await fresh.close();
      }
    } finally {
      await server.close();
    }
  });
});
