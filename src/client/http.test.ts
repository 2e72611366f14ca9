import { describe, expect, it } from 'vitest';
import { backoffDelay, isTransientFailure, parseRetryAfter, readFailure, sleep } from './http.js';

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it('reads delay-seconds and HTTP-dates', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', now)).toBe(0); // in the past
  });
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  const policy = { baseDelayMs: 1000, maxDelayMs: 8000 };
  it('doubles with equal jitter and is capped', () => {
    expect(backoffDelay(1, policy, () => 0)).toBe(500);
    expect(backoffDelay(1, policy, () => 1)).toBe(1000);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(3000);
    expect(backoffDelay(10, policy, () => 1)).toBe(8000);
  });
});

describe('failures', () => {
  it('tells transient from permanent', () => {
    expect(isTransientFailure(429, [])).toBe(true);
    expect(isTransientFailure(503, [])).toBe(true);
    expect(isTransientFailure(400, ['transient'])).toBe(true);
    expect(isTransientFailure(400, ['throttled'])).toBe(true);
    expect(isTransientFailure(400, ['invalid'])).toBe(false);
    expect(isTransientFailure(404, [])).toBe(false);
  });
  it('reads OperationOutcomes, OAuth errors and text', async () => {
    const oo = new Response(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: 'bad _type' }] }), { status: 400 });
    expect(await readFailure(oo)).toEqual({ codes: ['invalid'], message: 'HTTP 400 (invalid): bad _type' });
    const oauth = new Response(JSON.stringify({ error: 'invalid_client', error_description: 'unknown kid' }), { status: 401 });
    expect(await readFailure(oauth)).toEqual({ codes: ['invalid_client'], message: 'HTTP 401 invalid_client: unknown kid' });
    expect(await readFailure(new Response('gateway down', { status: 502 }))).toEqual({ codes: [], message: 'HTTP 502: gateway down' });
  });
});

describe('sleep', () => {
  it('rejects when aborted', async () => {
    const c = new AbortController();
    const p = sleep(10_000, c.signal);
    c.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  });
});
