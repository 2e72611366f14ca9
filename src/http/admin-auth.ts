/**
 * The admin credential: who may use the admin API (and, later, the admin console). Today one bearer token from
 * configuration (`FLATFHIR_ADMIN_TOKEN`); without one the admin surface does not exist.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { AuthService } from '../auth/service.js';
import type { Config } from '../config/index.js';
import { forbidden, unauthorized } from '../fhir/errors.js';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export interface AdminAuth {
  /**
   * Checks an `Authorization` header. Resolves when it carries the admin token; throws a FhirError otherwise:
   * 401 (`login`, with `WWW-Authenticate: Bearer`) when it is missing, malformed or a wrong token, 403 when it is a
   * client's valid SMART access token (a client is never an administrator).
   */
  check(authorization: string | undefined, request?: FastifyRequest): Promise<void>;
}

/**
 * Another admin credential than the bearer token, tried when a request has no Authorization header (the console
 * session, console-session.ts): true when it lets the request in, false when the request does not carry it; it
 * throws a FhirError to refuse one that carries it wrongly (a session request without its CSRF token → 403).
 */
export type AdminCredential = (request: FastifyRequest) => Promise<boolean>;

/** The admin credential check of a configuration, or undefined when no admin token is configured (admin off). */
export function adminAuth(
  config: Pick<Config, 'auth'>,
  auth: Pick<AuthService, 'isAccessToken'> | undefined,
  options: { alternative?: AdminCredential } = {},
): AdminAuth | undefined {
  const token = config.auth.adminToken;
  if (!token) return undefined;
  const expected = digest(token);
  return {
    async check(authorization, request) {
      if (!authorization && request && options.alternative && (await options.alternative(request))) return;
      if (!authorization) throw unauthorized('The admin API requires "Authorization: Bearer <admin token>".');
      const m = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization);
      const presented = m?.[1];
      if (!presented) throw unauthorized('The Authorization header must be "Bearer <admin token>".');
      if (timingSafeEqual(digest(presented), expected)) return;
      if (auth && (await auth.isAccessToken(presented))) {
        throw forbidden('A client access token does not give access to the admin API; use the admin token.');
      }
      throw unauthorized('Invalid admin token.');
    },
  };
}
