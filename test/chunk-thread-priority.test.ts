/**
 * Export chunk threads run at a lower scheduling priority than the main thread (Linux: each thread has a nice value
 * of its own), so HTTP answers do not queue behind exports for the cores.
 */
import { readdir, readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKGROUND_NICE } from '../src/threads/start-thread.js';
import { startServer, type TestServer } from './helpers/server.js';

const servers: TestServer[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** The nice value of each thread of this process (field 19 of /proc/self/task/<tid>/stat). */
async function niceValues(): Promise<number[]> {
  const out: number[] = [];
  for (const tid of await readdir('/proc/self/task')) {
    try {
      const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push(Number(fields[16]));
    } catch {
      // A thread that ended meanwhile.
    }
  }
  return out;
}

describe.skipIf(process.platform !== 'linux')('chunk thread priority', () => {
  it('runs each chunk thread at the background nice value and leaves the main thread as it was', async () => {
    const before = (await niceValues()).filter((n) => n === BACKGROUND_NICE).length;
    const server = await startServer({ export: { threads: 2 } });
    servers.push(server);
    await server.runtime.threadsStarted();
    const nice = await niceValues();
    expect(nice.filter((n) => n === BACKGROUND_NICE).length - before).toBe(2);
    // The main thread (whose tid is the process id) keeps its priority.
    const main = await readFile(`/proc/self/task/${process.pid}/stat`, 'utf8');
    expect(Number(main.slice(main.lastIndexOf(')') + 2).split(' ')[16])).not.toBe(BACKGROUND_NICE);
  }, 60_000);
});
