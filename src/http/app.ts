import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { type AppContext, type AppDeps, listeningOrigin } from './context.js';
import { answerClientError, checkHeadSize, handleError, MAX_REQUEST_HEAD_BYTES, notFoundOutcome } from './errors.js';
import { adminRoutes } from './routes/admin/index.js';
import { authRoutes } from './routes/auth.js';
import { cohortRoutes } from './routes/cohort.js';
import { consoleRoutes } from './routes/console.js';
import { downloadRoutes } from './routes/downloads.js';
import { exportRoutes } from './routes/export.js';
import { fhirReadRoutes } from './routes/fhir-read.js';
import { metadataRoutes } from './routes/metadata.js';
import { monitoringRoutes } from './routes/monitoring.js';
import { viewRoutes } from './routes/views.js';
import { tlsOptions } from './tls.js';

/** Every request logged at debug, not info (info is for what the server does: kick-offs, jobs); failures at error. */
class DebugRequestLogs extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }

  override routeNotFound(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'route not found');
  }
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const proxies = deps.config.trustedProxies;
  const app = Fastify({
    ...(deps.tls ? { https: tlsOptions(deps.tls) } : {}),
    loggerInstance: deps.log as FastifyBaseLogger,
    logController: new DebugRequestLogs(),
    bodyLimit: 16 * 1024 * 1024,
    // X-Forwarded-For/-Proto count only from the configured proxies (URLs never use them: see AppDeps.origin).
    trustProxy: proxies.length > 0 ? [...proxies] : false,
    // Node's parser refuses heads past this bound on its own (answerClientError); the hook below refuses heads
    // past MAX_REQUEST_HEAD_BYTES as ordinary requests, so those answers are full OperationOutcomes. (Under
    // 64 KiB, the size of one socket read, so that the parser's refusal usually still sees the request line.)
    http: { maxHeaderSize: 2 * MAX_REQUEST_HEAD_BYTES },
    clientErrorHandler: answerClientError,
    routerOptions: { maxParamLength: 500 },
    // A property a schema does not allow is refused (400), not dropped silently.
    ajv: { customOptions: { removeAdditional: false } },
    // Errors raised before routing (bad URLs, over-long parameters) get the same OperationOutcome treatment.
    frameworkErrors: (error, request, reply) => {
      handleError(error, request, reply);
    },
  });
  // Every header reaches the size check (Node keeps only the first 2,000 by default); the parser bounds the bytes.
  app.server.maxHeadersCount = 0;
  const ctx: AppContext = { ...deps, origin: deps.origin ?? (() => listeningOrigin(deps.config, app.server)) };
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
  app.addHook('onRequest', async (request) => checkHeadSize(request));

  await app.register(metadataRoutes(ctx));
  await app.register(fhirReadRoutes(ctx));
  await app.register(cohortRoutes(ctx));
  await app.register(exportRoutes(ctx));
  await app.register(downloadRoutes(ctx));
  await app.register(authRoutes(ctx));
  await app.register(adminRoutes(ctx));
  if (deps.sqlExports) await app.register(viewRoutes({ ...ctx, sqlExports: deps.sqlExports }));
  await app.register(consoleRoutes(ctx));
  if (deps.monitoring) await app.register(monitoringRoutes(deps.monitoring));
  for (const plugin of deps.plugins ?? []) await app.register(plugin);
  return app;
}
