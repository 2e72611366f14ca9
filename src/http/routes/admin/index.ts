import swagger from '@fastify/swagger';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { createManagement } from '../../../manage/index.js';
import { adminAuth } from '../../admin-auth.js';
import { consoleSessionCredential } from '../../console-session.js';
import type { AppContext } from '../../context.js';
import { clientsAdmin } from './clients.js';
import { operationsAdmin } from './operations.js';
import { type AdminContext, type AdminModule, OPERATION_OUTCOME_SCHEMA } from './common.js';
import { tenantsAdmin } from './tenants.js';
import { viewsAdmin } from './views.js';

/**
 * The admin modules, each a set of routes under /admin. A new area of the admin API is one more module here: its
 * routes, each with a JSON schema (validation and the OpenAPI description) and a tag.
 */
export const ADMIN_MODULES: AdminModule[] = [tenantsAdmin, clientsAdmin, operationsAdmin, viewsAdmin];

/**
 * The admin API under /admin; off unless an admin token is configured (then no /admin route exists and every
 * /admin URL answers 404). Every route, `/admin/openapi.json` included, needs the admin credential (see
 * `admin-auth.ts`; the console's session, see `console-session.ts`, counts as the credential): missing or wrong → 401, a client's access token → 403. JSON in and out; every route has a
 * JSON schema (a body or query that does not match it → 400), errors are OperationOutcomes. The OpenAPI 3
 * description is generated from the same schemas.
 */
export function adminRoutes(deps: AppContext): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const check = adminAuth(deps.config, deps.auth, { alternative: consoleSessionCredential(deps) });
    if (!check) return;
    const ctx: AdminContext = { ...deps, manage: createManagement(deps) };

    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'flatfhir admin API',
          version: '1',
          description: 'Management of tenants, groups, client applications, export jobs and the audit trail. Every route needs the admin token as a bearer token.',
        },
        components: { securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'FLATFHIR_ADMIN_TOKEN' } } },
        security: [{ adminToken: [] }],
      },
    });
    app.addSchema(OPERATION_OUTCOME_SCHEMA);

    app.addHook('onRequest', async (request, reply) => {
      reply.header('cache-control', 'no-store');
      await check.check(request.headers.authorization, request);
    });

    for (const mod of ADMIN_MODULES) await mod(app, ctx);

    app.get('/admin/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  };
}

export type { AdminContext, AdminModule } from './common.js';
