import type { ExportEmitter } from './events.js';
import type { RetryPolicy } from './http.js';

/** What every protocol step needs: how to fetch, where to report, how to wait and how long to persist. */
export interface ClientContext {
  fetch: typeof globalThis.fetch;
  events: ExportEmitter;
  retry: RetryPolicy;
  now: () => number;
  random: () => number;
  signal: AbortSignal | undefined;
  /** Sent as `User-Agent`. */
  userAgent: string;
}
