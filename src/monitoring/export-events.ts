import type { ExportEvents } from '../export/events.js';
import type { Metrics } from './ports.js';

/** The export engine's events as metrics: chunk durations, resources and bytes, failures, finished jobs. */
export function exportMetricsEvents(metrics: Metrics): ExportEvents {
  return {
    jobCompleted: () => metrics.jobFinished('completed'),
    jobFailed: (_job, reason) => metrics.jobFinished('failed', reason),
    chunkCompleted: (c) => metrics.chunk({ type: c.type, seconds: c.durationMs / 1000, resources: c.resources, bytes: c.bytes }),
    chunkFailed: (c) => metrics.chunkFailed(c.type, c.reason, c.final),
  };
}
