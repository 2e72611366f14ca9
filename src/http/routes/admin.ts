import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { clientView, RegistrationError, registerClient } from '../../auth/client-registry.js';
import { invalid, notFound, unauthorized } from '../../fhir/errors.js';
import { auditRequest } from '../audit.js';
import type { AppContext } from '../context.js';
import { clientWithActivity, operationsRoutes } from './admin-operations.js';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * The admin API under /admin (clients); off unless an admin token is configured: then none of its routes exists and
 * every /admin URL answers 404. Callers authenticate with `Authorization: Bearer <config.auth.adminToken>`:
 * missing or wrong → 401 (`login`). Errors are OperationOutcomes, as everywhere but the token endpoint.
 *
 * - `GET /admin/clients[?tenant=T]` → `{ clients: [...] }`
 * - `POST /admin/clients` `{ tenant, scope, name?, jwks? | jwks_url? }` → 201 with the client (its `client_id`)
 * - `GET /admin/clients/:id` (with its `activity`), `DELETE /admin/clients/:id` (→ 204)
 * - `POST /admin/clients/:id/disable`, `POST /admin/clients/:id/enable` → the client
 *
 * Disabling or removing a client revokes its tokens at once (this process forgets its cached revocation list).
 * Every change is recorded in the audit trail. Jobs, the audit trail and client activity: admin-operations.ts.
 */
export function adminRoutes(deps: AppContext): FastifyPluginAsync {
  return async (app) => {
    const adminToken = deps.config.auth.adminToken;
    if (!adminToken) return;
    const expected = digest(adminToken);
    const clients = deps.store.clients;

    app.addHook('onRequest', async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const header = request.headers.authorization;
      if (!header) throw unauthorized('The admin API requires "Authorization: Bearer <admin token>".');
      const m = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
      if (!m?.[1] || !timingSafeEqual(digest(m[1]), expected)) throw unauthorized('Invalid admin token.');
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
        auditRequest(deps, request, { action: 'admin.client.register', outcome: 'success', status: 201, tenant: client.tenant, clientId: client.clientId, detail: `scope ${client.scope}` });
        return reply.code(201).header('location', `/admin/clients/${client.clientId}`).send(clientView(client));
      } catch (e) {
        if (e instanceof RegistrationError) throw invalid(e.message);
        throw e;
      }
    });

    app.get<{ Params: { id: string } }>('/admin/clients/:id', async (request) => {
      const client = await clientWithActivity(deps, request.params.id);
      if (!client) throw notFound(`No client ${request.params.id}.`);
      return client;
    });

    app.delete<{ Params: { id: string } }>('/admin/clients/:id', async (request, reply) => {
      const existing = await clients.getClient(request.params.id);
      if (!existing || !(await clients.removeClient(request.params.id))) throw notFound(`No client ${request.params.id}.`);
      deps.auth.tokensRevoked();
      deps.log.info({ clientId: request.params.id }, 'client removed (admin API)');
      auditRequest(deps, request, { action: 'admin.client.remove', outcome: 'success', status: 204, tenant: existing.tenant, clientId: existing.clientId });
      return reply.code(204).send();
    });

    operationsRoutes(app, deps);

    for (const action of ['disable', 'enable'] as const) {
      app.post<{ Params: { id: string } }>(`/admin/clients/:id/${action}`, async (request) => {
        const { id } = request.params;
        if (!(await clients.setClientDisabled(id, action === 'disable'))) throw notFound(`No client ${id}.`);
        if (action === 'disable') deps.auth.tokensRevoked();
        deps.log.info({ clientId: id }, `client ${action}d (admin API)`);
        const client = await clients.getClient(id);
        if (!client) throw notFound(`No client ${id}.`);
        auditRequest(deps, request, { action: `admin.client.${action}`, outcome: 'success', status: 200, tenant: client.tenant, clientId: id });
        return clientView(client);
      });
    }
  };
}
