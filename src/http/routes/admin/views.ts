import { notFound } from '../../../fhir/errors.js';
import { isValidTenantId } from '../../../fhir/ids.js';
import type { StoredView } from '../../../store/ports.js';
import { isViewName, saveView, storedDefinition } from '../../../views/catalog.js';
import { type AdminModule, ANY_OBJECT, ERROR_RESPONSES } from './common.js';

const tags = ['views'];
const VIEW = {
  type: 'object',
  properties: {
    tenant: { type: 'string' },
    name: { type: 'string' },
    url: { type: 'string', nullable: true },
    resource: { type: 'string' },
    updated_at: { type: 'string', format: 'date-time' },
    definition: ANY_OBJECT,
  },
  additionalProperties: true,
} as const;
const params = {
  type: 'object',
  required: ['tenant', 'name'],
  properties: { tenant: { type: 'string', minLength: 1, maxLength: 64 }, name: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

const viewJson = (v: StoredView) => ({
  tenant: v.tenant,
  name: v.name,
  url: v.url,
  resource: v.resource,
  updated_at: new Date(v.updatedAt).toISOString(),
  definition: storedDefinition(v),
});

function checkTenant(tenant: string): void {
  if (!isValidTenantId(tenant)) throw notFound(`Tenant ${tenant} was not found.`);
}

/**
 * SQL on FHIR ViewDefinitions stored per tenant (as `flatfhir view add|list|show|remove`), which `$sql-export`
 * and `$sql-run` name by reference (`ViewDefinition/<name>`) or canonical url:
 *
 * - `GET /admin/tenants/:tenant/views` → `{ views: [...] }`
 * - `PUT /admin/tenants/:tenant/views/:name` with a ViewDefinition → 201 (new) or 200 (replaced); 400 when it
 *   does not compile
 * - `GET /admin/tenants/:tenant/views/:name`, `DELETE /admin/tenants/:tenant/views/:name` (→ 204)
 */
export const viewsAdmin: AdminModule = (app, deps) => {
  const views = deps.store.views;
  const now = deps.now ?? Date.now;

  app.get<{ Params: { tenant: string } }>(
    '/admin/tenants/:tenant/views',
    {
      schema: {
        tags,
        summary: "List a tenant's ViewDefinitions",
        params: { type: 'object', required: ['tenant'], properties: { tenant: { type: 'string', minLength: 1, maxLength: 64 } } },
        response: { 200: { type: 'object', properties: { views: { type: 'array', items: VIEW } } }, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      checkTenant(request.params.tenant);
      return { views: (await views.listViews(request.params.tenant)).map(viewJson) };
    },
  );

  app.put<{ Params: { tenant: string; name: string }; Body: Record<string, unknown> }>(
    '/admin/tenants/:tenant/views/:name',
    { schema: { tags, summary: 'Store a ViewDefinition under a name', params, body: { ...ANY_OBJECT, description: 'a ViewDefinition' }, response: { 200: VIEW, 201: VIEW, ...ERROR_RESPONSES } } },
    async (request, reply) => {
      checkTenant(request.params.tenant);
      const { view, created } = await saveView(views, request.params.tenant, request.body, { name: request.params.name, now: now() });
      return reply.code(created ? 201 : 200).send(viewJson(view));
    },
  );

  app.get<{ Params: { tenant: string; name: string } }>(
    '/admin/tenants/:tenant/views/:name',
    { schema: { tags, summary: 'Read a stored ViewDefinition', params, response: { 200: VIEW, ...ERROR_RESPONSES } } },
    async (request) => {
      const v = isViewName(request.params.name) ? await views.getView(request.params.tenant, request.params.name) : undefined;
      if (!v) throw notFound(`ViewDefinition/${request.params.name} was not found.`);
      return viewJson(v);
    },
  );

  app.delete<{ Params: { tenant: string; name: string } }>(
    '/admin/tenants/:tenant/views/:name',
    { schema: { tags, summary: 'Remove a stored ViewDefinition', params, response: { 204: { type: 'null' }, ...ERROR_RESPONSES } } },
    async (request, reply) => {
      if (!(await views.removeView(request.params.tenant, request.params.name))) throw notFound(`ViewDefinition/${request.params.name} was not found.`);
      return reply.code(204).send();
    },
  );
};
