import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AuthTestServer,
  createTestClient,
  generateClientKey,
  getAccessToken,
  postForm,
  signAssertion,
  startAuthServer,
  type TestClient,
  tokenForm,
} from './helpers/auth.js';

const T = 'tenant-a';
const T2 = 'tenant-b';

interface OAuthBody {
  error?: string;
  error_description?: string;
  access_token?: string;
  token_type?: string;
  expires_in?: number;
  scope?: string;
  refresh_token?: string;
}

/** A local JWKS host that records every request path. */
interface JwksHost {
  url(path: string): string;
  requests: string[];
  setJwks(path: string, jwks: unknown, cacheControl?: string): void;
  close(): Promise<void>;
}

async function startJwksHost(): Promise<JwksHost> {
  const docs = new Map<string, { body: string; cacheControl: string | undefined }>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const doc = docs.get(req.url ?? '');
    if (!doc) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', ...(doc.cacheControl ? { 'cache-control': doc.cacheControl } : {}) });
    res.end(doc.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    setJwks(path, jwks, cacheControl) {
      docs.set(path, { body: JSON.stringify(jwks), cacheControl });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let server: AuthTestServer;
let jwksHost: JwksHost;
let tokenUrl: string;
let client: TestClient;

const token = async (assertion: string, scope = 'system/*.rs', url = tokenUrl): Promise<{ status: number; body: OAuthBody; res: Response }> => {
  const res = await postForm(url, tokenForm(assertion, scope));
  return { status: res.status, body: (await res.json()) as OAuthBody, res };
};

const expectInvalidClient = async (assertion: string, scope?: string): Promise<OAuthBody> => {
  const r = await token(assertion, scope);
  expect(r.status).toBe(401);
  expect(r.body.error).toBe('invalid_client');
  expect(r.body.access_token).toBeUndefined();
  expect(r.res.headers.get('cache-control')).toBe('no-store');
  return r.body;
};

const readPatient = (tenant: string, accessToken?: string): Promise<Response> =>
  fetch(`${server.fhirBase(tenant)}/Patient/p1`, {
    headers: { accept: 'application/fhir+json', ...(accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` }) },
  });

beforeAll(async () => {
  // This suite fails many token requests on purpose: the failure throttle is tested on a server of its own below.
  server = await startAuthServer({
    tenants: [T, T2],
    config: { auth: { failedTokenRequestsPerMinute: 10_000, failedTokenRequestsPerAddressPerMinute: 10_000 } },
  });
  jwksHost = await startJwksHost();
  tokenUrl = server.tokenUrl(T);
  client = await createTestClient(server.store.clients, T);
});

afterAll(async () => {
  await server?.close();
  await jwksHost?.close();
});

describe('discovery', () => {
  it('serves .well-known/smart-configuration as application/json whatever the Accept', async () => {
    const res = await fetch(`${server.fhirBase(T)}/.well-known/smart-configuration`, { headers: { accept: 'application/fhir+json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body['token_endpoint']).toBe(`${server.origin}/tenants/${T}/protocols/oauth2/profiles/smart-v1/token`);
    expect(body['grant_types_supported']).toContain('client_credentials');
    expect(body['token_endpoint_auth_methods_supported']).toContain('private_key_jwt');
    expect(body['token_endpoint_auth_signing_alg_values_supported']).toEqual(['RS384', 'ES384']);
    expect(body['scopes_supported']).toEqual(expect.arrayContaining(['system/*.read', 'system/*.rs', 'system/Group.cd']));
    expect(body['capabilities']).toEqual(expect.arrayContaining(['client-confidential-asymmetric', 'permission-v1', 'permission-v2']));
  });

  it('answers an unknown tenant with a 403 OperationOutcome', async () => {
    const res = await fetch(`${server.fhirBase('nope')}/.well-known/smart-configuration`);
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    const body = (await res.json()) as { resourceType: string; issue: { code: string }[] };
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0]?.code).toBe('forbidden');
  });

  it('advertises the public base URL behind a reverse proxy, and aud must match it', async () => {
    const proxied = await startAuthServer({ tenants: [T], config: { publicBaseUrl: 'https://fhir.example.org/' } });
    try {
      const res = await fetch(`${proxied.origin}/r4/${T}/.well-known/smart-configuration`);
      const advertised = ((await res.json()) as { token_endpoint: string }).token_endpoint;
      expect(advertised).toBe(`https://fhir.example.org/tenants/${T}/protocols/oauth2/profiles/smart-v1/token`);
      const c = await createTestClient(proxied.store.clients, T);
      const local = proxied.tokenUrl(T);
      const ok = await postForm(local, tokenForm(await signAssertion(c, advertised)));
      expect(ok.status).toBe(200);
      const accessToken = ((await ok.json()) as OAuthBody).access_token ?? '';
      expect(decodeJwt(accessToken).iss).toBe('https://fhir.example.org');
      const bad = await postForm(local, tokenForm(await signAssertion(c, local)));
      expect(bad.status).toBe(401);
    } finally {
      await proxied.close();
    }
  });
});

describe('token endpoint: success', () => {
  it('issues a bearer token for an ES384 assertion, with no-store headers and no refresh token', async () => {
    const r = await token(await signAssertion(client, tokenUrl));
    expect(r.status).toBe(200);
    expect(r.res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.res.headers.get('cache-control')).toBe('no-store');
    expect(r.res.headers.get('pragma')).toBe('no-cache');
    expect(r.body.token_type).toBe('bearer');
    expect(r.body.expires_in).toBeGreaterThan(0);
    expect(r.body.expires_in).toBeLessThanOrEqual(300);
    expect(r.body.scope).toBe('system/*.rs');
    expect(r.body.refresh_token).toBeUndefined();
    const claims = decodeJwt(r.body.access_token ?? '');
    expect(claims.iss).toBe(server.origin);
    expect(claims.aud).toBe(server.fhirBase(T));
    expect(claims.sub).toBe(client.clientId);
    expect(claims['tenant']).toBe(T);
    expect(claims['scope']).toBe('system/*.rs');
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(r.body.expires_in);
    expect((await readPatient(T, r.body.access_token)).status).toBe(200);
  });

  it('accepts RS384', async () => {
    const rsa = await createTestClient(server.store.clients, T, 'system/*.rs', { alg: 'RS384' });
    const r = await token(await signAssertion(rsa, tokenUrl));
    expect(r.status).toBe(200);
    expect((await readPatient(T, r.body.access_token)).status).toBe(200);
  });

  it('accepts exp exactly 300 s ahead without iat', async () => {
    const now = Math.floor(Date.now() / 1000);
    const r = await token(await signAssertion(client, tokenUrl, { now, claims: { exp: now + 300, iat: undefined } }));
    expect(r.status).toBe(200);
  });

  it('accepts a matching client_id parameter and an iat in the past', async () => {
    const now = Math.floor(Date.now() / 1000);
    const assertion = await signAssertion(client, tokenUrl, { claims: { iat: now - 10 } });
    const res = await postForm(tokenUrl, { ...tokenForm(assertion), client_id: client.clientId });
    expect(res.status).toBe(200);
  });
});

describe('token endpoint: client authentication failures are invalid_client', () => {
  it('rejects a wrong aud', async () => {
    await expectInvalidClient(await signAssertion(client, `${tokenUrl}/`));
    await expectInvalidClient(await signAssertion(client, server.fhirBase(T)));
    await expectInvalidClient(await signAssertion(client, server.tokenUrl(T2)));
  });

  it('rejects a wrong iss or sub', async () => {
    await expectInvalidClient(await signAssertion(client, tokenUrl, { claims: { iss: randomUUID() } }));
    await expectInvalidClient(await signAssertion(client, tokenUrl, { claims: { sub: randomUUID() } }));
    await expectInvalidClient(await signAssertion(client, tokenUrl, { claims: { sub: undefined } }));
  });

  it('rejects an unknown client', async () => {
    const ghost: TestClient = { ...client, clientId: randomUUID() };
    await expectInvalidClient(await signAssertion(ghost, tokenUrl));
  });

  it('rejects a client of another tenant at this tenant token endpoint', async () => {
    const other = await createTestClient(server.store.clients, T2);
    await expectInvalidClient(await signAssertion(other, tokenUrl));
  });

  it('rejects an unknown kid, a missing kid, and a registered kid signed with another key', async () => {
    await expectInvalidClient(await signAssertion(client, tokenUrl, { header: { kid: 'not-registered' } }));
    await expectInvalidClient(await signAssertion(client, tokenUrl, { header: { kid: undefined } }));
    const { privateKey } = await generateKeyPair('ES384');
    const body = await expectInvalidClient(await signAssertion(client, tokenUrl, { key: privateKey }));
    expect(body.error_description).toMatch(/signature/);
  });

  it('rejects an expired or far-future exp, and a missing exp or jti', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectInvalidClient(await signAssertion(client, tokenUrl, { claims: { exp: now - 120 } }));
    await expectInvalidClient(await signAssertion(client, tokenUrl, { claims: { exp: now + 600 } }));
    await expectInvalidClient(await signAssertion(client, tokenUrl, { claims: { exp: undefined } }));
    await expectInvalidClient(await signAssertion(client, tokenUrl, { claims: { jti: undefined } }));
    await expectInvalidClient(await signAssertion(client, tokenUrl, { claims: { iat: now + 3600 } }));
  });

  it('rejects a replayed jti', async () => {
    const jti = randomUUID();
    expect((await token(await signAssertion(client, tokenUrl, { claims: { jti } }))).status).toBe(200);
    const body = await expectInvalidClient(await signAssertion(client, tokenUrl, { claims: { jti } }));
    expect(body.error_description).toMatch(/jti/);
  });

  it('rejects alg none, HS256 and RS256', async () => {
    await expectInvalidClient(await signAssertion(client, tokenUrl, { header: { alg: 'none' } }));
    await expectInvalidClient(await signAssertion(client, tokenUrl, { header: { alg: 'HS256' }, key: new TextEncoder().encode('x'.repeat(64)) }));
    const rsa = await createTestClient(server.store.clients, T, 'system/*.rs', { alg: 'RS384' });
    const rs256Key = await importJWK({ ...(await exportJWK(rsa.privateKey)), alg: 'RS256' }, 'RS256');
    const rs256 = await expectInvalidClient(await signAssertion(rsa, tokenUrl, { header: { alg: 'RS256' }, key: rs256Key as CryptoKey }));
    expect(rs256.error_description).toMatch(/RS256/);
    // An ES384-registered kid cannot verify an RS384 header (kty must fit alg).
    await expectInvalidClient(await signAssertion({ ...rsa, kid: client.kid, clientId: client.clientId }, tokenUrl));
  });

  it('rejects a disabled client, and accepts it again once enabled', async () => {
    const c = await createTestClient(server.store.clients, T);
    await server.store.clients.setClientDisabled(c.clientId, true);
    const body = await expectInvalidClient(await signAssertion(c, tokenUrl));
    expect(body.error_description).toMatch(/disabled/);
    await server.store.clients.setClientDisabled(c.clientId, false);
    expect((await token(await signAssertion(c, tokenUrl))).status).toBe(200);
  });

  it('rejects a wrong client_assertion_type and a mismatching client_id', async () => {
    const wrongType = await postForm(tokenUrl, { ...tokenForm(await signAssertion(client, tokenUrl)), client_assertion_type: 'urn:other' });
    expect(wrongType.status).toBe(401);
    expect(((await wrongType.json()) as OAuthBody).error).toBe('invalid_client');
    const wrongId = await postForm(tokenUrl, { ...tokenForm(await signAssertion(client, tokenUrl)), client_id: randomUUID() });
    expect(wrongId.status).toBe(401);
    expect(((await wrongId.json()) as OAuthBody).error).toBe('invalid_client');
  });
});

describe('token endpoint: jku and JWKS URLs', () => {
  it('rejects a jku for a client registered with an inline JWKS, without fetching it', async () => {
    const before = jwksHost.requests.length;
    await expectInvalidClient(await signAssertion(client, tokenUrl, { header: { jku: jwksHost.url('/attacker.json') } }));
    expect(jwksHost.requests.length).toBe(before);
  });

  it('uses a registered JWKS URL, honours its Cache-Control, and never fetches an unregistered jku', async () => {
    const { privateKey, kid, publicJwk } = await generateClientKey('ES384');
    const path = `/jwks-${randomUUID()}.json`;
    jwksHost.setJwks(path, { keys: [publicJwk] }, 'public, max-age=300');
    jwksHost.setJwks('/unregistered.json', { keys: [publicJwk] }, 'max-age=300');
    const clientId = randomUUID();
    await server.store.clients.registerClient({
      clientId,
      tenant: T,
      name: 'jwks url client',
      jwks: null,
      jwksUrl: jwksHost.url(path),
      scope: 'system/*.read',
      disabled: false,
      createdAt: Date.now(),
    });
    const c: TestClient = { clientId, privateKey, kid, alg: 'ES384' };
    const fetches = (): number => jwksHost.requests.filter((p) => p === path).length;

    // An unregistered jku is rejected before anything is fetched.
    await expectInvalidClient(await signAssertion(c, tokenUrl, { header: { jku: jwksHost.url('/unregistered.json') } }));
    expect(jwksHost.requests).not.toContain('/unregistered.json');
    expect(fetches()).toBe(0);

    const first = await token(await signAssertion(c, tokenUrl), 'system/*.read');
    expect(first.status).toBe(200);
    expect(first.body.scope).toBe('system/*.read');
    expect(fetches()).toBe(1);
    // Within max-age: served from the cache. jku equal to the registered URL is fine.
    const second = await token(await signAssertion(c, tokenUrl, { header: { jku: jwksHost.url(path) } }), 'system/*.read');
    expect(second.status).toBe(200);
    expect(fetches()).toBe(1);
    expect(jwksHost.requests).not.toContain('/unregistered.json');
  });

  it('refetches a JWKS served with no-cache, and rejects when the URL fails', async () => {
    const { privateKey, kid, publicJwk } = await generateClientKey('RS384');
    const path = `/jwks-${randomUUID()}.json`;
    jwksHost.setJwks(path, { keys: [publicJwk] }, 'no-cache');
    const clientId = randomUUID();
    await server.store.clients.registerClient({
      clientId,
      tenant: T,
      name: 'no-cache client',
      jwks: null,
      jwksUrl: jwksHost.url(path),
      scope: 'system/*.rs',
      disabled: false,
      createdAt: Date.now(),
    });
    const c: TestClient = { clientId, privateKey, kid, alg: 'RS384' };
    expect((await token(await signAssertion(c, tokenUrl))).status).toBe(200);
    expect((await token(await signAssertion(c, tokenUrl))).status).toBe(200);
    expect(jwksHost.requests.filter((p) => p === path).length).toBe(2);

    const missing: TestClient = { ...c, clientId: randomUUID() };
    await server.store.clients.registerClient({
      clientId: missing.clientId,
      tenant: T,
      name: 'broken url',
      jwks: null,
      jwksUrl: jwksHost.url('/missing.json'),
      scope: 'system/*.rs',
      disabled: false,
      createdAt: Date.now(),
    });
    await expectInvalidClient(await signAssertion(missing, tokenUrl));
  });
});

describe('token endpoint: request errors', () => {
  it('answers missing parameters with invalid_request', async () => {
    const full = tokenForm(await signAssertion(client, tokenUrl));
    for (const name of ['grant_type', 'client_assertion_type', 'client_assertion', 'scope'] as const) {
      const params: Record<string, string> = { ...full };
      delete params[name];
      const res = await postForm(tokenUrl, params);
      expect(res.status, name).toBe(400);
      expect(((await res.json()) as OAuthBody).error, name).toBe('invalid_request');
    }
  });

  it('answers an unknown grant type with unsupported_grant_type', async () => {
    const res = await postForm(tokenUrl, { ...tokenForm(await signAssertion(client, tokenUrl)), grant_type: 'password' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as OAuthBody).error).toBe('unsupported_grant_type');
  });

  it('answers a JSON body, a body-less POST and a repeated parameter with invalid_request', async () => {
    const json = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(tokenForm(await signAssertion(client, tokenUrl))),
    });
    expect(json.status).toBe(400);
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await json.json()) as OAuthBody).error).toBe('invalid_request');
    const empty = await fetch(tokenUrl, { method: 'POST' });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as OAuthBody).error).toBe('invalid_request');
    const form = new URLSearchParams(tokenForm(await signAssertion(client, tokenUrl)));
    form.append('scope', 'system/*.r');
    const repeated = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    expect(repeated.status).toBe(400);
    expect(((await repeated.json()) as OAuthBody).error).toBe('invalid_request');
  });

  it('takes fields named like Object.prototype members as plain fields (toString, constructor, __proto__)', async () => {
    // Regression: a form field `toString` once reached Object.prototype.toString and answered 500.
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      const form = new URLSearchParams(tokenForm(await signAssertion(client, tokenUrl)));
      form.append(name, 'x');
      form.delete('grant_type');
      const res = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
      expect(res.status, name).toBe(400);
      expect(((await res.json()) as OAuthBody).error, name).toBe('invalid_request');
    }
  });

  it('answers GET with 405', async () => {
    const res = await fetch(tokenUrl);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('token endpoint: scopes', () => {
  const grant = async (scope: string, c: TestClient = client) => token(await signAssertion(c, tokenUrl), scope);

  it.each([
    ['', 'empty'],
    ['   ', 'blank'],
    ['system/Foo.read', 'unknown type'],
    ['system/*.write', 'write-only v1'],
    ['system/Observation.cud', 'write-only v2'],
    ['patient/*.read', 'patient context'],
    ['user/Observation.rs', 'user context'],
    ['system/*.rs launch', 'non-FHIR scope'],
    ['system/Observation.rs?category=laboratory', 'restricted'],
    ['system/*.sr', 'unordered v2'],
    ['system/*.x', 'unknown permission'],
  ])('refuses %j (%s) with invalid_scope', async (scope) => {
    const r = await grant(scope);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_scope');
  });

  it.each([
    ['system/Observation.read', 'system/Observation.read'],
    ['system/*.read', 'system/*.read'],
    ['system/Observation.rs', 'system/Observation.rs'],
    ['system/*.r', 'system/*.r'],
    ['system/*.rs', 'system/*.rs'],
    ['system/*.cruds', 'system/*.rs'],
    ['system/*.*', 'system/*.read'],
    ['system/Patient.read system/Observation.rs', 'system/Patient.read system/Observation.rs'],
    ['system/*.rs system/Patient.rs', 'system/*.rs'],
  ])('grants %j as %j', async (scope, granted) => {
    const r = await grant(scope);
    expect(r.status).toBe(200);
    expect(r.body.scope).toBe(granted);
    expect(decodeJwt(r.body.access_token ?? '')['scope']).toBe(granted);
  });

  it('grants the intersection with the pre-authorized scopes, and refuses an empty one', async () => {
    const narrow = await createTestClient(server.store.clients, T, 'system/Patient.rs system/Observation.r');
    const all = await grant('system/*.rs', narrow);
    expect(all.status).toBe(200);
    expect(all.body.scope).toBe('system/Patient.rs system/Observation.r');
    const v1 = await grant('system/*.read', narrow);
    expect(v1.body.scope).toBe('system/Patient.read system/Observation.r');
    const some = await grant('system/Observation.rs system/Condition.rs', narrow);
    expect(some.body.scope).toBe('system/Observation.r');
    const none = await grant('system/Condition.read', narrow);
    expect(none.status).toBe(400);
    expect(none.body.error).toBe('invalid_scope');
  });

  it('lets canRead follow the granted scopes (system/*.r is enough to read)', async () => {
    const observationOnly = await grant('system/Observation.rs');
    expect((await readPatient(T, observationOnly.body.access_token)).status).toBe(403);
    const wildcardRead = await grant('system/*.r');
    expect((await readPatient(T, wildcardRead.body.access_token)).status).toBe(200);
    const v1 = await grant('system/Patient.read');
    expect((await readPatient(T, v1.body.access_token)).status).toBe(200);
  });
});

describe('access control', () => {
  it('answers a missing token with 401, WWW-Authenticate: Bearer and code login', async () => {
    const res = await readPatient(T);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(res.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    const body = (await res.json()) as { issue: { code: string }[] };
    expect(body.issue[0]?.code).toBe('login');
  });

  it('answers an invalid token with 401 login', async () => {
    for (const auth of ['Bearer not-a-jwt', 'Basic dXNlcjpwYXNz', `Bearer ${await signAssertion(client, tokenUrl)}`]) {
      const res = await fetch(`${server.fhirBase(T)}/Patient/p1`, { headers: { authorization: auth } });
      expect(res.status, auth.slice(0, 12)).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(((await res.json()) as { issue: { code: string }[] }).issue[0]?.code).toBe('login');
    }
    // A tampered token (scope widened, signature kept) does not verify.
    const real = await getAccessToken(tokenUrl, client, 'system/Observation.rs');
    const [h, , s] = real.split('.');
    const claims = { ...decodeJwt(real), scope: 'system/*.rs' };
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    expect((await readPatient(T, forged)).status).toBe(401);
  });

  it("answers another tenant's token and an unknown tenant with 403", async () => {
    const accessToken = await getAccessToken(tokenUrl, client);
    const other = await readPatient(T2, accessToken);
    expect(other.status).toBe(403);
    expect(((await other.json()) as { issue: { code: string }[] }).issue[0]?.code).toBe('forbidden');
    expect((await readPatient('unknown-tenant', accessToken)).status).toBe(403);
  });

  it('answers an expired token with 401 expired', async () => {
    let offset = 0;
    const clocked = await startAuthServer({ tenants: [T], now: () => Date.now() + offset });
    try {
      const c = await createTestClient(clocked.store.clients, T);
      const accessToken = await getAccessToken(clocked.tokenUrl(T), c);
      const url = `${clocked.fhirBase(T)}/Patient/p1`;
      expect((await fetch(url, { headers: { authorization: `Bearer ${accessToken}` } })).status).toBe(200);
      offset = 301_000;
      const res = await fetch(url, { headers: { authorization: `Bearer ${accessToken}` } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(((await res.json()) as { issue: { code: string }[] }).issue[0]?.code).toBe('expired');
    } finally {
      await clocked.close();
    }
  });

  it('signs access tokens with the server key (ES384, typ at+jwt)', async () => {
    const header = decodeProtectedHeader(await getAccessToken(tokenUrl, client));
    expect(header.alg).toBe('ES384');
    expect(header.typ).toBe('at+jwt');
    expect(typeof header.kid).toBe('string');
  });
});

describe('token endpoint: rate limit', () => {
  it('throttles a burst of failed token requests per client and per address, before verifying anything', async () => {
    const limited = await startAuthServer({
      tenants: [T],
      config: { auth: { failedTokenRequestsPerMinute: 3, failedTokenRequestsPerAddressPerMinute: 5 } },
    });
    try {
      const url = limited.tokenUrl(T);
      const a = await createTestClient(limited.store.clients, T);
      const b = await createTestClient(limited.store.clients, T);
      const c = await createTestClient(limited.store.clients, T);
      const { privateKey: wrongKey } = await generateKeyPair('ES384');
      const bad = async (who: TestClient) => postForm(url, tokenForm(await signAssertion(who, url, { key: wrongKey })));
      const good = async (who: TestClient) => postForm(url, tokenForm(await signAssertion(who, url)));

      // client a: three bad signatures are answered as such, then a is throttled, even with a good assertion
      for (let i = 0; i < 3; i++) expect((await bad(a)).status).toBe(401);
      for (const res of [await bad(a), await good(a)]) {
        expect(res.status).toBe(429);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(res.headers.get('cache-control')).toBe('no-store');
        expect(((await res.json()) as OAuthBody).error).toBe('slow_down');
      }
      // a throttled request is not a new failure; client b still gets its answers and its token...
      expect((await good(b)).status).toBe(200);
      for (let i = 0; i < 2; i++) expect((await bad(b)).status).toBe(401);
      // ...until the address has failed five times: then every client from it waits
      expect((await good(c)).status).toBe(429);
      // garbage that names no client counts against the address too
      expect((await postForm(url, tokenForm('not-a-jwt'))).status).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it('lets a client that behaves take far more tokens than it needs by default', async () => {
    const defaults = await startAuthServer({ tenants: [T] });
    try {
      const url = defaults.tokenUrl(T);
      const c = await createTestClient(defaults.store.clients, T);
      // the SMART Bulk Data Tester takes about 130 tokens in a minute and a half
      for (let i = 0; i < 150; i++) expect((await postForm(url, tokenForm(await signAssertion(c, url)))).status).toBe(200);
    } finally {
      await defaults.close();
    }
  });

  it('answers too many token requests from one client with 429 slow_down and Retry-After', async () => {
    const limited = await startAuthServer({ tenants: [T], config: { auth: { tokenRequestsPerMinute: 2 } } });
    try {
      const url = limited.tokenUrl(T);
      const c = await createTestClient(limited.store.clients, T);
      const other = await createTestClient(limited.store.clients, T);
      for (let i = 0; i < 2; i++) expect((await postForm(url, tokenForm(await signAssertion(c, url)))).status).toBe(200);
      const res = await postForm(url, tokenForm(await signAssertion(c, url)));
      expect(res.status).toBe(429);
      const retryAfter = res.headers.get('retry-after') ?? '';
      expect(retryAfter).toMatch(/^\d+$/);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(retryAfter)).toBeLessThanOrEqual(60);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(((await res.json()) as OAuthBody).error).toBe('slow_down');
      // Another client is not affected.
      expect((await postForm(url, tokenForm(await signAssertion(other, url)))).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
