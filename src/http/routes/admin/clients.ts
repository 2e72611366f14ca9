import { clientView, RegistrationError, registerClient } from '../../../auth/client-registry.js';
import { clientActivity } from '../../../manage/audit.js';
import { invalid, notFound } from '../../../fhir/errors.js';
import { auditRequest } from '../../audit.js';
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

/** What `GET /admin/clients/:id` adds: the client's activity from the audit trail. */
const ACTIVITY = {
  type: 'object',
  description: 'From the audit trail',
  properties: {
    last_token_issued: { type: 'string', format: 'date-time', nullable: true },
    last_export: {
      type: 'object',
      nullable: true,
      properties: { time: { type: 'string', format: 'date-time' }, job_id: { type: 'string', nullable: true }, request: { type: 'string', nullable: true } },
    },
    failed_authentications_last_hour: { type: 'integer', description: 'refused token requests naming the client' },
  },
} as const;

const CLIENT_WITH_ACTIVITY = { ...CLIENT, properties: { ...CLIENT.properties, activity: ACTIVITY } } as const;

const tags = ['clients'];
const params = idParams('client_id');

/**
 * Client applications (the vendor's "code Console"):
 *
 * - `GET /admin/clients[?tenant=T]` → `{ clients: [...] }`
 * - `POST /admin/clients` `{ tenant, scope, name?, jwks? | jwks_url? }` → 201 with the client (its `client_id`)
 * - `GET /admin/clients/:id` (with its `activity`: last token issued, last export, failed authentications in the
 *   last hour), `DELETE /admin/clients/:id` (→ 204)
 * - `POST /admin/clients/:id/disable`, `POST /admin/clients/:id/enable` → the client
 *
 * Disabling or removing a client revokes its tokens at once (the store records it; this process forgets its
 * cached revocation list). Every change is recorded in the audit trail.
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
            scope: { type: 'string', description: 'pre-authorized scopes: read scopes, e.g. "system/*.rs", and "system/Group.cd" for the Bulk Cohort API' },
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
        auditRequest(deps, request, { action: 'admin.client.register', outcome: 'success', status: 201, tenant: client.tenant, clientId: client.clientId, detail: `scope ${client.scope}` });
        return reply.code(201).header('location', `/admin/clients/${client.clientId}`).send(clientView(client));
      } catch (e) {
        if (e instanceof RegistrationError) throw invalid(e.message);
        throw e;
      }
    },
  );

  app.get<{ Params: { id: string } }>(
    '/admin/clients/:id',
    { schema: { tags, summary: 'Show a client application and its activity', params, response: { 200: CLIENT_WITH_ACTIVITY, ...ERROR_RESPONSES } } },
    async (request) => {
      const client = await clients.getClient(request.params.id);
      if (!client) throw notFound(`No client ${request.params.id}.`);
      const activity = deps.audit ? await clientActivity(deps.audit, client.clientId, (deps.now ?? Date.now)()) : undefined;
      return { ...clientView(client), ...(activity ? { activity } : {}) };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/admin/clients/:id',
    { schema: { tags, summary: 'Remove a client application', params, response: { 204: { type: 'null', description: 'Removed' }, ...ERROR_RESPONSES } } },
    async (request, reply) => {
      const existing = await clients.getClient(request.params.id);
      if (!existing || !(await clients.removeClient(request.params.id))) throw notFound(`No client ${request.params.id}.`);
      deps.auth.tokensRevoked();
      deps.log.info({ clientId: request.params.id }, 'client removed (admin API)');
      auditRequest(deps, request, { action: 'admin.client.remove', outcome: 'success', status: 204, tenant: existing.tenant, clientId: existing.clientId });
      return reply.code(204).send();
    },
  );

  for (const action of ['disable', 'enable'] as const) {
    app.post<{ Params: { id: string } }>(
      `/admin/clients/:id/${action}`,
      {
        schema: {
          tags,
          summary:
            action === 'disable'
              ? 'Disable a client: it gets no new tokens and the ones it holds are refused from now on'
              : 'Enable a disabled client (tokens revoked when it was disabled stay revoked)',
          params,
          response: { 200: CLIENT, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        const { id } = request.params;
        if (!(await clients.setClientDisabled(id, action === 'disable'))) throw notFound(`No client ${id}.`);
        if (action === 'disable') deps.auth.tokensRevoked();
        deps.log.info({ clientId: id }, `client ${action}d (admin API)`);
        const client = await clients.getClient(id);
        if (!client) throw notFound(`No client ${id}.`);
        auditRequest(deps, request, { action: `admin.client.${action}`, outcome: 'success', status: 200, tenant: client.tenant, clientId: id });
        return clientView(client);
      },
    );
  }
};
