import type { FastifyRequest } from 'fastify';
import type { AuditInput } from '../manage/audit-trail.js';
import { OAuthError } from '../auth/oauth-error.js';
import { FhirError } from '../fhir/errors.js';
import type { AppDeps } from './context.js';

/** The HTTP status and the reason an error answers with, for the audit trail (a 500's detail stays in the log). */
export function failureOf(e: unknown): { status: number; detail: string } {
  if (e instanceof FhirError) return { status: e.status, detail: e.status >= 500 && e.code === 'exception' ? 'internal error' : e.message };
  if (e instanceof OAuthError) return { status: e.status, detail: `${e.error}: ${e.message}` };
  const status = (e as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? { status, detail: String((e as Error).message) } : { status: 500, detail: 'internal error' };
}

/**
 * Records a request in the audit trail: where it came from (the peer's address, or the X-Forwarded-For of a
 * trusted proxy) and what it asked (method and URL, credential-like query parameters cut), with what the
 * route adds (action, outcome, tenant, client, job).
 */
export function auditRequest(deps: Pick<AppDeps, 'audit'>, request: FastifyRequest, fields: Omit<AuditInput, 'source' | 'request'> & { request?: string }): void {
  deps.audit?.record({ source: request.ip, request: `${request.method} ${request.url}`, ...fields });
}
