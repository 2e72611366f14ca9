import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AppDeps } from './context.js';
import { handleError, notFoundOutcome } from './errors.js';
import { adminRoutes } from './routes/admin.js';
import { authRoutes } from './routes/auth.js';
import { downloadRoutes } from './routes/downloads.js';
import { exportRoutes } from './routes/export.js';
import { fhirReadRoutes } from './routes/fhir-read.js';
import { metadataRoutes } from './routes/metadata.js';
import { monitoringRoutes } from './routes/monitoring.js';
import { tlsOptions } from './tls.js';

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.tls ? { https: tlsOptions(deps.tls) } : {}),
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: 16 * 1024 * 1024,
    trustProxy: deps.config.publicBaseUrl !== undefined,
    routerOptions: { maxParamLength: 500 },
    // Errors raised before routing (bad URLs, over-long parameters) get the same OperationOutcome treatment.
    frameworkErrors: (error, request, reply) => {
      handleError(error, request, reply);
    },
  });
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser(['application/fhir+json'], { parseAs: 'string' }, jsonParser);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(notFoundOutcome);
  const context = deps.requestContext;
  if (context) {
    // Entered again after the body is parsed: parsing continues in the socket's async context, not the request's.
    app.addHook('onRequest', (request, _reply, done) => context.run(request.id, done));
    app.addHook('preValidation', (request, _reply, done) => context.run(request.id, done));
  }
  const metrics = deps.metrics;
  if (metrics) {
    app.addHook('onResponse', (request, reply, done) => {
      metrics.httpRequest(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }

  await app.register(metadataRoutes(deps));
  await app.register(fhirReadRoutes(deps));
  await app.register(exportRoutes(deps));
  await app.register(downloadRoutes(deps));
  await app.register(authRoutes(deps));
  await app.register(adminRoutes(deps));
  if (deps.monitoring) await app.register(monitoringRoutes(deps.monitoring));
  for (const plugin of deps.plugins ?? []) await app.register(plugin);
  return app;
}
