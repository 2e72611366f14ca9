/**
 * What the services report for metrics, as plain calls (factory arguments of the services); the Prometheus adapter
 * (prometheus.ts, wired by main.ts) implements it, `noMetrics` ignores everything. Labels are bounded sets: route
 * patterns, methods, statuses, resource types, reasons, never ids, tenants, tokens or patient data.
 */

/** Why a kick-off was refused. */
export type KickoffRefusal =
  | 'rate-limited'
  | 'export-in-progress'
  | 'duplicate'
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'not-acceptable'
  | 'error';

export interface Metrics {
  /** One HTTP request answered: the route pattern (not the URL; 'unmatched' for none), method, status, seconds. */
  httpRequest(route: string, method: string, status: number, seconds: number): void;
  /** A kick-off accepted, or refused and why. */
  kickoff(outcome: 'accepted' | KickoffRefusal): void;
  /** An export chunk completed: its resource type, how long it ran, the resources and bytes it wrote. */
  chunk(result: { type: string; seconds: number; resources: number; bytes: number }): void;
  /** An export chunk attempt failed, why, and whether for good. */
  chunkFailed(type: string, reason: string, final: boolean): void;
  /** An export job finished: completed, or failed and why. */
  jobFinished(state: 'completed' | 'failed', reason?: string): void;
  /** The token endpoint issued a token, or refused one with this OAuth error code. */
  token(outcome: 'issued' | string): void;
  /** A store or object storage operation failed. */
  dependencyError(component: 'store' | 'storage', operation: string): void;
}

export const noMetrics: Metrics = {
  httpRequest() {},
  kickoff() {},
  chunk() {},
  chunkFailed() {},
  jobFinished() {},
  token() {},
  dependencyError() {},
};
