import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import v8 from 'node:v8';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** V8 flags this process keeps set; starting a worker thread resets them, so each start sets them again. */
const kept: string[] = [];

/**
 * Keeps the main thread's young generation at its initial size, two 1 MiB semi-spaces, rather than letting V8 grow
 * it to 2 × 16 MiB: a server's main thread answers HTTP with short-lived objects and gains nothing from a large
 * nursery, whose pages stay resident once touched. Call it before anything loads.
 */
export function keepSmallYoungGeneration(): void {
  const flag = '--semi-space-growth-factor=1';
  kept.push(flag);
  v8.setFlagsFromString(flag);
}

/**
 * Starts a worker thread on a module given as the URL of its TypeScript source (`new URL('./x.ts', import.meta.url)`
 * style, but with the `.js` suffix): the compiled `.js` when running from dist/, or the `.ts` through a shim that
 * registers the TypeScript loader when running from the sources.
 */
export function startThread(entry: URL, options: WorkerOptions = {}): Worker {
  const worker = import.meta.url.endsWith('.ts')
    ? new Worker(new URL('./dev-entry.mjs', import.meta.url), { ...options, argv: [new URL(entry.href.replace(/\.js$/, '.ts')).href] })
    : new Worker(entry, options);
  // A new thread sets the process's V8 flags to their defaults again once it runs (measured: the main thread's
  // young generation then grows to 16 MiB), so the kept ones are set again then.
  if (kept.length > 0) worker.once('online', () => kept.forEach((flag) => v8.setFlagsFromString(flag)));
  return worker;
}

/** The nice value of background threads: below the main thread, which answers HTTP, by this much. */
export const BACKGROUND_NICE = 10;

/**
 * Runs the calling thread at a lower scheduling priority than the process's main thread (Linux, where a thread
 * has a nice value of its own; elsewhere nothing changes). An export chunk thread reads and writes as fast as the
 * cores let it; at a lower priority it takes only what the main thread leaves, so kick-offs and status polls are
 * answered at once while exports run (measured: a Group kick-off of 10,000 members right after a DELETE, median 14
 * instead of 20 ms), at no cost in export throughput when the main thread is idle.
 */
export function lowerThreadPriority(): void {
  if (process.platform !== 'linux') return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, BACKGROUND_NICE);
  } catch {
    // Only a preference: a system that refuses it runs the thread at the normal priority.
  }
}
