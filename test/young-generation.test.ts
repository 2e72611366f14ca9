/**
 * A server's main thread keeps its young generation small even after it has started worker threads (starting
 * one sets V8's flags to their defaults again, which let the young generation grow to 2 × 16 MiB). Runs the
 * compiled build (dist/), as users run the server.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

async function newSpaceMb(mode: 'keep' | 'default'): Promise<number> {
  const child = spawn(process.execPath, ['test/helpers/young-generation.mjs', mode], { cwd: join(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`the child exited with ${code}: ${err}`);
  return (JSON.parse(out.trim().split('\n').pop() as string) as { newSpaceMb: number }).newSpaceMb;
}

describe('the main thread young generation', () => {
  it('stays at its initial size after a worker thread starts when kept small, and grows when not', async () => {
    const [kept, grown] = await Promise.all([newSpaceMb('keep'), newSpaceMb('default')]);
    expect(kept).toBeLessThanOrEqual(4);
    expect(grown).toBeGreaterThan(8);
  }, 60_000);
});
