import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate-limit.js';

describe('createRateLimiter', () => {
  it('allows `limit` takes per key, then says when to retry', () => {
    let t = 1_000_000;
    const limiter = createRateLimiter({ limit: 3, windowMs: 60_000, now: () => t });
    for (let i = 0; i < 3; i++) expect(limiter.take('a')).toEqual({ ok: true });
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterSeconds: 20 });
    expect(limiter.take('b')).toEqual({ ok: true });
    t += 19_000;
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterSeconds: 1 });
    t += 1_000;
    expect(limiter.take('a')).toEqual({ ok: true });
    expect(limiter.take('a').ok).toBe(false);
    t += 60_000;
    for (let i = 0; i < 3; i++) expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a').ok).toBe(false);
  });

  it('gives small integer Retry-After values and forgets idle keys', () => {
    let t = 0;
    const limiter = createRateLimiter({ limit: 1, windowMs: 500, now: () => t, maxKeys: 2 });
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterSeconds: 1 });
    t += 1000;
    expect(limiter.take('b').ok).toBe(true);
    expect(limiter.take('c').ok).toBe(true); // sweeps the refilled bucket of "a"
    expect(limiter.take('a').ok).toBe(true);
  });

  it('peeks without taking, and takes back a refunded unit', () => {
    const t = 0;
    const limiter = createRateLimiter({ limit: 2, windowMs: 60_000, now: () => t });
    expect(limiter.peek('a')).toEqual({ ok: true });
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.peek('a')).toEqual({ ok: false, retryAfterSeconds: 30 });
    limiter.refund('a');
    expect(limiter.peek('a')).toEqual({ ok: true });
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a').ok).toBe(false);
    // a refund never raises a bucket above its limit
    limiter.refund('b');
    for (let i = 0; i < 2; i++) limiter.refund('a');
    limiter.refund('a');
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a').ok).toBe(false);
  });

  it('rejects nonsense options', () => {
    expect(() => createRateLimiter({ limit: 0, windowMs: 1000 })).toThrow();
    expect(() => createRateLimiter({ limit: 1, windowMs: 0 })).toThrow();
  });
});
