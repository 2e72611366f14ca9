import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread on a module given as the URL of its TypeScript source (`new URL('./x.ts', import.meta.url)`
 * style, but with the `.js` suffix): the compiled `.js` when running from dist/, or the `.ts` through a shim that
 * registers the TypeScript loader when running from the sources.
 */
export function startThread(entry: URL, options: WorkerOptions = {}): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(entry, options);
  const source = new URL(entry.href.replace(/\.js$/, '.ts'));
  return new Worker(new URL('./dev-entry.mjs', import.meta.url), { ...options, argv: [source.href] });
}
