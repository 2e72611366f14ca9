import type { FastifyError, FastifyPluginAsync, FastifyReply } from 'fastify';
import { OAuthError, invalidRequest } from '../../auth/oauth-error.js';
import { decodeJwt } from 'jose';
import { claimedClient, TOKEN_PATH } from '../../auth/service.js';
import { FhirError } from '../../fhir/errors.js';
import { auditRequest, failureOf } from '../audit.js';
import { type AppContext } from '../context.js';

const FORM = 'application/x-www-form-urlencoded';
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

function sendOAuthError(reply: FastifyReply, e: OAuthError): FastifyReply {
  return reply
    .code(e.status)
    .headers({ ...e.headers, ...NO_STORE })
    .type('application/json')
    .send(e.toJSON());
}

/** Parses an `application/x-www-form-urlencoded` body into repeated-parameter lists. */
function parseForm(contentType: string | undefined, body: unknown): Record<string, string[]> {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== FORM) throw invalidRequest(`The token request must be a POST with Content-Type ${FORM}.`);
  // No prototype: a field named `toString` or `__proto__` is a field like any other.
  const out = Object.create(null) as Record<string, string[]>;
  for (const [k, v] of new URLSearchParams(typeof body === 'string' ? body : '')) (out[k] ??= []).push(v);
  return out;
}

/**
 * Token endpoint and SMART discovery.
 *
 * - `GET /r4/:tenant/.well-known/smart-configuration`: no auth, always `application/json`; unknown tenant → 403
 *   OperationOutcome (as `/metadata` does).
 * - `POST /tenants/:tenant/protocols/oauth2/profiles/smart-v1/token` (the vendor's path): every answer, errors
 *   included, is RFC 6749 JSON with `Cache-Control: no-store` and `Pragma: no-cache`; rate limiting (failed
 *   requests per client and per address, successful ones per client) answers `429 {"error":"slow_down"}` with
 *   `Retry-After`. The body is read raw in this scope (whatever parsers the app
 *   has), so that a JSON body is `invalid_request` rather than an OperationOutcome.
 */
export function authRoutes(deps: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { tenant: string } }>('/r4/:tenant/.well-known/smart-configuration', async (request, reply) => {
      const origin = deps.origin();
      const body = await deps.auth.smartConfiguration(origin, request.params.tenant);
      return reply.type('application/json').send(body);
    });

    await app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) => done(null, body));
      scope.setErrorHandler((error: FastifyError | Error, request, reply) => {
        if (error instanceof OAuthError) return sendOAuthError(reply, error);
        // What the app refuses before the route (an over-long head) keeps its status, in RFC 6749 form.
        if (error instanceof FhirError && error.status < 500) return sendOAuthError(reply, new OAuthError('invalid_request', error.message, { status: error.status }));
        const status = (error as FastifyError).statusCode;
        if (typeof status === 'number' && status >= 400 && status < 500) {
          const tooLarge = (error as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE';
          return sendOAuthError(reply, invalidRequest(tooLarge ? 'The token request body is too large.' : 'Malformed token request.'));
        }
        request.log.error({ err: error }, 'token endpoint failed');
        return sendOAuthError(reply, new OAuthError('server_error', 'An internal error occurred.'));
      });

      scope.post<{ Params: { tenant: string } }>(TOKEN_PATH, async (request, reply) => {
        const tenant = request.params.tenant;
        // Recorded: the client, the grant and scope asked, the outcome; never the assertion nor the token.
        const path = request.url.split('?')[0] ?? '';
        let params: Record<string, string[]> = {};
        let token: Awaited<ReturnType<typeof deps.auth.issueToken>>;
        try {
          params = parseForm(request.headers['content-type'], request.body);
          token = await deps.auth.issueToken({ tenant, origin: deps.origin(), params, address: request.ip });
        } catch (e) {
          const asked = params['scope']?.[0];
          auditRequest(deps, request, {
            action: 'token',
            outcome: 'failure',
            ...failureOf(e),
            tenant,
            clientId: claimedClient(params) ?? null,
            request: `POST ${path}${asked !== undefined ? ` scope=${asked}` : ''}`,
          });
          throw e;
        }
        const sub = decodeJwt(token.access_token).sub;
        auditRequest(deps, request, { action: 'token', outcome: 'success', status: 200, tenant, clientId: sub ?? null, request: `POST ${path}`, detail: `scope ${token.scope}` });
        return reply.headers(NO_STORE).type('application/json').send(token);
      });

      scope.route({
        method: ['GET', 'PUT', 'PATCH', 'DELETE'],
        url: TOKEN_PATH,
        handler: async (_request, reply) => {
          reply.header('allow', 'POST');
          return sendOAuthError(reply, new OAuthError('invalid_request', 'The token endpoint accepts POST only.', { status: 405 }));
        },
      });
    });
  };
}
