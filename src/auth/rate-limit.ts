/**
 * A small in-memory rate limiter (token bucket per key): at most `limit` takes in a burst, refilled at `limit` per
 * `windowMs`. So "60 per minute" allows 60 at once, then one a second. Per process: with several server processes
 * each one counts on its own.
 */
export type RateLimitResult = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Takes one unit for `key`; when none is left, says how many whole seconds until the next one. */
  take(key: string): RateLimitResult;
  /** What `take` would answer now, without taking anything. */
  peek(key: string): RateLimitResult;
  /** Gives back one unit taken for `key` (the request it was taken for turned out to cost nothing). */
  refund(key: string): void;
}

export interface RateLimiterOptions {
  limit: number;
  windowMs: number;
  now?: () => number;
  /** When more keys than this are tracked, full (idle) buckets are dropped. */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { limit, windowMs } = options;
  if (!Number.isFinite(limit) || limit < 1) throw new Error('rate limit must be at least 1');
  if (!Number.isFinite(windowMs) || windowMs <= 0) throw new Error('rate limit window must be positive');
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 10_000;
  const perMs = limit / windowMs;
  const buckets = new Map<string, Bucket>();

  const refill = (b: Bucket, t: number): void => {
    if (t > b.updatedAt) {
      b.tokens = Math.min(limit, b.tokens + (t - b.updatedAt) * perMs);
      b.updatedAt = t;
    }
  };

  const sweep = (t: number): void => {
    for (const [key, b] of buckets) {
      refill(b, t);
      if (b.tokens >= limit) buckets.delete(key);
    }
  };

  const answer = (b: Bucket | undefined): RateLimitResult => {
    if (!b || b.tokens >= 1) return { ok: true };
    const waitMs = (1 - b.tokens) / perMs;
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  };

  return {
    take(key) {
      const t = now();
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= maxKeys) sweep(t);
        b = { tokens: limit, updatedAt: t };
        buckets.set(key, b);
      }
      refill(b, t);
      const result = answer(b);
      if (result.ok) b.tokens -= 1;
      return result;
    },
    peek(key) {
      const b = buckets.get(key);
      if (b) refill(b, now());
      return answer(b);
    },
    refund(key) {
      const b = buckets.get(key);
      if (!b) return;
      refill(b, now());
      b.tokens = Math.min(limit, b.tokens + 1);
    },
  };
}
