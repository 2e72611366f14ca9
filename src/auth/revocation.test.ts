import { describe, expect, it } from 'vitest';
import { createRevocationList } from './revocation.js';

describe('revocation list', () => {
  const setup = (cacheMs: number) => {
    const clock = { now: 100_000 };
    const revoked = new Map<string, number>();
    let reads = 0;
    const list = createRevocationList({
      clients: {
        async revocations(since) {
          reads++;
          return new Map([...revoked].filter(([, at]) => at > since));
        },
      },
      cacheMs,
      lookbackMs: 10_000,
      now: () => clock.now,
    });
    return { clock, revoked, list, reads: () => reads };
  };

  it('voids the tokens issued before the revocation only', async () => {
    const { revoked, list } = setup(0);
    revoked.set('c', 95_500);
    expect(await list.isRevoked('c', 95)).toBe(true); // issued at 95.0 s, before 95.5 s
    expect(await list.isRevoked('c', 96)).toBe(false);
    expect(await list.isRevoked('c', undefined)).toBe(true);
    expect(await list.isRevoked('other', 95)).toBe(false);
  });

  it('reads the store at most once per cache period, and again at once when invalidated', async () => {
    const { clock, revoked, list, reads } = setup(1000);
    expect(await list.isRevoked('c', 99)).toBe(false);
    revoked.set('c', 100_000);
    expect(await list.isRevoked('c', 99)).toBe(false); // still the list read a moment ago
    expect(reads()).toBe(1);
    clock.now += 1000;
    expect(await list.isRevoked('c', 99)).toBe(true);
    expect(reads()).toBe(2);
    revoked.set('d', 101_000);
    list.invalidate();
    expect(await list.isRevoked('d', 100)).toBe(true);
    expect(reads()).toBe(3);
  });

  it('shares one read among concurrent checks', async () => {
    const { list, reads } = setup(0);
    await Promise.all(Array.from({ length: 10 }, () => list.isRevoked('c', 1)));
    expect(reads()).toBe(1);
  });
});
