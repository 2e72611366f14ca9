import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AppDeps } from './context.js';
import { handleError, notFoundOutcome } from './errors.js';
import { adminRoutes } from './routes/admin.js';
import { authRoutes } from './routes/auth.js';
import { downloadRoutes } from './routes/downloads.js';
import { exportRoutes } from './routes/export.js';
import { fhirReadRoutes } from './routes/fhir-read.js';
import { metadataRoutes } from './routes/metadata.js';
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

  await app.register(metadataRoutes(deps));
  await app.register(fhirReadRoutes(deps));
  await app.register(exportRoutes(deps));
  await app.register(downloadRoutes(deps));
  await app.register(authRoutes(deps));
  await app.register(adminRoutes(deps));
  for (const plugin of deps.plugins ?? []) await app.register(plugin);
  return app;
}
