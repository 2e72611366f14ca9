import { randomUUID } from 'node:crypto';
import { decodeJwt, errors as joseErrors, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import type { Logger } from 'pino';
import { type Config, publicOrigin } from '../config/index.js';
import { FhirError, forbidden, unauthorized } from '../fhir/errors.js';
import { type Metrics, noMetrics } from '../monitoring/ports.js';
import type { ClientStore, KeyStore } from '../store/ports.js';
import type { AccessControl, Caller } from './access.js';
import { verifyClientAssertion } from './client-assertion.js';
import { ASSERTION_ALGS, JwksCache, type JwksCacheOptions } from './jwks.js';
import { invalidClient, invalidRequest, invalidScope, OAuthError } from './oauth-error.js';
import { createRateLimiter, type RateLimitResult } from './rate-limit.js';
import { createRevocationList, type RevocationList } from './revocation.js';
import { grantScopes, parseGrantedScopes, scopesAllowRead, scopesAllowWrite } from './scopes.js';
import { SIGNING_ALG, SigningKeyRing } from './signing-keys.js';

export interface AuthDeps {
  config: Config;
  clients: ClientStore;
  /** The tenants that exist. */
  tenants: () => Promise<string[]>;
  log: Logger;
  now?: () => number;
  /** Where the signing key set lives (the store's KeyStore, shared by every process on it). */
  keys: KeyStore;
  /** Token issues and refusals. */
  metrics?: Metrics;
  /** Fetching registered JWKS URLs: timeout, size limit, caching (and a fetch to use instead of the global one). */
  jwks?: JwksCacheOptions;
  /** The token revocation list (default: the client store's, cached `config.auth.revocationCacheMs`). */
  revocations?: RevocationList;
}

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** The token endpoint path, mirroring the vendor's authorization server. */
export const TOKEN_PATH = '/tenants/:tenant/protocols/oauth2/profiles/smart-v1/token';
const ACCESS_TOKEN_TYP = 'at+jwt';

export const tenantFhirBase = (origin: string, tenant: string): string => `${origin}/r4/${tenant}`;
export const tenantTokenUrl = (origin: string, tenant: string): string =>
  `${origin}${TOKEN_PATH.replace(':tenant', encodeURIComponent(tenant))}`;

/** A token request as the HTTP edge parsed it: form parameters (each possibly repeated). */
export interface TokenRequest {
  tenant: string;
  /** The origin clients see (the advertised token URL, the assertion's `aud`, is built from it). */
  origin: string;
  params: Record<string, string[]>;
  /** The caller's address (failed requests are throttled per address as well as per client). */
  address?: string;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  scope: string;
}

/** SMART Backend Services: the token endpoint's logic, access-token verification and discovery. */
export interface AuthService extends AccessControl {
  /** The token endpoint URL advertised for a tenant (also the `aud` a client assertion must carry). */
  tokenUrl(origin: string, tenant: string): string;
  /** `[base]/.well-known/smart-configuration`; throws a 403 FhirError for an unknown tenant. */
  smartConfiguration(origin: string, tenant: string): Promise<Record<string, unknown>>;
  /** The token endpoint: authenticates the client, decides the scope, issues an access token. Throws OAuthError. */
  issueToken(request: TokenRequest): Promise<TokenResponse>;
  /** Tells this process a client's tokens were just revoked (disabled, removed): the next check reads the list. */
  tokensRevoked(): void;
  /** Whether a bearer token is an access token this server issued and still valid (of any tenant, any client). */
  isAccessToken(token: string): Promise<boolean>;
}

/** Access-token claims besides the registered ones. */
interface AccessTokenClaims extends JWTPayload {
  scope: string;
  tenant: string;
  client_id: string;
}

function single(params: Record<string, string[]>, name: string): string | undefined {
  const values = params[name];
  if (values === undefined || values.length === 0) return undefined;
  if (values.length > 1) throw invalidRequest(`The ${name} parameter is given more than once.`);
  return values[0];
}

function required(params: Record<string, string[]>, name: string): string {
  const v = single(params, name);
  if (v === undefined || v === '') throw invalidRequest(`The ${name} parameter is missing.`);
  return v;
}

/** The client a token request names (unverified: the assertion's `iss`, else `client_id`), for throttling failures and the audit trail. */
export function claimedClient(params: Record<string, string[]>): string | undefined {
  const assertion = params['client_assertion']?.[0];
  if (assertion) {
    try {
      const iss = decodeJwt(assertion).iss;
      if (typeof iss === 'string' && iss !== '') return iss.slice(0, 200);
    } catch {
      // not a JWT: only the address and client_id count
    }
  }
  const id = params['client_id']?.[0];
  return id ? id.slice(0, 200) : undefined;
}

export async function createAuthService(deps: AuthDeps): Promise<AuthService> {
  const { config, clients, log } = deps;
  const now = deps.now ?? Date.now;
  const skew = config.auth.clockSkewSeconds;
  const lifetime = Math.min(300, config.auth.tokenLifetimeSeconds);
  const keys = await SigningKeyRing.open(deps.keys, now);
  const jwks = new JwksCache({ now, ...deps.jwks });
  const tokenLimiter = createRateLimiter({ limit: config.auth.tokenRequestsPerMinute, windowMs: 60_000, now });
  const failuresPerClient = createRateLimiter({ limit: config.auth.failedTokenRequestsPerMinute, windowMs: 60_000, now });
  const failuresPerAddress = createRateLimiter({ limit: config.auth.failedTokenRequestsPerAddressPerMinute, windowMs: 60_000, now });
  const revocations =
    deps.revocations ??
    createRevocationList({ clients, cacheMs: config.auth.revocationCacheMs, lookbackMs: (lifetime + skew + 60) * 1000, now });

  // Tenants are rarely removed: a tenant once seen is trusted for a minute, an unknown one is looked up each time.
  const knownTenants = new Map<string, number>();
  const tenantExists = async (tenant: string): Promise<boolean> => {
    const seen = knownTenants.get(tenant);
    if (seen !== undefined && now() - seen < 60_000) return true;
    const all = await deps.tenants();
    const t = now();
    for (const name of all) knownTenants.set(name, t);
    return all.includes(tenant);
  };

  const tokenUrl = tenantTokenUrl;

  async function smartConfiguration(origin: string, tenant: string): Promise<Record<string, unknown>> {
    if (!(await tenantExists(tenant))) throw forbidden(`Unknown tenant ${tenant}.`);
    return {
      issuer: origin,
      token_endpoint: tokenUrl(origin, tenant),
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
      // Group create and delete: the Bulk Cohort API.
      scopes_supported: ['system/*.read', 'system/*.rs', 'system/*.r', 'system/Group.cd'],
      response_types_supported: ['token'],
      capabilities: ['client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
    };
  }

  const metrics = deps.metrics ?? noMetrics;
  const slowDown = (limit: Extract<RateLimitResult, { ok: false }>, what: string): OAuthError =>
    new OAuthError('slow_down', `Too many ${what}; retry in ${limit.retryAfterSeconds} s.`, {
      headers: { 'retry-after': String(limit.retryAfterSeconds) },
    });

  /**
   * The token endpoint. A failed request (any error but a rate limit) counts against the client it names and the
   * address it came from; while either is over its failure allowance, its requests are refused (429 `slow_down`)
   * before any verification, which slows guessing. A successful request counts against the client's own, far
   * larger allowance.
   */
  async function issueToken(request: TokenRequest): Promise<TokenResponse> {
    const claimed = claimedClient(request.params);
    const keys = [
      ...(request.address !== undefined ? [{ limiter: failuresPerAddress, key: request.address }] : []),
      ...(claimed !== undefined ? [{ limiter: failuresPerClient, key: `${request.tenant}\n${claimed}` }] : []),
    ];
    for (const { limiter, key } of keys) {
      const state = limiter.peek(key);
      if (!state.ok) {
        log.warn({ tenant: request.tenant }, 'token request: too many failed requests');
        metrics.token('slow_down');
        throw slowDown(state, 'failed token requests');
      }
    }
    try {
      const issued = await issueVerifiedToken(request);
      metrics.token('issued');
      return issued;
    } catch (e) {
      metrics.token(e instanceof OAuthError ? e.error : 'server_error');
      if (!(e instanceof OAuthError && e.error === 'slow_down')) for (const { limiter, key } of keys) limiter.take(key);
      throw e;
    }
  }

  async function issueVerifiedToken(request: TokenRequest): Promise<TokenResponse> {
    const { tenant, origin, params } = request;
    const grantType = required(params, 'grant_type');
    if (grantType !== 'client_credentials') {
      throw new OAuthError('unsupported_grant_type', `grant_type ${JSON.stringify(grantType)} is not supported; use client_credentials.`);
    }
    const assertionType = required(params, 'client_assertion_type');
    const assertion = required(params, 'client_assertion');
    const requestedScope = single(params, 'scope');
    if (requestedScope === undefined) throw invalidRequest('The scope parameter is missing.');
    if (assertionType !== CLIENT_ASSERTION_TYPE) {
      throw invalidClient(`client_assertion_type must be ${CLIENT_ASSERTION_TYPE}.`);
    }
    const client_id = single(params, 'client_id');

    const audience = tokenUrl(origin, tenant);
    let verified: Awaited<ReturnType<typeof verifyClientAssertion>>;
    try {
      verified = await verifyClientAssertion({ clients, jwks, now, clockSkewSeconds: skew }, assertion, { tenant, audience });
      if (client_id !== undefined && client_id !== verified.client.clientId) throw invalidClient('client_id does not match the client assertion.');
    } catch (e) {
      if (e instanceof OAuthError) log.info({ tenant, reason: e.message }, 'token request: client authentication failed');
      throw e;
    }
    const { client } = verified;

    const limit = tokenLimiter.take(client.clientId);
    if (!limit.ok) {
      log.warn({ tenant, clientId: client.clientId }, 'token request: rate limited');
      throw slowDown(limit, 'token requests');
    }

    const expiresAt = (verified.exp + skew) * 1000;
    if (!(await clients.useJti(client.clientId, verified.jti, expiresAt, now()))) {
      log.info({ tenant, clientId: client.clientId }, 'token request: replayed jti');
      throw invalidClient('The client assertion "jti" was already used.');
    }

    const decision = grantScopes(requestedScope, client.scope);
    if (!decision.ok) {
      log.info({ tenant, clientId: client.clientId, reason: decision.reason }, 'token request: invalid scope');
      throw invalidScope(decision.reason);
    }

    const key = await keys.current();
    const iat = Math.floor(now() / 1000);
    const claims: AccessTokenClaims = { scope: decision.scope, tenant, client_id: client.clientId };
    const accessToken = await new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYP })
      .setIssuer(origin)
      .setAudience(tenantFhirBase(origin, tenant))
      .setSubject(client.clientId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + lifetime)
      .setJti(randomUUID())
      .sign(key.key);
    log.info({ tenant, clientId: client.clientId, scope: decision.scope }, 'token issued');
    return { access_token: accessToken, token_type: 'bearer', expires_in: lifetime, scope: decision.scope };
  }

  /** A 401 for a presented token that does not verify (RFC 6750 invalid_token). */
  const invalidToken = (msg: string, code: 'login' | 'expired' = 'login'): FhirError =>
    new FhirError(401, code, msg, { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });

  /**
   * Tokens whose signature and claims verified, with their expiry: a client polling a status URL costs one
   * signature check (an ES384 verification, about a millisecond of CPU) per token rather than per request.
   * Expiry is checked on every use. Insertion-ordered, the oldest dropped past the bound.
   */
  const verifiedTokens = new Map<string, { payload: JWTPayload; exp: number }>();
  const MAX_VERIFIED_TOKENS = 1000;

  async function verifyAccessToken(token: string): Promise<JWTPayload> {
    const known = verifiedTokens.get(token);
    if (known && known.exp > Math.floor(now() / 1000)) return known.payload;
    verifiedTokens.delete(token);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(
        token,
        async (header) => {
          const k = await keys.verificationKey(header.kid);
          if (!k) throw new joseErrors.JWKSNoMatchingKey();
          return k.key;
        },
        {
          algorithms: [SIGNING_ALG, 'ES256'],
          typ: ACCESS_TOKEN_TYP,
          currentDate: new Date(now()),
          requiredClaims: ['exp', 'sub', 'scope', 'tenant'],
          ...(config.publicBaseUrl ? { issuer: publicOrigin(config) } : {}),
        },
      ));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw invalidToken('The access token has expired.', 'expired');
      throw invalidToken('The access token is invalid.');
    }
    if (verifiedTokens.size >= MAX_VERIFIED_TOKENS) verifiedTokens.delete(verifiedTokens.keys().next().value as string);
    verifiedTokens.set(token, { payload, exp: payload.exp as number });
    return payload;
  }

  /**
   * Access control. The token is verified by signature (any key of the key set), `typ`, expiry and, when a public
   * base URL is configured, issuer; no database round trip. The audience is the tenant's FHIR base, whose origin
   * depends on the request; so the check is done on the `tenant` claim instead, compared with the URL's tenant.
   * Then the revocation list (cached for `auth.revocationCacheMs`): a disabled or removed client's tokens are
   * refused from then on.
   */
  async function authenticate(tenant: string, authorization: string | undefined): Promise<Caller> {
    if (authorization === undefined || authorization.trim() === '') {
      throw unauthorized('Authentication required: send "Authorization: Bearer <access token>".');
    }
    const m = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*$/i.exec(authorization);
    if (!m?.[1]) throw unauthorized('The Authorization header must be "Bearer <access token>".');
    const payload = await verifyAccessToken(m[1]);
    const { sub, scope } = payload;
    const tokenTenant = payload['tenant'];
    if (typeof sub !== 'string' || typeof scope !== 'string' || typeof tokenTenant !== 'string') {
      throw invalidToken('The access token is invalid.');
    }
    if (tokenTenant !== tenant) throw forbidden(`The access token is not valid for tenant ${tenant}.`);
    if (!(await tenantExists(tenant))) throw forbidden(`Unknown tenant ${tenant}.`);
    if (await revocations.isRevoked(sub, payload.iat)) throw invalidToken('The access token has been revoked (its client was disabled or removed).');
    const scopes = parseGrantedScopes(scope);
    return {
      clientId: sub,
      tenant,
      scope,
      canRead: (type: string) => scopesAllowRead(scopes, type),
      canWrite: (type: string, permission: 'c' | 'd') => scopesAllowWrite(scopes, type, permission),
    };
  }

  async function isAccessToken(token: string): Promise<boolean> {
    try {
      await verifyAccessToken(token);
      return true;
    } catch {
      return false;
    }
  }

  return { tokenUrl, smartConfiguration, issueToken, authenticate, isAccessToken, tokensRevoked: () => revocations.invalidate() };
}
