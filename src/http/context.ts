/**
 * What the HTTP routes share: the dependencies the app is built from, the caller on the request, the public
 * origin and the FHIR base URL. Imports no route, so `app.ts` sits on top of the routes and this module.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Caller } from '../auth/access.js';
import type { AuthService } from '../auth/service.js';
import { type Config, publicOrigin } from '../config/index.js';
import type { ExportService } from '../export/service.js';
import type { ObjectStorage } from '../storage/ports.js';
import type { Store } from '../store/ports.js';
import type { TlsCredentials } from './tls.js';

export interface AppDeps {
  config: Config;
  store: Store;
  storage: ObjectStorage;
  auth: AuthService;
  exports: ExportService;
  log: Logger;
  /** Serve HTTPS with this certificate (TLS 1.2 at least) instead of HTTP. */
  tls?: TlsCredentials;
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

/** preHandler body: authenticates the caller of a tenant's FHIR endpoint. */
export async function authenticate(deps: AppDeps, request: FastifyRequest): Promise<Caller> {
  const tenant = (request.params as { tenant: string }).tenant;
  const caller = await deps.auth.authenticate(tenant, request.headers.authorization);
  request.caller = caller;
  return caller;
}
