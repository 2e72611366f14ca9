/**
 * A server's main thread keeps its young generation small even after it has started worker threads (starting
 * one sets V8's flags to their defaults again, which let the young generation grow to 2 × 16 MiB). Runs the
 * compiled build (dist/), as users run the server.
 */
import { describe, expect, it } from 'vitest';
import { lastJsonLine } from './helpers/process.js';

async function newSpaceMb(mode: 'keep' | 'default'): Promise<number> {
  return (await lastJsonLine<{ newSpaceMb: number }>(['test/helpers/young-generation.mjs', mode])).newSpaceMb;
}

describe('the main thread young generation', () => {
  it('stays at its initial size after a worker thread starts when kept small, and grows when not', async () => {
    const [kept, grown] = await Promise.all([newSpaceMb('keep'), newSpaceMb('default')]);
    expect(kept).toBeLessThanOrEqual(4);
    expect(grown).toBeGreaterThan(8);
  }, 60_000);
});
