/**
 * The admin credential: who may use the admin API (and, later, the admin console). Today one bearer token from
 * configuration (`FLATFHIR_ADMIN_TOKEN`); without one the admin surface does not exist.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
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
  check(authorization: string | undefined): Promise<void>;
}

/** The admin credential check of a configuration, or undefined when no admin token is configured (admin off). */
export function adminAuth(config: Pick<Config, 'auth'>, auth: Pick<AuthService, 'isAccessToken'> | undefined): AdminAuth | undefined {
  const token = config.auth.adminToken;
  if (!token) return undefined;
  const expected = digest(token);
  return {
    async check(authorization) {
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
