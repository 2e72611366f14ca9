import swagger from '@fastify/swagger';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { createManagement } from '../../../manage/index.js';
import { adminAuth } from '../../admin-auth.js';
import { auditRequest } from '../../audit.js';
import { consoleSessionCredential } from '../../console-session.js';
import type { AppContext } from '../../context.js';
import { clientsAdmin } from './clients.js';
import { operationsAdmin } from './operations.js';
import { type AdminContext, type AdminModule, OPERATION_OUTCOME_SCHEMA } from './common.js';
import { groupsAdmin } from './groups.js';
import { tenantsAdmin } from './tenants.js';
import { viewsAdmin } from './views.js';

/**
 * The admin modules, each a set of routes under /admin. A new area of the admin API is one more module here: its
 * routes, each with a JSON schema (validation and the OpenAPI description) and a tag.
 */
export const ADMIN_MODULES: AdminModule[] = [tenantsAdmin, groupsAdmin, clientsAdmin, operationsAdmin, viewsAdmin];

/** The audit action of each changing route that leaves the recording to the admin plugin. */
const RECORDED_CHANGES: Record<string, string> = {
  'POST /admin/tenants': 'admin.tenant.create',
  'DELETE /admin/tenants/:id': 'admin.tenant.remove',
  'POST /admin/tenants/:tenant/groups': 'admin.group.create',
  'DELETE /admin/tenants/:tenant/groups/:id': 'admin.group.remove',
  'POST /admin/tenants/:tenant/groups/:id/members': 'admin.group.add-members',
  'POST /admin/tenants/:tenant/groups/:id/members/remove': 'admin.group.remove-members',
  'POST /admin/tenants/:tenant/groups/:id/members/inactive': 'admin.group.set-inactive',
  'PUT /admin/tenants/:tenant/views/:name': 'admin.view.put',
  'DELETE /admin/tenants/:tenant/views/:name': 'admin.view.remove',
};

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

    // Changes whose routes do not record themselves (clients and jobs do), recorded once answered, refused ones too.
    app.addHook('onResponse', async (request, reply) => {
      const action = RECORDED_CHANGES[`${request.method} ${request.routeOptions.url ?? ''}`];
      if (!action) return;
      const params = request.params as Record<string, string | undefined>;
      const tenant = params['tenant'] ?? params['id'] ?? (request.body as { id?: unknown } | undefined)?.id;
      // A created object is named by its Location (as the CLI's records name it: `group <id>`).
      const location = reply.statusCode === 201 ? reply.getHeader('location') : undefined;
      const area = action.split('.')[1];
      const made = typeof location === 'string' && area !== 'tenant' ? decodeURIComponent(location.split('/').pop() ?? '') : '';
      auditRequest(deps, request, {
        action,
        outcome: reply.statusCode < 400 ? 'success' : 'failure',
        status: reply.statusCode,
        tenant: typeof tenant === 'string' ? tenant : null,
        ...(made ? { detail: `${area} ${made}` } : {}),
      });
    });

    for (const mod of ADMIN_MODULES) await mod(app, ctx);

    app.get('/admin/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  };
}

export type { AdminContext, AdminModule } from './common.js';
