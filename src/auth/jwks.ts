import { importJWK, type JWK } from 'jose';

/** The client assertion algorithms flatfhir accepts (and advertises). Everything else is rejected, RS256 included. */
export const ASSERTION_ALGS = ['RS384', 'ES384'] as const;
export type AssertionAlg = (typeof ASSERTION_ALGS)[number];
export const isAssertionAlg = (alg: unknown): alg is AssertionAlg => (ASSERTION_ALGS as readonly unknown[]).includes(alg);

export interface Jwks {
  keys: JWK[];
}

/** JWK members that carry private or symmetric key material. */
export const PRIVATE_JWK_MEMBERS: readonly string[] = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

export const hasPrivateMaterial = (jwk: Record<string, unknown>): boolean => PRIVATE_JWK_MEMBERS.some((m) => m in jwk);

/** A JWK without its private members. */
export const publicJwkOf = (jwk: JWK): JWK =>
  Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE_JWK_MEMBERS.includes(k))) as JWK;

/** Whether a key may verify an assertion signed with `alg`: kty (and curve) fit, and its own use/alg/key_ops allow it. */
export function keyFitsAlg(jwk: JWK, alg: AssertionAlg): boolean {
  if (alg === 'RS384' ? jwk.kty !== 'RSA' : jwk.kty !== 'EC' || jwk.crv !== 'P-384') return false;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify')) return false;
  return true;
}

/** The algorithm a registered key is meant for (RSA → RS384, EC P-384 → ES384), or undefined when unusable. */
export function algForKey(jwk: JWK): AssertionAlg | undefined {
  return ASSERTION_ALGS.find((alg) => keyFitsAlg(jwk, alg));
}

export class JwksError extends Error {}

/**
 * Validates a JWKS given at registration: `{ keys: [...] }` of 1–20 public RSA (≥ 2048 bits) or EC P-384 keys, each
 * with a `kid`, no private material, no two keys with the same kid and kty. Returns the keys as given.
 */
export async function validatePublicJwks(value: unknown): Promise<Jwks> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new JwksError('the JWKS must be a JSON object with "keys"');
  const keys = (value as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new JwksError('the JWKS must have a non-empty "keys" array');
  if (keys.length > 20) throw new JwksError('the JWKS may hold at most 20 keys');
  const seen = new Set<string>();
  const out: JWK[] = [];
  for (const [i, k] of keys.entries()) {
    if (typeof k !== 'object' || k === null || Array.isArray(k)) throw new JwksError(`keys[${i}] is not a JSON object`);
    const jwk = k as JWK & Record<string, unknown>;
    if (hasPrivateMaterial(jwk)) throw new JwksError(`keys[${i}] holds private key material; register public keys only`);
    if (typeof jwk.kid !== 'string' || jwk.kid.length === 0) throw new JwksError(`keys[${i}] has no "kid"`);
    const alg = algForKey(jwk);
    if (!alg) {
      throw new JwksError(`keys[${i}] (kid ${jwk.kid}) is not usable for RS384 (kty RSA) or ES384 (kty EC, crv P-384) signature verification`);
    }
    try {
      await importJWK(jwk, alg);
    } catch (e) {
      throw new JwksError(`keys[${i}] (kid ${jwk.kid}) is not a valid ${alg} public key: ${(e as Error).message}`);
    }
    const id = `${jwk.kty}:${jwk.kid}`;
    if (seen.has(id)) throw new JwksError(`two keys share kid ${jwk.kid} and kty ${jwk.kty}`);
    seen.add(id);
    out.push(jwk);
  }
  return { keys: out };
}

export interface JwksCacheOptions {
  /** Abort a fetch after this long. */
  timeoutMs?: number;
  /** Refuse a JWKS document larger than this. */
  maxBytes?: number;
  /** Freshness when the response has no Cache-Control max-age. */
  defaultMaxAgeSeconds?: number;
  /** Upper bound on a response's max-age. */
  maxMaxAgeSeconds?: number;
  /** A forced refresh (unknown kid) happens at most this often per URL. */
  minRefreshIntervalMs?: number;
  now?: () => number;
  fetch?: typeof fetch;
}

interface CacheEntry {
  jwks: Jwks;
  fetchedAt: number;
  freshUntil: number;
}

/** The freshness lifetime a response allows, in seconds (RFC 9111: no-store/no-cache → 0, else max-age − Age). */
export function freshnessSeconds(cacheControl: string | null, age: string | null, fallback: number, max: number): number {
  if (cacheControl) {
    const directives = cacheControl.split(',').map((d) => d.trim().toLowerCase());
    if (directives.some((d) => d === 'no-store' || d === 'no-cache')) return 0;
    for (const d of directives) {
      const m = /^max-age\s*=\s*"?(\d+)"?$/.exec(d);
      if (m) {
        const ageSeconds = age && /^\d+$/.test(age.trim()) ? Number(age.trim()) : 0;
        return Math.max(0, Math.min(max, Number(m[1]) - ageSeconds));
      }
    }
  }
  return fallback;
}

/**
 * Fetches registered JWKS URLs (http or https) with a timeout and a size limit, caching each document for as long
 * as its Cache-Control allows. Concurrent requests for one URL share a fetch. Keys with private material in a
 * fetched document are ignored.
 */
export class JwksCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<CacheEntry>>();
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly defaultMaxAge: number;
  private readonly maxMaxAge: number;
  private readonly minRefreshIntervalMs: number;
  private readonly now: () => number;
  private readonly fetchFn: typeof fetch;

  constructor(options: JwksCacheOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.maxBytes = options.maxBytes ?? 256 * 1024;
    this.defaultMaxAge = options.defaultMaxAgeSeconds ?? 300;
    this.maxMaxAge = options.maxMaxAgeSeconds ?? 24 * 3600;
    this.minRefreshIntervalMs = options.minRefreshIntervalMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.fetchFn = options.fetch ?? fetch;
  }

  /** The JWKS at `url`: from the cache while fresh, else fetched. `refresh` asks for a refetch (rate-limited). */
  async get(url: string, options: { refresh?: boolean } = {}): Promise<Jwks> {
    const entry = this.entries.get(url);
    const t = this.now();
    if (entry && t < entry.freshUntil && !(options.refresh && t - entry.fetchedAt >= this.minRefreshIntervalMs)) return entry.jwks;
    let pending = this.inflight.get(url);
    if (!pending) {
      pending = this.fetchJwks(url).finally(() => this.inflight.delete(url));
      this.inflight.set(url, pending);
    }
    const fresh = await pending;
    this.entries.set(url, fresh);
    return fresh.jwks;
  }

  /** Whether a document for the URL is cached and fresh (for tests and diagnostics). */
  isFresh(url: string): boolean {
    const e = this.entries.get(url);
    return e !== undefined && this.now() < e.freshUntil;
  }

  private async fetchJwks(url: string): Promise<CacheEntry> {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new JwksError(`JWKS URL scheme ${parsed.protocol} is not supported`);
    const signal = AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    try {
      res = await this.fetchFn(url, { headers: { accept: 'application/json, application/jwk-set+json' }, signal, redirect: 'follow' });
    } catch (e) {
      throw new JwksError(`fetching the JWKS failed: ${(e as Error).name === 'TimeoutError' ? 'timed out' : (e as Error).message}`);
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw new JwksError(`fetching the JWKS answered HTTP ${res.status}`);
    }
    const text = await this.readLimited(res, signal);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new JwksError('the JWKS URL did not return JSON');
    }
    const keys = (doc as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(keys)) throw new JwksError('the JWKS URL did not return a JWK Set');
    const publicKeys = keys.filter(
      (k): k is JWK => typeof k === 'object' && k !== null && !Array.isArray(k) && !hasPrivateMaterial(k as Record<string, unknown>),
    );
    const t = this.now();
    const maxAge = freshnessSeconds(res.headers.get('cache-control'), res.headers.get('age'), this.defaultMaxAge, this.maxMaxAge);
    return { jwks: { keys: publicKeys }, fetchedAt: t, freshUntil: t + maxAge * 1000 };
  }

  private async readLimited(res: Response, signal: AbortSignal): Promise<string> {
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > this.maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw new JwksError(`the JWKS is larger than ${this.maxBytes} bytes`);
    }
    if (!res.body) return '';
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      for (;;) {
        if (signal.aborted) throw new JwksError('fetching the JWKS timed out');
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > this.maxBytes) throw new JwksError(`the JWKS is larger than ${this.maxBytes} bytes`);
        chunks.push(value);
      }
    } catch (e) {
      await reader.cancel().catch(() => undefined);
      if (e instanceof JwksError) throw e;
      throw new JwksError(`reading the JWKS failed: ${(e as Error).name === 'TimeoutError' ? 'timed out' : (e as Error).message}`);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}
