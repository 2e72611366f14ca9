/**
 * The request a piece of work belongs to, carried through async calls (AsyncLocalStorage), so that every log line
 * written while a request is served (by the routes, the services, the stores) carries its request id. The HTTP
 * edge enters it for each request; the logger reads it (main.ts's createLogger).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface RequestContext {
  /** Runs `fn` (and everything it starts) as part of the request `reqId`. */
  run<T>(reqId: string, fn: () => T): T;
  /** The request id of the work running now, if any. */
  current(): string | undefined;
}

export function createRequestContext(): RequestContext {
  const storage = new AsyncLocalStorage<string>();
  return {
    run: (reqId, fn) => storage.run(reqId, fn),
    current: () => storage.getStore(),
  };
}
