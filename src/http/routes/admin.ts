import type { FastifyPluginAsync } from 'fastify';
import { clientView, RegistrationError, registerClient } from '../../auth/client-registry.js';
import { invalid, notFound } from '../../fhir/errors.js';
import { checkAdmin, sessionDeps } from '../console-session.js';
import type { AppContext } from '../context.js';

/**
 * The admin API under /admin (clients); off unless an admin token is configured: then none of its routes exists and
 * every /admin URL answers 404. Callers authenticate with `Authorization: Bearer <config.auth.adminToken>` or a
 * console session (console-session.ts): missing or wrong → 401 (`login`). Errors are OperationOutcomes, as everywhere but the token endpoint.
 *
 * - `GET /admin/clients[?tenant=T]` → `{ clients: [...] }`
 * - `POST /admin/clients` `{ tenant, scope, name?, jwks? | jwks_url? }` → 201 with the client (its `client_id`)
 * - `GET /admin/clients/:id`, `DELETE /admin/clients/:id` (→ 204)
 * - `POST /admin/clients/:id/disable`, `POST /admin/clients/:id/enable` → the client
 */
export function adminRoutes(deps: AppContext): FastifyPluginAsync {
  return async (app) => {
    const adminToken = deps.config.auth.adminToken;
    if (!adminToken) return;
    const session = sessionDeps(deps, adminToken);
    const clients = deps.store.clients;

    app.addHook('onRequest', async (request, reply) => {
      reply.header('cache-control', 'no-store');
      await checkAdmin(session, request);
    });

    app.get<{ Querystring: { tenant?: string } }>('/admin/clients', async (request) => {
      const tenant = typeof request.query.tenant === 'string' && request.query.tenant !== '' ? request.query.tenant : undefined;
      return { clients: (await clients.listClients(tenant)).map(clientView) };
    });

    app.post('/admin/clients', async (request, reply) => {
      const body = request.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw invalid('Send a JSON object: { "tenant", "scope", "name"?, "jwks"? | "jwks_url"? }.');
      }
      const b = body as Record<string, unknown>;
      try {
        const client = await registerClient(clients, { tenant: b['tenant'], scope: b['scope'], name: b['name'], jwks: b['jwks'], jwksUrl: b['jwks_url'] });
        deps.log.info({ clientId: client.clientId, tenant: client.tenant, scope: client.scope }, 'client registered (admin API)');
        return reply.code(201).header('location', `/admin/clients/${client.clientId}`).send(clientView(client));
      } catch (e) {
        if (e instanceof RegistrationError) throw invalid(e.message);
        throw e;
      }
    });

    app.get<{ Params: { id: string } }>('/admin/clients/:id', async (request) => {
      const client = await clients.getClient(request.params.id);
      if (!client) throw notFound(`No client ${request.params.id}.`);
      return clientView(client);
    });

    app.delete<{ Params: { id: string } }>('/admin/clients/:id', async (request, reply) => {
      if (!(await clients.removeClient(request.params.id))) throw notFound(`No client ${request.params.id}.`);
      deps.log.info({ clientId: request.params.id }, 'client removed (admin API)');
      return reply.code(204).send();
    });

    for (const action of ['disable', 'enable'] as const) {
      app.post<{ Params: { id: string } }>(`/admin/clients/:id/${action}`, async (request) => {
        const { id } = request.params;
        if (!(await clients.setClientDisabled(id, action === 'disable'))) throw notFound(`No client ${id}.`);
        deps.log.info({ clientId: id }, `client ${action}d (admin API)`);
        const client = await clients.getClient(id);
        if (!client) throw notFound(`No client ${id}.`);
        return clientView(client);
      });
    }
  };
}
