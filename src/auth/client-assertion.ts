import { type CryptoKey, decodeJwt, decodeProtectedHeader, importJWK, type JWK, type JWTPayload, jwtVerify } from 'jose';
import type { ClientStore, RegisteredClient } from '../store/ports.js';
import { type AssertionAlg, isAssertionAlg, type JwksCache, keyFitsAlg } from './jwks.js';
import { invalidClient } from './oauth-error.js';

/**
 * SMART Backend Services client authentication (`private_key_jwt`, RFC 7523): checks a client assertion.
 * Every failure is `invalid_client` (the reason goes into error_description; the assertion itself never leaves here).
 */

/** The longest an assertion may live: `exp` at most this far ahead (plus clock skew). */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
const MAX_ASSERTION_LENGTH = 16 * 1024;

export interface AssertionContext {
  clients: ClientStore;
  jwks: JwksCache;
  now: () => number;
  clockSkewSeconds: number;
}

export interface VerifiedAssertion {
  client: RegisteredClient;
  jti: string;
  /** Expiry of the assertion (epoch seconds). */
  exp: number;
}

function resolveKey(keys: readonly JWK[], kid: string, alg: AssertionAlg): JWK | 'none' | 'ambiguous' {
  const matches = keys.filter((k) => k.kid === kid && keyFitsAlg(k, alg));
  if (matches.length === 0) return 'none';
  if (matches.length > 1) return 'ambiguous';
  return matches[0] as JWK;
}

async function clientKey(ctx: AssertionContext, client: RegisteredClient, kid: string, alg: AssertionAlg): Promise<JWK> {
  if (client.jwks) {
    const found = resolveKey(client.jwks.keys as JWK[], kid, alg);
    if (found === 'none') throw invalidClient(`No registered key has kid "${kid}" and fits ${alg}.`);
    if (found === 'ambiguous') throw invalidClient(`Several registered keys have kid "${kid}" and fit ${alg}.`);
    return found;
  }
  if (!client.jwksUrl) throw invalidClient('The client has no registered keys.');
  const url = client.jwksUrl;
  const fetchKeys = async (refresh: boolean) => {
    try {
      return (await ctx.jwks.get(url, { refresh })).keys;
    } catch (e) {
      throw invalidClient(`The client's registered JWKS URL could not be used: ${(e as Error).message}`);
    }
  };
  let found = resolveKey(await fetchKeys(false), kid, alg);
  // An unknown kid may mean the client rotated its keys: refetch once (the cache rate-limits forced refreshes).
  if (found === 'none') found = resolveKey(await fetchKeys(true), kid, alg);
  if (found === 'none') throw invalidClient(`No key at the registered JWKS URL has kid "${kid}" and fits ${alg}.`);
  if (found === 'ambiguous') throw invalidClient(`Several keys at the registered JWKS URL have kid "${kid}" and fit ${alg}.`);
  return found;
}

/**
 * Verifies a client assertion for the token endpoint of `tenant` whose advertised URL is `audience`.
 * Does not record the jti: the caller does, once it is about to issue a token.
 */
export async function verifyClientAssertion(
  ctx: AssertionContext,
  assertion: string,
  expected: { tenant: string; audience: string },
): Promise<VerifiedAssertion> {
  if (assertion.length > MAX_ASSERTION_LENGTH) throw invalidClient('The client assertion is too long.');
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: JWTPayload;
  try {
    header = decodeProtectedHeader(assertion);
    unverified = decodeJwt(assertion);
  } catch {
    throw invalidClient('The client assertion is not a well-formed signed JWT.');
  }
  if (assertion.split('.').length !== 3) throw invalidClient('The client assertion must be a signed JWT (JWS compact serialization).');
  const alg = header.alg;
  if (!isAssertionAlg(alg)) throw invalidClient(`Client assertion alg "${String(alg)}" is not supported; use RS384 or ES384.`);
  if (typeof header.kid !== 'string' || header.kid === '') throw invalidClient('The client assertion header has no "kid".');
  if (header.crit !== undefined) throw invalidClient('The client assertion header has unsupported "crit" parameters.');

  const { iss, sub } = unverified;
  if (typeof iss !== 'string' || iss === '') throw invalidClient('The client assertion has no "iss" (the client_id).');
  if (sub !== iss) throw invalidClient('The client assertion "sub" must equal "iss" (the client_id).');
  const client = await ctx.clients.getClient(iss);
  if (!client) throw invalidClient('Unknown client.');
  if (client.disabled) throw invalidClient('The client is disabled.');
  if (client.tenant !== expected.tenant) throw invalidClient('The client is not registered for this tenant.');

  if (header.jku !== undefined) {
    // Never fetch a URL the client did not register: jku must be the registered JWKS URL, character for character.
    if (client.jwksUrl === null || header.jku !== client.jwksUrl) {
      throw invalidClient('The client assertion "jku" is not the JWKS URL registered for this client.');
    }
  }

  const jwk = await clientKey(ctx, client, header.kid, alg);
  let key: CryptoKey | Uint8Array;
  try {
    key = await importJWK(jwk, alg);
  } catch {
    throw invalidClient(`The registered key "${header.kid}" cannot be used for ${alg}.`);
  }

  const skew = ctx.clockSkewSeconds;
  const nowMs = ctx.now();
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(assertion, key, {
      algorithms: [alg],
      issuer: client.clientId,
      subject: client.clientId,
      audience: expected.audience,
      requiredClaims: ['exp', 'jti'],
      clockTolerance: skew,
      currentDate: new Date(nowMs),
    }));
  } catch (e) {
    const code = (e as { code?: string }).code;
    const claim = (e as { claim?: string }).claim;
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') throw invalidClient('The client assertion signature does not verify.');
    if (code === 'ERR_JWT_EXPIRED') throw invalidClient('The client assertion has expired.');
    if (claim === 'aud') throw invalidClient(`The client assertion "aud" must be the token endpoint URL ${expected.audience}.`);
    if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim) throw invalidClient(`The client assertion "${claim}" claim is missing or invalid.`);
    throw invalidClient('The client assertion is invalid.');
  }
  const nowSeconds = Math.floor(nowMs / 1000);
  const exp = payload.exp as number;
  if (exp > nowSeconds + MAX_ASSERTION_LIFETIME_SECONDS + skew) {
    throw invalidClient(`The client assertion "exp" must be at most ${MAX_ASSERTION_LIFETIME_SECONDS} seconds in the future.`);
  }
  if (payload.iat !== undefined && payload.iat > nowSeconds + skew) throw invalidClient('The client assertion "iat" is in the future.');
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 512) throw invalidClient('The client assertion "jti" must be a non-empty string.');
  return { client, jti, exp };
}
