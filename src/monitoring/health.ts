/**
 * Liveness and readiness. Live: the process answers. Ready: every dependency answers (the store, with its
 * migrations applied; the object storage) within a timeout. Failures name the dependency and a short reason fit
 * for an unauthenticated probe; details go to the log once per change of state.
 */
import type { Logger } from 'pino';

export interface ReadinessCheck {
  name: string;
  /** Resolves when the dependency can be used; rejects otherwise. */
  check(): Promise<void>;
  /** The reason shown for a failure (the error's own text is logged, not shown). */
  reason(error: unknown): string;
}

export interface ReadinessReport {
  ready: boolean;
  /** 'ok' or the reason of the failure, per check. */
  checks: Record<string, string>;
}

export interface Readiness {
  check(): Promise<ReadinessReport>;
}

const withTimeout = (p: Promise<void>, ms: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });

export function createReadiness(checks: ReadinessCheck[], options: { log: Logger; timeoutMs?: number }): Readiness {
  const timeoutMs = options.timeoutMs ?? 3000;
  const last = new Map<string, string>();
  return {
    async check() {
      const results = await Promise.all(
        checks.map(async (c): Promise<[string, string]> => {
          try {
            await withTimeout(c.check(), timeoutMs);
            if (last.get(c.name) !== 'ok' && last.has(c.name)) options.log.info({ check: c.name }, 'readiness check recovered');
            last.set(c.name, 'ok');
            return [c.name, 'ok'];
          } catch (e) {
            const reason = /^no answer within/.test((e as Error).message) ? `no answer within ${timeoutMs} ms` : c.reason(e);
            if (last.get(c.name) !== reason) options.log.warn({ check: c.name, err: e }, 'readiness check failed');
            last.set(c.name, reason);
            return [c.name, reason];
          }
        }),
      );
      return { ready: results.every(([, r]) => r === 'ok'), checks: Object.fromEntries(results) };
    },
  };
}

/** The checks of a process over the store and the object storage. */
export function dependencyChecks(deps: { store: { check(): Promise<void> }; storage: { check(): Promise<void> } }): ReadinessCheck[] {
  return [
    {
      name: 'store',
      check: () => deps.store.check(),
      reason: (e) => {
        const message = e instanceof Error ? e.message : '';
        return message.startsWith('migrations not applied') ? message : 'the database does not answer';
      },
    },
    { name: 'storage', check: () => deps.storage.check(), reason: () => 'the object storage cannot be reached or written' },
  ];
}
