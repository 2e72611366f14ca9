import { type AdminModule, ERROR_RESPONSES, idParams } from './common.js';

const COUNTS = {
  type: 'object',
  properties: {
    resources: { type: 'object', additionalProperties: { type: 'integer' }, description: 'live resources per type' },
    groups: { type: 'integer' },
    clients: { type: 'integer' },
    jobs: { type: 'integer' },
  },
} as const;

export const TENANT = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    created_at: { type: 'string', format: 'date-time', nullable: true, description: 'null for a tenant made by an import' },
    counts: COUNTS,
  },
} as const;

const tags = ['tenants'];
const params = idParams('tenant id');
const CONFLICT = { $ref: 'OperationOutcome#', description: 'Exists already, or removal not confirmed' };

/**
 * Tenants: `GET /admin/tenants`, `POST /admin/tenants` `{ id, name? }` (201), `GET /admin/tenants/:id` (with counts),
 * `DELETE /admin/tenants/:id?force=true` (removes its data, clients, jobs and files).
 */
export const tenantsAdmin: AdminModule = (app, { manage }) => {
  app.get(
    '/admin/tenants',
    { schema: { tags, summary: 'List tenants', response: { 200: { type: 'object', properties: { tenants: { type: 'array', items: TENANT } } }, ...ERROR_RESPONSES } } },
    async () => ({ tenants: await manage.tenants.list() }),
  );

  app.post<{ Body: { id: string; name?: string } }>(
    '/admin/tenants',
    {
      schema: {
        tags,
        summary: 'Create a tenant',
        body: {
          type: 'object',
          required: ['id'],
          additionalProperties: false,
          properties: {
            id: { type: 'string', description: '1 to 64 letters, digits, "-" and "." (the FHIR base is /r4/<id>)' },
            name: { type: 'string', maxLength: 200 },
          },
        },
        response: { 201: TENANT, ...ERROR_RESPONSES, 409: CONFLICT },
      },
    },
    async (request, reply) => {
      const tenant = await manage.tenants.create(request.body);
      return reply.code(201).header('location', `/admin/tenants/${tenant.id}`).send(tenant);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/admin/tenants/:id',
    { schema: { tags, summary: 'Show a tenant with its counts', params, response: { 200: TENANT, ...ERROR_RESPONSES } } },
    async (request) => manage.tenants.show(request.params.id),
  );

  app.delete<{ Params: { id: string }; Querystring: { force?: boolean } }>(
    '/admin/tenants/:id',
    {
      schema: {
        tags,
        summary: 'Remove a tenant with all its data, clients, jobs and files',
        params,
        querystring: { type: 'object', properties: { force: { type: 'boolean', description: 'must be true' } } },
        response: {
          200: {
            type: 'object',
            properties: { id: { type: 'string' }, removed: { type: 'boolean' }, resources: { type: 'integer' }, clients: { type: 'integer' }, jobs: { type: 'integer' } },
          },
          ...ERROR_RESPONSES,
          409: CONFLICT,
        },
      },
    },
    async (request) => manage.tenants.remove(request.params.id, { force: request.query.force === true }),
  );
};
