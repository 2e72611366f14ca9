import { describe, expect, it } from 'vitest';
import { advisedRetryAfter, createStatusViewCache, MAX_RETRY_AFTER_SECONDS } from './status-view.js';

describe('advised Retry-After', () => {
  const start = 1_000_000;
  it('grows with the expected remaining time, between the base and the maximum', () => {
    // 10,000 of 1,000,000 done in 10 s: 990 s to go, about a tenth of it advised.
    expect(advisedRetryAfter({ createdAt: start, doneResources: 10_000, totalResources: 1_000_000 }, start + 10_000, 2)).toBe(60);
    expect(advisedRetryAfter({ createdAt: start, doneResources: 1_000, totalResources: 1_000_000 }, start + 100_000, 2)).toBe(MAX_RETRY_AFTER_SECONDS);
    expect(advisedRetryAfter({ createdAt: start, doneResources: 500_000, totalResources: 1_000_000 }, start + 100_000, 2)).toBe(10);
    expect(advisedRetryAfter({ createdAt: start, doneResources: 500_000, totalResources: 600_000 }, start + 100_000, 2)).toBe(2);
    expect(advisedRetryAfter({ createdAt: start, doneResources: 400_000, totalResources: 1_000_000 }, start + 100_000, 2)).toBe(15);
    const remaining = [900_000, 700_000, 500_000, 300_000, 100_000].map((done) =>
      advisedRetryAfter({ createdAt: start, doneResources: done, totalResources: 1_000_000 }, start + done / 1000 * 100, 1),
    );
    // The further along, the shorter the advice.
    expect(remaining).toEqual([...remaining].sort((a, b) => a - b));
    expect(new Set(remaining).size).toBeGreaterThan(2);
  });
  it('uses the job size before anything is done, and never goes below the base', () => {
    expect(advisedRetryAfter({ createdAt: start, doneResources: 0, totalResources: 100 }, start + 5000, 2)).toBe(2);
    expect(advisedRetryAfter({ createdAt: start, doneResources: 0, totalResources: 5_000_000 }, start + 5000, 2)).toBe(7);
    expect(advisedRetryAfter({ createdAt: start, doneResources: 100, totalResources: 100 }, start + 5000, 3)).toBe(3);
  });
});

describe('status view cache', () => {
  const job = { id: 'j1', tenant: 't', clientId: 'c' };
  const view = { state: 'in-progress' as const, progress: '0%', retryAfter: 4 };
  it('keeps a view for a quarter of its Retry-After, for the job owner only, until dropped', () => {
    const cache = createStatusViewCache();
    cache.put(job, view, 0);
    expect(cache.get(job, 999)).toBe(view);
    expect(cache.get({ ...job, clientId: 'other' }, 10)).toBeUndefined();
    expect(cache.get({ ...job, tenant: 'other' }, 10)).toBeUndefined();
    expect(cache.get(job, 1000)).toBeUndefined();
    cache.put(job, view, 2000);
    cache.drop('j1');
    expect(cache.get(job, 2001)).toBeUndefined();
  });
  it('holds at most its bound, dropping the oldest', () => {
    const cache = createStatusViewCache(2);
    for (const id of ['a', 'b', 'c']) cache.put({ ...job, id }, view, 0);
    expect(cache.get({ ...job, id: 'a' }, 1)).toBeUndefined();
    expect(cache.get({ ...job, id: 'c' }, 1)).toBe(view);
  });
});
