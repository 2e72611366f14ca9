/**
 * The Metrics port on prom-client, with its own registry (nothing global: each runtime has its own), plus gauges
 * read from the store when scraped (jobs by state, chunks waiting and running) and the process's default metrics.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Metrics } from './ports.js';

export interface StatusCounts {
  jobs: Partial<Record<string, number>>;
  chunks: Partial<Record<string, number>>;
}

/** What the gauges read when scraped. */
export interface GaugeSources {
  /** Jobs and chunks by status, from the store. */
  counts?: () => Promise<StatusCounts>;
  /** Items waiting in the export queue. */
  queueDepth?: () => Promise<number>;
}

export interface PrometheusMetrics extends Metrics {
  /** The exposition text of every metric. */
  render(): Promise<string>;
  readonly contentType: string;
}

const JOB_STATES = ['in-progress', 'completed', 'failed', 'deleted'];
const CHUNK_STATES = ['pending', 'running', 'done', 'failed'];

export function createPrometheusMetrics(options: { role: 'api' | 'worker' } & GaugeSources): PrometheusMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role: options.role });
  collectDefaultMetrics({ register: registry, prefix: 'flatfhir_' });
  const registers = [registry];

  const httpRequests = new Counter({ name: 'flatfhir_http_requests_total', help: 'HTTP requests answered, by route pattern, method and status.', labelNames: ['route', 'method', 'status'], registers });
  const httpDuration = new Histogram({
    name: 'flatfhir_http_request_duration_seconds',
    help: 'HTTP request latency, by route pattern, method and status.',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const kickoffs = new Counter({ name: 'flatfhir_export_kickoffs_total', help: 'Export kick-offs, accepted or refused, by reason.', labelNames: ['outcome', 'reason'], registers });
  const chunkDuration = new Histogram({
    name: 'flatfhir_export_chunk_duration_seconds',
    help: 'Time to run one export chunk that completed, by resource type.',
    labelNames: ['type'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers,
  });
  const resources = new Counter({ name: 'flatfhir_export_resources_total', help: 'Resources written to export files, by type.', labelNames: ['type'], registers });
  const bytes = new Counter({ name: 'flatfhir_export_bytes_total', help: 'Bytes written to export files, by type.', labelNames: ['type'], registers });
  const chunkFailures = new Counter({
    name: 'flatfhir_export_chunk_failures_total',
    help: 'Failed export chunk attempts, by resource type, reason and whether for good (the job then fails).',
    labelNames: ['type', 'reason', 'final'],
    registers,
  });
  const jobsFinished = new Counter({ name: 'flatfhir_export_jobs_finished_total', help: 'Export jobs finished by this process, by state and failure reason.', labelNames: ['state', 'reason'], registers });
  const tokens = new Counter({ name: 'flatfhir_tokens_total', help: 'Token requests: issued, or refused by OAuth error code.', labelNames: ['outcome', 'error'], registers });
  const dependencyErrors = new Counter({
    name: 'flatfhir_dependency_errors_total',
    help: 'Failed store and object storage operations, by component and operation.',
    labelNames: ['component', 'operation'],
    registers,
  });

  if (options.counts) {
    const counts = options.counts;
    // One store query serves both gauges of a scrape (they are collected together).
    let pending: Promise<StatusCounts | undefined> | undefined;
    const read = (): Promise<StatusCounts | undefined> => {
      pending ??= counts()
        .catch(() => {
          dependencyErrors.inc({ component: 'store', operation: 'countByStatus' });
          return undefined;
        })
        .finally(() => {
          pending = undefined;
        });
      return pending;
    };
    new Gauge({
      name: 'flatfhir_export_jobs',
      help: 'Export jobs by state (every process of a deployment reports the same shared figures).',
      labelNames: ['state'],
      registers,
      async collect() {
        const c = await read();
        if (!c) return;
        for (const state of JOB_STATES) this.set({ state }, c.jobs[state] ?? 0);
      },
    });
    new Gauge({
      name: 'flatfhir_export_chunks',
      help: 'Export chunks by state (pending: not yet run, running: in work on some worker).',
      labelNames: ['state'],
      registers,
      async collect() {
        const c = await read();
        if (!c) return;
        for (const state of CHUNK_STATES) this.set({ state }, c.chunks[state] ?? 0);
      },
    });
  }

  if (options.queueDepth) {
    const depth = options.queueDepth;
    new Gauge({
      name: 'flatfhir_export_queue_depth',
      help: 'Export chunks waiting in the queue (not yet taken by a worker).',
      registers,
      async collect() {
        try {
          this.set(await depth());
        } catch {
          dependencyErrors.inc({ component: 'store', operation: 'queueDepth' });
        }
      },
    });
  }

  return {
    contentType: registry.contentType,
    render: () => registry.metrics(),
    httpRequest(route, method, status, seconds) {
      const labels = { route, method, status: String(status) };
      httpRequests.inc(labels);
      httpDuration.observe(labels, seconds);
    },
    kickoff(outcome) {
      kickoffs.inc(outcome === 'accepted' ? { outcome: 'accepted', reason: '' } : { outcome: 'refused', reason: outcome });
    },
    chunk({ type, seconds, resources: n, bytes: b }) {
      chunkDuration.observe({ type }, seconds);
      if (n > 0) resources.inc({ type }, n);
      if (b > 0) bytes.inc({ type }, b);
    },
    chunkFailed(type, reason, final) {
      chunkFailures.inc({ type, reason, final: String(final) });
    },
    jobFinished(state, reason) {
      jobsFinished.inc({ state, reason: reason ?? '' });
    },
    token(outcome) {
      tokens.inc(outcome === 'issued' ? { outcome: 'issued', error: '' } : { outcome: 'refused', error: outcome });
    },
    dependencyError(component, operation) {
      dependencyErrors.inc({ component, operation });
    },
  };
}
