import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { unauthorized } from '../../fhir/errors.js';
import type { Readiness } from '../../monitoring/health.js';

export interface MonitoringDeps {
  readiness: Readiness;
  /** Serves /metrics when present. */
  exposition?: { render(): Promise<string>; contentType: string };
  /** The bearer credential /metrics requires; absent: /metrics is open (a listener bound to a private address). */
  metricsToken?: string;
}

const sameSecret = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** `/livez` (the process answers), `/readyz` (its dependencies answer; 503 with the reasons) and `/metrics`. */
export function monitoringRoutes(deps: MonitoringDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/livez', async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));

    app.get('/readyz', async (_request, reply) => {
      const report = await deps.readiness.check();
      return reply
        .code(report.ready ? 200 : 503)
        .header('cache-control', 'no-store')
        .send({ status: report.ready ? 'ok' : 'unavailable', checks: report.checks });
    });

    const exposition = deps.exposition;
    if (!exposition) return;
    app.get('/metrics', async (request, reply) => {
      if (deps.metricsToken !== undefined) {
        const m = /^Bearer[ ]+(\S+)[ ]*$/i.exec(request.headers.authorization ?? '');
        if (!m?.[1] || !sameSecret(m[1], deps.metricsToken)) throw unauthorized('The metrics endpoint needs its bearer credential.');
      }
      return reply.header('cache-control', 'no-store').type(exposition.contentType).send(await exposition.render());
    });
  };
}
