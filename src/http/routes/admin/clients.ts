import { clientView, RegistrationError, registerClient } from '../../../auth/client-registry.js';
import { invalid, notFound } from '../../../fhir/errors.js';
import { type AdminModule, ANY_OBJECT, ERROR_RESPONSES, idParams } from './common.js';

const CLIENT = {
  type: 'object',
  properties: {
    client_id: { type: 'string' },
    tenant: { type: 'string' },
    name: { type: 'string' },
    scope: { type: 'string' },
    jwks_url: { type: 'string', nullable: true },
    jwks: { type: 'object', nullable: true, additionalProperties: true },
    disabled: { type: 'boolean' },
    created_at: { type: 'string', format: 'date-time' },
  },
  additionalProperties: true,
} as const;

const tags = ['clients'];
const params = idParams('client_id');

/**
 * Client applications (the vendor's "code Console"):
 *
 * - `GET /admin/clients[?tenant=T]` → `{ clients: [...] }`
 * - `POST /admin/clients` `{ tenant, scope, name?, jwks? | jwks_url? }` → 201 with the client (its `client_id`)
 * - `GET /admin/clients/:id`, `DELETE /admin/clients/:id` (→ 204)
 * - `POST /admin/clients/:id/disable`, `POST /admin/clients/:id/enable` → the client
 */
export const clientsAdmin: AdminModule = (app, deps) => {
  const clients = deps.store.clients;

  app.get<{ Querystring: { tenant?: string } }>(
    '/admin/clients',
    {
      schema: {
        tags,
        summary: 'List client applications',
        querystring: { type: 'object', properties: { tenant: { type: 'string', description: 'only this tenant' } } },
        response: { 200: { type: 'object', properties: { clients: { type: 'array', items: CLIENT } } }, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = request.query.tenant !== undefined && request.query.tenant !== '' ? request.query.tenant : undefined;
      return { clients: (await clients.listClients(tenant)).map(clientView) };
    },
  );

  app.post<{ Body: Record<string, unknown> }>(
    '/admin/clients',
    {
      schema: {
        tags,
        summary: 'Register a client application',
        body: {
          ...ANY_OBJECT,
          description: '{ tenant, scope, name?, jwks? | jwks_url? }',
          properties: {
            tenant: { type: 'string' },
            scope: { type: 'string', description: 'pre-authorized read scopes, e.g. "system/*.rs"' },
            name: { type: 'string' },
            jwks: { type: 'object', additionalProperties: true },
            jwks_url: { type: 'string' },
          },
        },
        response: { 201: CLIENT, ...ERROR_RESPONSES },
      },
      // Registration input is validated by the registry, which words each refusal.
      attachValidation: true,
    },
    async (request, reply) => {
      const body = request.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw invalid('Send a JSON object: { "tenant", "scope", "name"?, "jwks"? | "jwks_url"? }.');
      }
      try {
        const client = await registerClient(clients, { tenant: body['tenant'], scope: body['scope'], name: body['name'], jwks: body['jwks'], jwksUrl: body['jwks_url'] });
        deps.log.info({ clientId: client.clientId, tenant: client.tenant, scope: client.scope }, 'client registered (admin API)');
        return reply.code(201).header('location', `/admin/clients/${client.clientId}`).send(clientView(client));
      } catch (e) {
        if (e instanceof RegistrationError) throw invalid(e.message);
        throw e;
      }
    },
  );

  app.get<{ Params: { id: string } }>(
    '/admin/clients/:id',
    { schema: { tags, summary: 'Show a client application', params, response: { 200: CLIENT, ...ERROR_RESPONSES } } },
    async (request) => {
      const client = await clients.getClient(request.params.id);
      if (!client) throw notFound(`No client ${request.params.id}.`);
      return clientView(client);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/admin/clients/:id',
    { schema: { tags, summary: 'Remove a client application', params, response: { 204: { type: 'null', description: 'Removed' }, ...ERROR_RESPONSES } } },
    async (request, reply) => {
      if (!(await clients.removeClient(request.params.id))) throw notFound(`No client ${request.params.id}.`);
      deps.log.info({ clientId: request.params.id }, 'client removed (admin API)');
      return reply.code(204).send();
    },
  );

  for (const action of ['disable', 'enable'] as const) {
    app.post<{ Params: { id: string } }>(
      `/admin/clients/:id/${action}`,
      {
        schema: {
          tags,
          summary: action === 'disable' ? 'Disable a client: it gets no new tokens' : 'Enable a disabled client',
          params,
          response: { 200: CLIENT, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        const { id } = request.params;
        if (!(await clients.setClientDisabled(id, action === 'disable'))) throw notFound(`No client ${id}.`);
        deps.log.info({ clientId: id }, `client ${action}d (admin API)`);
        const client = await clients.getClient(id);
        if (!client) throw notFound(`No client ${id}.`);
        return clientView(client);
      },
    );
  }
};
