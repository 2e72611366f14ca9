/**
 * What the HTTP routes share: the dependencies the app is built from, the caller on the request, the public
 * origin and the FHIR base URL. Imports no route, so `app.ts` sits on top of the routes and this module.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { notAcceptable } from '../fhir/errors.js';
import type { AuditTrail } from '../manage/audit-trail.js';
import type { Caller } from '../auth/access.js';
import type { AuthService } from '../auth/service.js';
import { type Config, publicOrigin } from '../config/index.js';
import type { ExportService } from '../export/service.js';
import type { ObjectStorage } from '../storage/ports.js';
import type { Store } from '../store/ports.js';
import type { Metrics } from '../monitoring/ports.js';
import type { RequestContext } from '../monitoring/request-context.js';
import type { MonitoringDeps } from './routes/monitoring.js';
import type { TlsCredentials } from './tls.js';
import type { SqlExportService } from '../views/export-job.js';

export interface AppDeps {
  config: Config;
  store: Store;
  storage: ObjectStorage;
  auth: AuthService;
  exports: ExportService;
  /** The audit trail the routes record to (requests, outcomes; never credentials). */
  audit?: AuditTrail;
  /** `$sql-export` jobs (SQL on FHIR); absent, the SQL on FHIR routes are not served. */
  sqlExports?: SqlExportService;
  log: Logger;
  /** Request counts and latencies, kick-off outcomes. */
  metrics?: Metrics;
  /** `/livez`, `/readyz` (and `/metrics`) on this listener. */
  monitoring?: MonitoringDeps;
  /** Carries each request's id to every log line written while serving it. */
  requestContext?: RequestContext;
  /** Serve HTTPS with this certificate (TLS 1.2 at least) instead of HTTP. */
  tls?: TlsCredentials;
  /** Further route plugins. */
  plugins?: FastifyPluginAsync[];
  now?: () => number;
  /**
   * The origin clients see, for every URL the server answers and the token `aud` check; `buildApp` defaults it
   * to `listeningOrigin` of its own server. Never taken from a request's Host or X-Forwarded-* headers.
   */
  origin?: () => string;
}

/** What the routes are given: the dependencies with the public origin settled. */
export interface AppContext extends AppDeps {
  origin: () => string;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

/** The public origin of a server: the configured public base URL, else the address it listens on. */
export function listeningOrigin(config: Config, server: { address(): AddressInfo | string | null }): string {
  const address = server.address();
  return publicOrigin(config, typeof address === 'object' && address ? address.port : undefined);
}

export const fhirBase = (origin: string, tenant: string): string => `${origin}/r4/${tenant}`;

/** preHandler body: authenticates the caller of a tenant's FHIR endpoint. */
export async function authenticate(deps: AppDeps, request: FastifyRequest): Promise<Caller> {
  const tenant = (request.params as { tenant: string }).tenant;
  const caller = await deps.auth.authenticate(tenant, request.headers.authorization);
  request.caller = caller;
  return caller;
}

/** Status URLs and their DELETE accept application/json and application/fhir+json (or anything generic). */
export function checkJsonAccept(request: FastifyRequest): void {
  const accept = request.headers.accept;
  if (!accept) return;
  const ok = accept
    .split(',')
    .map((a) => a.split(';')[0]?.trim().toLowerCase())
    .some((a) => a === 'application/json' || a === 'application/fhir+json' || a === '*/*' || a === 'application/*');
  if (!ok) throw notAcceptable(`Accept "${accept}" is not supported: use application/fhir+json or application/json.`);
}
