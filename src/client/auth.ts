/**
 * SMART Backend Services authentication: a signed client assertion (RS384 or ES384) exchanged for an access token,
 * renewed before it expires and on demand after a 401.
 */
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, type CryptoKey, importJWK, type JWK, SignJWT } from 'jose';
import type { ClientContext } from './context.js';
import { errorMessage, HttpError, isAbort, isNetworkError, isTransientFailure, readFailure, retryDelay, sleep } from './http.js';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export type AssertionAlg = 'RS384' | 'ES384';

export interface SigningKey {
  key: CryptoKey;
  alg: AssertionAlg;
  kid: string;
}

/**
 * Reads a private JWK (or a JWK Set holding one private key): the algorithm comes from `alg`, else from the key
 * type (RSA → RS384, EC P-384 → ES384); the `kid` from the JWK, else its thumbprint.
 */
export async function loadSigningKey(input: JWK | { keys: JWK[] }): Promise<SigningKey> {
  const jwk = 'keys' in input && Array.isArray(input.keys) ? input.keys.find((k) => typeof k.d === 'string') : (input as JWK);
  if (!jwk || typeof jwk !== 'object') throw new Error('The key set holds no private key.');
  if (typeof jwk.d !== 'string') throw new Error('The key is not a private key (it has no "d").');
  let alg: AssertionAlg;
  if (jwk.alg === 'RS384' || jwk.alg === 'ES384') alg = jwk.alg as AssertionAlg;
  else if (jwk.alg !== undefined) throw new Error(`Key algorithm ${jwk.alg} is not supported: use RS384 or ES384.`);
  else if (jwk.kty === 'RSA') alg = 'RS384';
  else if (jwk.kty === 'EC' && jwk.crv === 'P-384') alg = 'ES384';
  else throw new Error(`Key type ${jwk.kty ?? '?'}${jwk.crv ? ` ${jwk.crv}` : ''} is not supported: use an RSA or EC P-384 key.`);
  const key = await importJWK(jwk, alg);
  if (key instanceof Uint8Array) throw new Error('Symmetric keys are not supported.');
  const kid = typeof jwk.kid === 'string' && jwk.kid !== '' ? jwk.kid : await calculateJwkThumbprint(jwk);
  return { key, alg, kid };
}

/**
 * A client assertion for `tokenUrl`: header `{alg, kid, typ: JWT}`, claims `iss = sub = clientId`, `aud = tokenUrl`,
 * `exp` four minutes ahead (the limit is five), a unique `jti`.
 */
export async function signClientAssertion(signing: SigningKey, clientId: string, tokenUrl: string, nowMs: number): Promise<string> {
  const now = Math.floor(nowMs / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: signing.alg, kid: signing.kid, typ: 'JWT' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(tokenUrl)
    .setExpirationTime(now + 240)
    .setJti(randomUUID())
    .sign(signing.key);
}

export interface TokenProviderOptions {
  tokenUrl: string;
  clientId: string;
  scope: string;
  signing: SigningKey;
  /**
   * How long before expiry a token is renewed: a quarter of its lifetime, at least one second and at most this
   * (default 60 s).
   */
  maxRenewMarginMs?: number;
}

/** Hands out a valid access token, fetching a new one when the current one is about to expire. */
export interface TokenSource {
  token(signal?: AbortSignal): Promise<string>;
  /** The server rejected `token` (401): the next call fetches a new one. */
  invalidate(token: string): void;
}

export class TokenProvider implements TokenSource {
  private current: { token: string; renewAt: number } | undefined;
  private pending: Promise<string> | undefined;
  /** Token requests answered with a token. */
  issued = 0;

  /** `ctx.signal` is ignored: each call passes its own. */
  constructor(
    private readonly ctx: ClientContext,
    private readonly options: TokenProviderOptions,
  ) {}

  async token(signal?: AbortSignal): Promise<string> {
    if (this.current && this.ctx.now() < this.current.renewAt) return this.current.token;
    this.pending ??= this.request(signal).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  invalidate(token: string): void {
    if (this.current?.token === token) this.current = undefined;
  }

  private async request(signal: AbortSignal | undefined): Promise<string> {
    const ctx = { ...this.ctx, signal };
    const { options } = this;
    for (let attempt = 1; ; attempt++) {
      const assertion = await signClientAssertion(options.signing, options.clientId, options.tokenUrl, ctx.now());
      const body = new URLSearchParams({
        grant_type: 'client_credentials',
        scope: options.scope,
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: assertion,
      });
      let response: Response;
      const sentAt = ctx.now();
      try {
        response = await ctx.fetch(options.tokenUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': ctx.userAgent },
          body: body.toString(),
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        });
      } catch (e) {
        if (isAbort(e, ctx.signal) || !isNetworkError(e) || attempt > ctx.retry.maxRetries) throw e;
        const delayMs = retryDelay(undefined, attempt, ctx.retry, ctx.now(), ctx.random);
        ctx.events.emit('retry', { phase: 'token', url: options.tokenUrl, attempt, delayMs, reason: errorMessage(e) });
        await sleep(delayMs, ctx.signal);
        continue;
      }
      if (response.status === 200) {
        const json = (await response.json()) as { access_token?: unknown; expires_in?: unknown; token_type?: unknown };
        if (typeof json.access_token !== 'string' || json.access_token === '') {
          throw new HttpError('The token endpoint answered without an access_token.', 200, options.tokenUrl);
        }
        const lifetimeMs = (typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 300) * 1000;
        const margin = Math.min(this.options.maxRenewMarginMs ?? 60_000, Math.max(1000, lifetimeMs / 4));
        const expiresAt = sentAt + lifetimeMs;
        const renewal = this.issued > 0;
        this.issued++;
        this.current = { token: json.access_token, renewAt: expiresAt - margin };
        ctx.events.emit('token', { expiresAt, renewal });
        return json.access_token;
      }
      const failure = await readFailure(response);
      if (isTransientFailure(response.status, failure.codes) && attempt <= ctx.retry.maxRetries) {
        const delayMs = retryDelay(response, attempt, ctx.retry, ctx.now(), ctx.random);
        ctx.events.emit('retry', { phase: 'token', url: options.tokenUrl, attempt, delayMs, reason: failure.message, status: response.status });
        await sleep(delayMs, ctx.signal);
        continue;
      }
      throw new HttpError(`Token request to ${options.tokenUrl} failed: ${failure.message}`, response.status, options.tokenUrl, failure.codes);
    }
  }
}
