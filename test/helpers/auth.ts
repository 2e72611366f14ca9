/**
 * Test helpers for SMART Backend Services: a client registered with a fresh key, signed client assertions (with
 * overridable header and claims, for negative tests) and access tokens fetched from a running token endpoint.
 * Also a small Fastify server with only the auth and admin routes plus one protected fixture route, for the auth tests.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { type CryptoKey, CompactSign, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { type Logger, pino } from 'pino';
import { type AuthService, createAuthService, tenantFhirBase, tenantTokenUrl } from '../../src/auth/service.js';
import { type Config, type ConfigInput, loadConfig } from '../../src/config/index.js';
import { forbidden } from '../../src/fhir/errors.js';
import { type AppContext, authenticate, listeningOrigin } from '../../src/http/context.js';
import { FHIR_JSON, handleError, notFoundOutcome } from '../../src/http/errors.js';
import { adminRoutes } from '../../src/http/routes/admin/index.js';
import { authRoutes } from '../../src/http/routes/auth.js';
import type { ClientStore, Store } from '../../src/store/ports.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';

export type TestAlg = 'ES384' | 'RS384';

export interface TestClient {
  clientId: string;
  privateKey: CryptoKey;
  kid: string;
  alg: TestAlg;
}

/** A key pair for a client: the private key, its kid (the JWK thumbprint) and the public JWK (with kid and alg). */
export async function generateClientKey(alg: TestAlg = 'ES384'): Promise<{ privateKey: CryptoKey; kid: string; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { privateKey, kid, publicJwk: { ...jwk, kid, alg, use: 'sig' } };
}

/** Registers a client with a freshly generated key (ES384 unless told) and an inline JWKS. */
export async function createTestClient(
  clients: ClientStore,
  tenant: string,
  scope = 'system/*.rs',
  options: { alg?: TestAlg; name?: string } = {},
): Promise<TestClient> {
  const alg = options.alg ?? 'ES384';
  const { privateKey, kid, publicJwk } = await generateClientKey(alg);
  const clientId = randomUUID();
  await clients.registerClient({
    clientId,
    tenant,
    name: options.name ?? `test client ${clientId.slice(0, 8)}`,
    jwks: { keys: [publicJwk as Record<string, unknown>] },
    jwksUrl: null,
    scope,
    disabled: false,
    createdAt: Date.now(),
  });
  return { clientId, privateKey, kid, alg };
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

export interface AssertionOptions {
  /** Header fields to add or replace (undefined removes one). */
  header?: Record<string, unknown>;
  /** Claims to add or replace (undefined removes one). */
  claims?: Record<string, unknown>;
  /** Sign with this key instead of the client's (a CryptoKey, or a Uint8Array secret for HS256). */
  key?: CryptoKey | Uint8Array;
  /** Now, in epoch seconds. */
  now?: number;
}

const withOverrides = (base: Record<string, unknown>, overrides: Record<string, unknown> = {}): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
};

/**
 * A client assertion for `aud` (the token URL): header `{ alg, kid, typ: 'JWT' }`, claims `iss = sub = clientId`,
 * `aud`, `exp` (now + 240 s), `jti` (random). `alg: 'none'` produces an unsigned JWT.
 */
export async function signAssertion(client: TestClient, aud: string, options: AssertionOptions = {}): Promise<string> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const header = withOverrides({ alg: client.alg, kid: client.kid, typ: 'JWT' }, options.header);
  const claims = withOverrides({ iss: client.clientId, sub: client.clientId, aud, exp: now + 240, jti: randomUUID() }, options.claims);
  if (header['alg'] === 'none') return `${b64url(header)}.${b64url(claims)}.`;
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader(header as { alg: string })
    .sign(options.key ?? client.privateKey);
}

/** POSTs a form to a URL. */
export function postForm(url: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams(params).toString(),
  });
}

/** The form of a token request with a given assertion. */
export const tokenForm = (assertion: string, scope = 'system/*.rs'): Record<string, string> => ({
  grant_type: 'client_credentials',
  scope,
  client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
  client_assertion: assertion,
});

/**
 * Signs an assertion for `audience` (the advertised token URL; default `tokenUrl`) and exchanges it for an access
 * token at `tokenUrl` (throws unless 200).
 */
export async function getAccessToken(tokenUrl: string, client: TestClient, scope = 'system/*.rs', audience = tokenUrl): Promise<string> {
  const res = await postForm(tokenUrl, tokenForm(await signAssertion(client, audience), scope));
  const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
  if (res.status !== 200 || !body.access_token) {
    throw new Error(`token request failed: ${res.status} ${body.error ?? ''} ${body.error_description ?? ''}`);
  }
  return body.access_token;
}

export interface AuthTestServer {
  app: FastifyInstance;
  origin: string;
  config: Config;
  store: Store;
  auth: AuthService;
  dataDir: string;
  tokenUrl(tenant: string): string;
  fhirBase(tenant: string): string;
  close(): Promise<void>;
}

export interface AuthTestServerOptions {
  /** Tenants to create in the store. */
  tenants?: string[];
  /** Config overrides (dataDir, port and logLevel are set by the helper). */
  config?: ConfigInput;
  /** The admin token; null turns the admin API off. */
  adminToken?: string | null;
  now?: () => number;
  /** Reuse a data directory (kept on close); else a fresh temporary one (removed on close). */
  dataDir?: string;
  /** Reuse a store (kept open on close). */
  store?: Store;
}

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

/**
 * A Fastify server with the auth and admin routes and one protected fixture route, `GET /r4/:tenant/Patient/:id`
 * (answers 200 when the caller's token may read Patient, else 403), on an ephemeral port of 127.0.0.1.
 */
export async function startAuthServer(options: AuthTestServerOptions = {}): Promise<AuthTestServer> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'flatfhir-auth-')));
  const adminToken = options.adminToken === undefined ? TEST_ADMIN_TOKEN : options.adminToken;
  const config = loadConfig(
    {
      ...options.config,
      dataDir,
      port: 0,
      logLevel: 'silent',
      auth: { ...options.config?.auth, ...(adminToken === null ? {} : { adminToken }) },
    },
    {},
  );
  const ownStore = options.store === undefined;
  const store = options.store ?? openSqliteStore(join(dataDir, 'flatfhir.sqlite'));
  for (const tenant of options.tenants ?? []) await store.resources.ensureTenant(tenant);
  const log: Logger = pino({ level: 'silent' });
  const auth = await createAuthService({
    config,
    keys: store.keys,
    clients: store.clients,
    tenants: () => store.resources.listTenants(),
    log,
    ...(options.now ? { now: options.now } : {}),
  });
  const app = Fastify({ loggerInstance: log as FastifyBaseLogger, routerOptions: { maxParamLength: 500 } });
  const deps = { config, store, auth, log, origin: () => listeningOrigin(config, app.server) } as unknown as AppContext;

  app.setErrorHandler(handleError);
  app.setNotFoundHandler(notFoundOutcome);
  await app.register(authRoutes(deps));
  await app.register(adminRoutes(deps));
  app.get<{ Params: { tenant: string; id: string } }>('/r4/:tenant/Patient/:id', async (request, reply) => {
    const caller = await authenticate(deps, request);
    if (!caller.canRead('Patient')) throw forbidden('The access token does not grant read access to Patient.');
    return reply.type(FHIR_JSON).send({ resourceType: 'Patient', id: request.params.id });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  const origin = `http://127.0.0.1:${address.port}`;
  let closed = false;
  return {
    app,
    origin,
    config,
    store,
    auth,
    dataDir,
    tokenUrl: (tenant) => tenantTokenUrl(origin, tenant),
    fhirBase: (tenant) => tenantFhirBase(origin, tenant),
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      if (ownStore) await store.close();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
