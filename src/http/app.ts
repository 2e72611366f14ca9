import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Caller } from '../auth/access.js';
import type { AuthService } from '../auth/service.js';
import { type Config, publicOrigin } from '../config/index.js';
import type { ExportService } from '../export/service.js';
import type { ObjectStorage } from '../storage/ports.js';
import type { Store } from '../store/ports.js';
import { handleError, notFoundOutcome } from './errors.js';
import { adminRoutes } from './routes/admin.js';
import { authRoutes } from './routes/auth.js';
import { downloadRoutes } from './routes/downloads.js';
import { exportRoutes } from './routes/export.js';
import { fhirReadRoutes } from './routes/fhir-read.js';
import { metadataRoutes } from './routes/metadata.js';

export interface AppDeps {
  config: Config;
  store: Store;
  storage: ObjectStorage;
  auth: AuthService;
  exports: ExportService;
  log: Logger;
  /** Further route plugins. */
  plugins?: FastifyPluginAsync[];
  now?: () => number;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

/** The origin clients see: the configured public base URL, else this request's own scheme and host. */
export function requestOrigin(config: Config, request: FastifyRequest): string {
  if (config.publicBaseUrl) return publicOrigin(config);
  const host = request.headers.host ?? `${config.host}:${config.port}`;
  return `${request.protocol}://${host}`;
}

export const fhirBase = (origin: string, tenant: string): string => `${origin}/r4/${tenant}`;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
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

/** preHandler body: authenticates the caller of a tenant's FHIR endpoint. */
export async function authenticate(deps: AppDeps, request: FastifyRequest): Promise<Caller> {
  const tenant = (request.params as { tenant: string }).tenant;
  const caller = await deps.auth.authenticate(tenant, request.headers.authorization);
  request.caller = caller;
  return caller;
}
