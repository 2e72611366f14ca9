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
